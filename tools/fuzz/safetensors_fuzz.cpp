// Fuzz target: safetensors files from arbitrary bytes (engine/io/safetensors.h).
//
// What it feeds: the input is a whole file — 8-byte header length, JSON header, data buffer — handed to
// SafetensorsReader::from_bytes. When the reader accepts it, every tensor is loaded, and what was read is
// written back with serialize_safetensors and read again.
//
// What counts as a bug: any crash, sanitizer report or timeout; an exception that is not vireo::Error (a
// corrupt file must be refused with one); and a violated property of an accepted file — a loaded tensor
// whose dtype or shape differs from the header's, or a round trip that changes a name, a shape, a dtype,
// a byte of data or the metadata.
//
// Seeds (tools/fuzz/corpus/safetensors, written by tools/fuzz/make_corpus.py): files of every supported
// dtype, with and without metadata, a scalar, an empty tensor, an empty header, and the inputs of past
// findings (finding_*.bin).
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "fuzz_support.h"

using vireo::fuzz::expect;

namespace {

bool same_bytes(const vireo::Tensor& a, const vireo::Tensor& b) {
  const size_t bytes = static_cast<size_t>(a.numel()) * vireo::element_size(a.dtype());
  return bytes == 0 || std::memcmp(a.raw_data(), b.raw_data(), bytes) == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto reader = vireo::io::SafetensorsReader::from_bytes(std::vector<uint8_t>(data, data + size), "<fuzz input>");
    vireo::StateDict loaded;
    for (const std::string& name : reader.names()) {
      vireo::Tensor tensor = reader.load(name);
      expect(tensor.dtype() == reader.dtype(name), "a loaded tensor has the dtype its header entry names");
      expect(tensor.shape() == reader.shape(name), "a loaded tensor has the shape its header entry names");
      expect(tensor.is_contiguous(), "a loaded tensor is contiguous");
      loaded.emplace(name, std::move(tensor));
    }

    const vireo::io::SafetensorsFile again =
        vireo::io::deserialize_safetensors(vireo::io::serialize_safetensors(loaded, reader.metadata()));
    expect(again.metadata == reader.metadata(), "the metadata survives a round trip");
    expect(again.tensors.size() == loaded.size(), "every tensor survives a round trip");
    for (const auto& [name, tensor] : loaded) {
      const auto found = again.tensors.find(name);
      expect(found != again.tensors.end(), "a tensor keeps its name through a round trip");
      expect(found->second.dtype() == tensor.dtype() && found->second.shape() == tensor.shape(),
             "a tensor keeps its dtype and shape through a round trip");
      expect(same_bytes(found->second, tensor), "a tensor keeps its bytes through a round trip");
    }
  } catch (const vireo::Error&) {
    // A refusal: what a corrupt file must get.
  }
  return 0;
}
