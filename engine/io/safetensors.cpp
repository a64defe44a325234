// Safetensors reading and writing (the format is drawn in engine/io/safetensors.h).
//
// The rules below are the reference implementation's: huggingface/safetensors, safetensors/src/tensor.rs
// (`prepare` writes, `SafeTensors::read_metadata` and `Metadata::validate` read; the Python package's
// save_file and load_file call these through its Rust binding).
//
// Writing
//  - Tensors are laid out in the data buffer sorted by dtype, descending, then by name, ascending (bytewise).
//    The dtype order is the declaration order of the reference's `Dtype` enum, documented there as
//    "increasing alignment order":  BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64,
//    I64, U64.  For our dtypes the layout order is therefore  I64, F64, F32, I32, BF16, F16, U8, BOOL: the
//    enum position decides, not the element size (I64 precedes F64 and BF16 precedes F16 although their
//    sizes tie). Every tensor hence starts at a multiple of its element size.
//  - The header is compact JSON (serde_json::to_string): "__metadata__" first when there is metadata, then
//    the tensors in layout order, each {"dtype":…,"shape":[…],"data_offsets":[begin,end]}, fields in that order.
//  - The header is padded with spaces (0x20) to a multiple of 8 bytes, N counting the padding, so the data
//    buffer starts 8-byte aligned.
//
// Reading — the faults the reference refuses, each of which gets its own message here:
//  - fewer than 8 bytes (HeaderTooSmall); N > 100'000'000 (HeaderTooLarge); 8 + N past the end of the file
//    (InvalidHeaderLength); a header that is not UTF-8 (InvalidHeader);
//  - a header that is not JSON of the expected form (InvalidHeaderDeserialization): a top-level object whose
//    entries are objects with "dtype" (a known dtype name), "shape" (non-negative integers) and
//    "data_offsets" (exactly two non-negative integers); "__metadata__" a map from strings to strings, or
//    null, meaning none. Unknown fields inside an entry are ignored, as serde does;
//  - the entries, sorted by data_offsets, must tile the data buffer: each begins where the previous one ends
//    (the first at 0) and ends no earlier than it begins (InvalidOffset: a hole or an overlap);
//  - end − begin = numel × element size (TensorInvalidInfo; ValidationOverflow when that product overflows);
//  - the last tensor must end exactly at the end of the file (MetadataIncompleteBuffer: truncated file, or
//    bytes that belong to no tensor).
// One addition: a JSON key that appears twice in one object (serde and nlohmann both silently keep one of
// the two) is refused, since two tensors of one name mean a corrupt or ambiguous file.
#include "engine/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/autograd.h"

namespace vireo::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian bytes, which this code copies as they are");

namespace detail {
struct SafetensorsBytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  void* mapping = nullptr;     // from mmap; unmapped with the last reader that shares it
  std::vector<uint8_t> owned;  // from SafetensorsReader::from_bytes

  SafetensorsBytes() = default;
  SafetensorsBytes(const SafetensorsBytes&) = delete;
  SafetensorsBytes& operator=(const SafetensorsBytes&) = delete;
  ~SafetensorsBytes() {
    if (mapping) ::munmap(mapping, size);
  }
};
}  // namespace detail

