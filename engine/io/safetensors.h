// Reading and writing safetensors files — the checkpoint format of the Hugging Face ecosystem — so that a
// StateDict saved here loads in PyTorch (safetensors.torch.load_file) and the other way round.
//
// A file is three parts:
//   8 bytes    N, the header's length, a little-endian u64
//   N bytes    the header: UTF-8 JSON {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, …,
//              "__metadata__": {"key": "value", …}}   (the "__metadata__" entry is optional)
//   the rest   the data buffer: every tensor's elements, row-major, little-endian; data_offsets are byte
//              offsets [begin, end) into this buffer.
//
// Layout and validation follow the reference implementation (huggingface/safetensors,
// safetensors/src/tensor.rs, which the Python package calls into), so files are byte-identical to the
// ones Python writes (engine/io/safetensors.cpp states each rule and where it comes from).
//
// Dtypes: F64, F32, F16, BF16, I64, I32, U8 and BOOL map to DType f64, f32, f16, bf16, i64, i32, u8 and
// boolean. The format's other dtypes (I8, I16, U16, U32, U64, the F8 variants, …) are refused when read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/state_dict.h"
#include "engine/tensor.h"

namespace vireo::io {

using SafetensorsMetadata = std::map<std::string, std::string>;

namespace detail {
struct SafetensorsBytes;  // a file's bytes: a read-only memory mapping, or an owned buffer
}

struct SafetensorsFile {
  StateDict tensors;
  SafetensorsMetadata metadata;
};

// Writes `tensors` (any dtype, any device, any strides: each is written contiguous) and `metadata` to
// `path` atomically: the bytes go to a temporary file in the same directory, which is flushed to disk and
// then renamed over `path`. Readers see the old file or the new one, never a torn one; on failure the old
// file is untouched and the temporary file is removed. Empty metadata writes no "__metadata__" entry
// (as Python's save_file(…, metadata=None)).
void save_safetensors(const std::string& path, const StateDict& tensors, const SafetensorsMetadata& metadata = {});

// Reads every tensor and the metadata of a file (through SafetensorsReader).
SafetensorsFile load_safetensors(const std::string& path);

// The same two, in memory: the exact bytes save_safetensors writes, and a reader of such bytes.
std::vector<uint8_t> serialize_safetensors(const StateDict& tensors, const SafetensorsMetadata& metadata = {});
SafetensorsFile deserialize_safetensors(std::vector<uint8_t> bytes);

// The format's name for a dtype ("F32", "BF16", "BOOL", …).
std::string_view safetensors_dtype_name(DType dtype);

// A validated view of one safetensors file, memory-mapped: opening it reads and checks only the header, and
// load(name) copies one tensor out of the mapping, so a single tensor of a large checkpoint costs only its
// own bytes. Every fault in a file is refused at construction with a vireo::Error naming the path and the
// fault. Copies of a reader share the mapping, which shows the file as it was when opened: an atomic save
// over it (a rename) leaves the mapping intact, but truncating the file in place while it is mapped would
// make reads fault (SIGBUS), as with any memory-mapped file.
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);
  // Reads bytes already in memory; `label` stands for the path in error messages.
  static SafetensorsReader from_bytes(std::vector<uint8_t> bytes, const std::string& label = "<bytes>");

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  DType dtype(const std::string& name) const;
  const Shape& shape(const std::string& name) const;
  const SafetensorsMetadata& metadata() const { return metadata_; }

  Tensor load(const std::string& name) const;  // a fresh contiguous CPU tensor
  StateDict load_all() const;

 private:
  struct Entry {
    DType dtype;
    Shape shape;
    uint64_t begin;  // byte offsets into the data buffer
    uint64_t end;
  };

  SafetensorsReader(std::shared_ptr<const detail::SafetensorsBytes> bytes, std::string path);
  void parse_header();
  const Entry& entry(const std::string& name) const;

  std::shared_ptr<const detail::SafetensorsBytes> bytes_;
  std::string path_;
  uint64_t data_start_ = 0;  // 8 + N
  std::map<std::string, Entry> entries_;
  SafetensorsMetadata metadata_;
};

}  // namespace vireo::io
