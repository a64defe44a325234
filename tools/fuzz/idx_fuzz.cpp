// Fuzz target: IDX files, gzipped or plain (training/data/idx.h).
//
// What it feeds: the input is a whole file, written to a scratch file and read with read_idx. The number of
// dimensions asked for is the one the file's fourth byte claims when that is 1 to 4 (so that the header
// is read past its magic number), else 3, as for images.
//
// What counts as a bug: any crash, sanitizer report, timeout or out-of-memory (a header must not make the
// reader allocate more than the file can hold); an exception that is not vireo::Error (a truncated or
// corrupt file must be refused with one); and an accepted file whose array disagrees with its header (a
// dimension count other than the one asked for, or a value count other than the product of the sizes).
//
// zlib is Debian's uninstrumented build: coverage guides the fuzzer through read_idx, not through inflate.
//
// Seeds (tools/fuzz/corpus/idx, written by tools/fuzz/make_corpus.py): label and image files, plain and
// gzipped, a gzip file made of two members, and the inputs of past findings (finding_*.bin).
#include "engine/error.h"
#include "fuzz_support.h"
#include "training/data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vireo::fuzz::ScratchFile file("idx");
  const std::string& path = file.write(data, size);
  const int64_t claimed = size >= 4 ? data[3] : 0;
  const int64_t dims = claimed >= 1 && claimed <= 4 ? claimed : 3;
  try {
    const vireo::data::IdxArray array = vireo::data::read_idx(path, dims);
    vireo::fuzz::expect(static_cast<int64_t>(array.dims.size()) == dims, "an accepted file has the dimensions asked for");
    uint64_t count = 1;
    for (int64_t extent : array.dims) count *= static_cast<uint64_t>(extent);
    vireo::fuzz::expect(array.values.size() == count, "an accepted file holds the product of its sizes in values");
  } catch (const vireo::Error&) {
    // A refusal: what a damaged file must get.
  }
  return 0;
}