namespace {

using Json = nlohmann::json;
using detail::SafetensorsBytes;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE
constexpr const char* kMetadataKey = "__metadata__";

struct FormatDType {
  DType dtype;
  const char* name;
  int enum_position;  // in the reference's Dtype enum: the layout order
};
constexpr FormatDType kFormatDTypes[] = {
    {DType::boolean, "BOOL", 0}, {DType::u8, "U8", 1},    {DType::f16, "F16", 7},  {DType::bf16, "BF16", 8},
    {DType::i32, "I32", 9},      {DType::f32, "F32", 11}, {DType::f64, "F64", 12}, {DType::i64, "I64", 13}};
// Dtypes the format defines (in its current and earlier versions) that Vireo has no type for.
constexpr const char* kUnsupportedFormatDTypes[] = {"I8",      "I16",     "U16",     "U32", "U64",     "F8_E5M2",
                                                    "F8_E4M3", "F8_E8M0", "F6_E2M3", "F4",  "F6_E3M2", "C64"};

const FormatDType& format_dtype(DType dtype) {
  for (const FormatDType& entry : kFormatDTypes)
    if (entry.dtype == dtype) return entry;
  fail("safetensors: no format name for dtype ", dtype);
}

// Where the first byte that breaks UTF-8 is (npos when none): overlong encodings, surrogates and code points
// past U+10FFFF are refused, as Rust's str::from_utf8 refuses them.
size_t invalid_utf8_at(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    uint32_t code, smallest;
    if ((lead & 0xE0) == 0xC0) length = 2, code = lead & 0x1F, smallest = 0x80;
    else if ((lead & 0xF0) == 0xE0) length = 3, code = lead & 0x0F, smallest = 0x800;
    else if ((lead & 0xF8) == 0xF0) length = 4, code = lead & 0x07, smallest = 0x10000;
    else return i;
    if (i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return i;
      code = (code << 6) | (next & 0x3F);
    }
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

// Parses the header, refusing a key repeated within one object: nlohmann (like serde) would keep only one
// of the two silently. The parser callback sees every key as it is read; a set per open object finds repeats.
Json parse_json(std::string_view text, const std::string& where) {
  std::vector<std::set<std::string>> open_objects;
  auto watch_keys = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) {
        if (open_objects.size() == 1 && key == kMetadataKey) fail(where, "\"", key, "\" appears twice in the header");
        if (open_objects.size() == 1) fail(where, "duplicate tensor name \"", key, "\" in the header");
        fail(where, "duplicate key \"", key, "\" inside one entry of the header");
      }
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), watch_keys);
  } catch (const Json::exception& error) {
    fail(where, "the header is not valid JSON (", error.what(), ")");
  }
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i) value = (value << 8) | p[i];
  return value;
}

// ---- writing ----

// What the writer decided before touching the file system: the padded header and the tensors in layout order.
struct Plan {
  std::string header;
  std::vector<const StateDict::value_type*> order;
};

Plan plan_file(const StateDict& tensors, const SafetensorsMetadata& metadata, const std::string& where) {
  Plan plan;
  for (const auto& item : tensors) {
    const auto& [name, tensor] = item;
    VIREO_CHECK(name != kMetadataKey, where, "\"", kMetadataKey, "\" is reserved for the metadata, not a tensor name");
    VIREO_CHECK(invalid_utf8_at(name) == std::string_view::npos, where, "tensor name \"", name,
                "\" is not valid UTF-8");
    VIREO_CHECK(tensor.defined(), where, "tensor \"", name, "\" is undefined");
    plan.order.push_back(&item);
  }
  for (const auto& [key, value] : metadata)
    VIREO_CHECK(invalid_utf8_at(key) == std::string_view::npos && invalid_utf8_at(value) == std::string_view::npos,
                where, "metadata entry \"", key, "\" is not valid UTF-8");

  // Descending dtype (the reference's enum position), then ascending name. The map is sorted by name
  // already, so a stable sort on the dtype alone gives both.
  std::stable_sort(plan.order.begin(), plan.order.end(), [](const auto* a, const auto* b) {
    return format_dtype(a->second.dtype()).enum_position > format_dtype(b->second.dtype()).enum_position;
  });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (const auto* item : plan.order) {
    const Tensor& tensor = item->second;
    const uint64_t bytes = static_cast<uint64_t>(tensor.numel()) * element_size(tensor.dtype());
    header[item->first] = {{"dtype", format_dtype(tensor.dtype()).name},
                           {"shape", static_cast<const std::vector<int64_t>&>(tensor.shape())},
                           {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  plan.header = header.dump();
  plan.header.resize((plan.header.size() + 7) / 8 * 8, ' ');
  return plan;
}

// Hands the file's bytes, in order, to `sink(pointer, count)`.
template <class Sink>
void emit(const Plan& plan, Sink&& sink) {
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(plan.header.size()) >> (8 * i));
  sink(length, sizeof length);
  sink(plan.header.data(), plan.header.size());
  NoGrad no_grad;
  for (const auto* item : plan.order) {
    // One tensor at a time, so a large checkpoint is never held twice in memory.
    const Tensor data = item->second.detach().to(Device::cpu()).contiguous();
    const size_t bytes = static_cast<size_t>(data.numel()) * element_size(data.dtype());
    if (bytes > 0) sink(data.raw_data(), bytes);
  }
}

std::string errno_text() { return std::strerror(errno); }

// A file written beside its destination and renamed over it by commit(); destroyed before that, it
// removes itself, leaving the destination as it was. rename(2) within one directory replaces the name
// atomically; the fsync before it makes sure the name never points at data still in flight, and the fsync
// of the directory after it makes the rename itself durable.
class AtomicFile {
 public:
  AtomicFile(const std::string& target, std::string where) : target_(target), where_(std::move(where)) {
    const std::filesystem::path path(target);
    directory_ = path.has_parent_path() ? path.parent_path().string() : ".";
    // A hidden name unique to this process and call; O_EXCL never reuses a file someone else made.
    static std::atomic<uint64_t> counter{0};
    for (int attempt = 0; fd_ < 0; ++attempt) {
      std::string name = ".";
      name += path.filename().string();
      name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
      temp_ = (std::filesystem::path(directory_) / name).string();
      fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt > 100))
        fail(where_, "cannot create a temporary file in ", directory_, ": ", errno_text());
    }
  }

  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_.c_str());
  }

  void write(const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t written = ::write(fd_, p, std::min<size_t>(bytes, size_t{1} << 30));
      if (written < 0) {
        if (errno == EINTR) continue;
        fail(where_, "cannot write ", temp_, ": ", errno_text());
      }
      p += written;
      bytes -= static_cast<size_t>(written);
    }
  }

  void commit() {
    if (::fsync(fd_) != 0) fail(where_, "cannot flush ", temp_, " to disk: ", errno_text());
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(where_, "cannot close ", temp_, ": ", errno_text());
    if (::rename(temp_.c_str(), target_.c_str()) != 0)
      fail(where_, "cannot rename ", temp_, " over the destination: ", errno_text());
    committed_ = true;
    const int directory = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool synced = directory >= 0 && ::fsync(directory) == 0;
    const std::string reason = synced ? "" : errno_text();
    if (directory >= 0) ::close(directory);
    if (!synced) fail(where_, "the file is written, but its directory ", directory_, " could not be synced: ", reason);
  }

 private:
  std::string target_, where_, directory_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

std::string_view safetensors_dtype_name(DType dtype) { return format_dtype(dtype).name; }

std::vector<uint8_t> serialize_safetensors(const StateDict& tensors, const SafetensorsMetadata& metadata) {
  const Plan plan = plan_file(tensors, metadata, "serialize_safetensors: ");
  std::vector<uint8_t> bytes;
  emit(plan, [&](const void* data, size_t count) {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes.insert(bytes.end(), p, p + count);
  });
  return bytes;
}

void save_safetensors(const std::string& path, const StateDict& tensors, const SafetensorsMetadata& metadata) {
  const std::string where = "save_safetensors: " + path + ": ";
  const Plan plan = plan_file(tensors, metadata, where);  // every refusal happens before the file system is touched
  AtomicFile file(path, where);
  emit(plan, [&](const void* data, size_t count) { file.write(data, count); });
  file.commit();
}

SafetensorsFile load_safetensors(const std::string& path) {
  const SafetensorsReader reader(path);
  return {reader.load_all(), reader.metadata()};
}

SafetensorsFile deserialize_safetensors(std::vector<uint8_t> bytes) {
  const SafetensorsReader reader = SafetensorsReader::from_bytes(std::move(bytes));
  return {reader.load_all(), reader.metadata()};
}

// ---- reading ----

namespace {

std::shared_ptr<const SafetensorsBytes> map_file(const std::string& path) {
  const std::string where = "SafetensorsReader: " + path + ": ";
  auto bytes = std::make_shared<SafetensorsBytes>();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(where, "cannot open: ", errno_text());
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string reason = errno_text();
    ::close(fd);
    fail(where, "cannot stat: ", reason);
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(where, S_ISDIR(info.st_mode) ? "is a directory, not a file" : "is not a regular file");
  }
  bytes->size = static_cast<size_t>(info.st_size);
  if (bytes->size > 0) {  // mmap refuses length 0; an empty file is refused below as too short
    void* mapping = ::mmap(nullptr, bytes->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      const std::string reason = errno_text();
      ::close(fd);
      fail(where, "cannot map: ", reason);
    }
    bytes->mapping = mapping;
    bytes->data = static_cast<const uint8_t*>(mapping);
  }
  ::close(fd);  // the mapping outlives the descriptor
  return bytes;
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::string& path) : SafetensorsReader(map_file(path), path) {}

SafetensorsReader SafetensorsReader::from_bytes(std::vector<uint8_t> bytes, const std::string& label) {
  auto owned = std::make_shared<SafetensorsBytes>();
  owned->owned = std::move(bytes);
  owned->data = owned->owned.data();
  owned->size = owned->owned.size();
  return SafetensorsReader(std::move(owned), label);
}

SafetensorsReader::SafetensorsReader(std::shared_ptr<const SafetensorsBytes> bytes, std::string path)
    : bytes_(std::move(bytes)), path_(std::move(path)) {
  parse_header();
}

void SafetensorsReader::parse_header() {
  const std::string where = "SafetensorsReader: " + path_ + ": ";
  const uint8_t* file = bytes_->data;
  const uint64_t file_size = bytes_->size;

  VIREO_CHECK(file_size >= 8, where, "the file is ", file_size,
              " bytes long, too short for the 8-byte header length that starts every safetensors file");
  const uint64_t header_size = read_u64_le(file);
  VIREO_CHECK(header_size <= kMaxHeaderBytes, where, "the header length ", header_size, " exceeds the limit of ",
              kMaxHeaderBytes, " bytes");
  VIREO_CHECK(8 + header_size <= file_size, where, "the header length ", header_size,
              " runs past the end of the file (", file_size, " bytes)");
  data_start_ = 8 + header_size;
  const std::string_view text(reinterpret_cast<const char*>(file + 8), header_size);
  const size_t bad_byte = invalid_utf8_at(text);
  VIREO_CHECK(bad_byte == std::string_view::npos, where, "the header is not valid UTF-8 (byte ", bad_byte,
              " of the header)");

  const Json header = parse_json(text, where);
  VIREO_CHECK(header.is_object(), where, "the header is not a JSON object but ", header.type_name());

  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey) {
      if (value.is_null()) continue;  // serde reads null as "no metadata"
      VIREO_CHECK(value.is_object(), where, "\"", kMetadataKey, "\" is not a map of strings to strings but ",
                  value.type_name());
      for (const auto& [key, text_value] : value.items()) {
        VIREO_CHECK(text_value.is_string(), where, "\"", kMetadataKey, "\" entry \"", key,
                    "\" is not a string but ", text_value.dump());
        metadata_[key] = text_value.get<std::string>();
      }
      continue;
    }
    const std::string tensor = where + "tensor \"" + name + "\": ";
    VIREO_CHECK(value.is_object(), tensor, "the entry is not a JSON object but ", value.dump());
    for (const char* field : {"dtype", "shape", "data_offsets"})
      VIREO_CHECK(value.contains(field), tensor, "the entry has no \"", field, "\"");

    const Json& dtype_json = value["dtype"];
    VIREO_CHECK(dtype_json.is_string(), tensor, "\"dtype\" is not a string but ", dtype_json.dump());
    const auto& dtype_name = dtype_json.get_ref<const std::string&>();
    const FormatDType* dtype = nullptr;
    for (const FormatDType& candidate : kFormatDTypes)
      if (dtype_name == candidate.name) dtype = &candidate;
    if (!dtype) {
      for (const char* unsupported : kUnsupportedFormatDTypes)
        VIREO_CHECK(dtype_name != unsupported, tensor, "dtype ", dtype_name,
                    " is not supported (Vireo reads F64, F32, F16, BF16, I64, I32, U8 and BOOL)");
      fail(tensor, "unknown dtype \"", dtype_name, "\"");
    }

    const Json& shape_json = value["shape"];
    VIREO_CHECK(shape_json.is_array(), tensor, "\"shape\" is not an array but ", shape_json.dump());
    Shape shape;
    uint64_t numel = 1;
    bool overflow = false;
    // The product of the extents with zeros counted as ones: the largest stride of the contiguous layout and a
    // bound on every partial product. An empty tensor such as [0, 2^62, 2^62] holds no bytes, yet its strides
    // would overflow (a fuzzing finding), so it is refused like a tensor too large to count. (Without a zero
    // extent this bound is the element count, refused just before it with its own message.)
    uint64_t stride_bound = 1;
    bool strides_overflow = false;
    for (const Json& extent : shape_json) {
      VIREO_CHECK(extent.is_number_integer(), tensor, "shape ", shape_json.dump(), " has an extent that is not an integer");
      VIREO_CHECK(extent.is_number_unsigned(), tensor, "shape ", shape_json.dump(), " has a negative extent");
      const auto size = extent.get<uint64_t>();
      VIREO_CHECK(size <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), tensor, "shape ",
                  shape_json.dump(), " has an extent too large to index");
      shape.push_back(static_cast<int64_t>(size));
      overflow |= __builtin_mul_overflow(numel, size, &numel);
      strides_overflow |= __builtin_mul_overflow(stride_bound, std::max<uint64_t>(size, 1), &stride_bound);
    }
    uint64_t bytes = 0;
    overflow |= __builtin_mul_overflow(numel, element_size(dtype->dtype), &bytes);
    VIREO_CHECK(!overflow && numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), tensor, "shape ",
                shape_json.dump(), " of ", dtype_name, " holds more bytes than 64 bits can count");
    VIREO_CHECK(!strides_overflow && stride_bound <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), tensor,
                "shape ", shape_json.dump(), " has extents whose product passes 64 bits, too large to index");

    const Json& offsets = value["data_offsets"];
    VIREO_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                    offsets[1].is_number_unsigned(),
                tensor, "data_offsets ", offsets.dump(), " is not a pair [begin, end] of non-negative integers");
    const auto begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    VIREO_CHECK(begin <= end, tensor, "data_offsets ", offsets.dump(), " begin after they end");
    VIREO_CHECK(end - begin == bytes, tensor, "shape ", shape_json.dump(), " of ", dtype_name, " needs ", bytes,
                " bytes, but data_offsets ", offsets.dump(), " span ", end - begin);
    entries_.emplace(name, Entry{dtype->dtype, std::move(shape), begin, end});
  }

  // The tensors must tile the data buffer exactly: sorted by offsets, each begins where the previous ended.
  std::vector<const std::pair<const std::string, Entry>*> by_offset;
  for (const auto& item : entries_) by_offset.push_back(&item);
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::pair(a->second.begin, a->second.end) < std::pair(b->second.begin, b->second.end);
  });
  uint64_t covered = 0;
  const std::string* previous = nullptr;
  for (const auto* item : by_offset) {
    const Entry& entry = item->second;
    VIREO_CHECK(entry.begin >= covered, where, "tensors \"", *previous, "\" and \"", item->first,
                "\" overlap: the first ends at byte ", covered, " of the data buffer, the second begins at ",
                entry.begin);
    VIREO_CHECK(entry.begin == covered, where, "bytes [", covered, ", ", entry.begin,
                ") of the data buffer belong to no tensor (a hole before tensor \"", item->first, "\")");
    covered = entry.end;
    previous = &item->first;
  }
  const uint64_t data_size = file_size - data_start_;
  VIREO_CHECK(covered <= data_size, where, "the file is truncated: its tensors need ", covered,
              " bytes of data after the header, but only ", data_size, " follow it");
  VIREO_CHECK(covered == data_size, where, "the last ", data_size - covered,
              " bytes of the file belong to no tensor (the tensors end at byte ", covered, " of the ", data_size,
              "-byte data buffer)");
}

const SafetensorsReader::Entry& SafetensorsReader::entry(const std::string& name) const {
  const auto found = entries_.find(name);
  VIREO_CHECK(found != entries_.end(), "SafetensorsReader: ", path_, ": no tensor named \"", name, "\"");
  return found->second;
}

std::vector<std::string> SafetensorsReader::names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) names.push_back(name);
  return names;
}

DType SafetensorsReader::dtype(const std::string& name) const { return entry(name).dtype; }
const Shape& SafetensorsReader::shape(const std::string& name) const { return entry(name).shape; }

Tensor SafetensorsReader::load(const std::string& name) const {
  const Entry& found = entry(name);
  Tensor out = Tensor::empty(found.shape, {.dtype = found.dtype});
  const uint8_t* source = bytes_->data + data_start_ + found.begin;
  const size_t bytes = found.end - found.begin;
  if (found.dtype == DType::boolean) {
    // One byte per element; any nonzero byte reads as true, so a bool never holds a value other than 0 or 1.
    bool* target = out.data<bool>();
    for (size_t i = 0; i < bytes; ++i) target[i] = source[i] != 0;
  } else if (bytes > 0) {
    std::memcpy(out.raw_data(), source, bytes);
  }
  return out;
}

StateDict SafetensorsReader::load_all() const {
  StateDict tensors;
  for (const auto& [name, found] : entries_) tensors.emplace(name, load(name));
  return tensors;
}

}  // namespace vireo::io
