// IDX reading with zlib, streamed straight into the final buffer, and the MNIST-family datasets on it.
#include "training/data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace vireo::data {
namespace {

// Owns a zlib file handle; gzread reads gzip streams and passes plain files through unchanged.
class GzipReader {
 public:
  explicit GzipReader(const std::string& path) : path_(path) {
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (!file_)
      fail("read_idx: cannot open ", path, ": ", errno ? std::strerror(errno) : "zlib could not allocate its state");
    gzbuffer(file_, 1 << 17);
  }
  ~GzipReader() { gzclose(file_); }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Reads up to `count` bytes; fewer only at the end of the data. A damaged gzip stream — a bad block, a
  // failed checksum, an archive cut short — is refused with zlib's diagnosis.
  size_t read(uint8_t* out, size_t count) {
    size_t done = 0;
    while (done < count) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(count - done, size_t{1} << 30));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) refuse_damaged();
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    int status = Z_OK;
    gzerror(file_, &status);
    if (status != Z_OK) refuse_damaged();
    return done;
  }

  // Counts the bytes left until the end of the data.
  size_t remaining() {
    uint8_t sink[1 << 14];
    size_t total = 0;
    for (size_t got; (got = read(sink, sizeof sink)) > 0;) total += got;
    return total;
  }

 private:
  [[noreturn]] void refuse_damaged() {
    int status = Z_OK;
    std::string message = gzerror(file_, &status);
    if (status == Z_ERRNO) message = std::strerror(errno);
    // zlib prefixes its message with the path, which ours already names.
    if (message.starts_with(path_ + ": ")) message.erase(0, path_.size() + 2);
    fail("read_idx: ", path_, ": corrupt or truncated gzip data (zlib: ", message, ")");
  }

  std::string path_;
  gzFile file_ = nullptr;
};

uint32_t big_endian(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | bytes[3];
}

std::string join_dims(const std::vector<int64_t>& dims) {
  std::ostringstream out;
  for (size_t i = 0; i < dims.size(); ++i) out << (i ? "x" : "") << dims[i];
  return out.str();
}

// "<root>/<name>.gz" when present, else "<root>/<name>" when present, else the .gz name (to be refused).
std::string locate(const std::string& root, const std::string& name) {
  const std::string gz = root + "/" + name + ".gz", plain = root + "/" + name;
  std::error_code ignored;
  if (!std::filesystem::exists(gz, ignored) && std::filesystem::exists(plain, ignored)) return plain;
  return gz;
}

std::shared_ptr<IdxDataset> mnist_family(const char* dataset, Split split, const std::string& root,
                                         const char* hint) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images = locate(root, prefix + "-images-idx3-ubyte");
  const std::string labels = locate(root, prefix + "-labels-idx1-ubyte");
  std::error_code ignored;
  if (!std::filesystem::exists(images, ignored))
    fail(dataset, ": no ", name(split), " images at ", images, " (", hint, ")");
  return std::make_shared<IdxDataset>(images, labels, 10);
}

}  // namespace

IdxArray read_idx(const std::string& path, int64_t expected_dims) {
  GzipReader reader(path);
  uint8_t magic[4];
  const size_t magic_bytes = reader.read(magic, 4);
  if (magic_bytes < 4) fail("read_idx: ", path, ": only ", magic_bytes, " bytes, too short for an IDX header");
  const uint32_t expected_magic = 0x0800u | static_cast<uint32_t>(expected_dims);
  if (big_endian(magic) != expected_magic) {
    char found[11], wanted[11];
    std::snprintf(found, sizeof found, "0x%08x", big_endian(magic));
    std::snprintf(wanted, sizeof wanted, "0x%08x", expected_magic);
    fail("read_idx: ", path, ": bad magic number ", found, " (expected ", wanted, ": unsigned bytes in ",
         expected_dims, " dimension", expected_dims == 1 ? "" : "s", ")");
  }
  IdxArray array;
  std::vector<uint8_t> sizes(static_cast<size_t>(4 * expected_dims));
  if (reader.read(sizes.data(), sizes.size()) < sizes.size())
    fail("read_idx: ", path, ": truncated inside the header (", expected_dims, " dimension sizes expected)");
  // Sizes whose product passes a terabyte are damage; bounding it also keeps the product from overflowing.
  constexpr uint64_t kLargestPayload = uint64_t{1} << 40;
  uint64_t payload = 1;
  for (int64_t d = 0; d < expected_dims; ++d) {
    const uint32_t size = big_endian(sizes.data() + 4 * d);
    array.dims.push_back(size);
    payload *= size;
    if (payload > kLargestPayload) fail("read_idx: ", path, ": implausible dimension sizes in the header");
  }
  if (payload == 0) fail("read_idx: ", path, ": holds no values (dimensions ", join_dims(array.dims), ")");
  const uint64_t header = 4 + 4 * static_cast<uint64_t>(expected_dims);
  // The sizes are the header's claim, not what the file holds: the buffer grows as the data arrives (read in
  // 1 MiB steps, the vector's own doubling keeping the copies few), so a damaged 8-byte header cannot make
  // the reader allocate gigabytes before finding the file short.
  constexpr uint64_t kStep = uint64_t{1} << 20;
  size_t got = 0;
  while (got < payload) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(payload - got, kStep));
    array.values.resize(got + want);
    const size_t arrived = reader.read(array.values.data() + got, want);
    got += arrived;
    if (arrived < want) break;
  }
  if (got < payload)
    fail("read_idx: ", path, ": truncated: the header promises ", join_dims(array.dims), " bytes (", header + payload,
         " bytes in all) but the data ends after ", header + got);
  if (const size_t extra = reader.remaining(); extra > 0)
    fail("read_idx: ", path, ": ", extra, " bytes follow the ", header + payload, " that the header (",
         join_dims(array.dims), ") describes");
  return array;
}

IdxDataset::IdxDataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes)
    : num_classes_(num_classes) {
  VIREO_CHECK(num_classes > 0 && num_classes <= 256, "IdxDataset: num_classes ", num_classes, " is not in [1, 256]");
  IdxArray images = read_idx(images_path, 3);
  IdxArray labels = read_idx(labels_path, 1);
  count_ = images.dims[0];
  rows_ = images.dims[1];
  columns_ = images.dims[2];
  VIREO_CHECK(labels.dims[0] == count_, "IdxDataset: ", labels_path, " holds ", labels.dims[0], " labels but ",
              images_path, " holds ", count_, " images");
  for (int64_t i = 0; i < count_; ++i)
    VIREO_CHECK(labels.values[static_cast<size_t>(i)] < num_classes, "IdxDataset: ", labels_path, ": label ",
                int{labels.values[static_cast<size_t>(i)]}, " of example ", i, " is outside [0, ", num_classes, ")");
  pixels_ = std::move(images.values);
  labels_ = std::move(labels.values);
}

Example IdxDataset::get(int64_t index) const {
  check_index("IdxDataset", index, count_);
  return {Image::from_u8(image_bytes(index), rows_, columns_, 1), label(index)};
}

const uint8_t* IdxDataset::image_bytes(int64_t index) const {
  check_index("IdxDataset", index, count_);
  return pixels_.data() + index * rows_ * columns_;
}

int64_t IdxDataset::label(int64_t index) const {
  check_index("IdxDataset", index, count_);
  return labels_[static_cast<size_t>(index)];
}

std::shared_ptr<IdxDataset> fashion_mnist(Split split, const std::string& root) {
  return mnist_family("fashion_mnist", split, resolve_data_root(root, kFashionMnistRoot),
                      "install the Debian package dataset-fashion-mnist, set VIREO_DATA_ROOT or pass a root");
}

const std::array<const char*, 10>& fashion_mnist_classes() {
  static const std::array<const char*, 10> classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return classes;
}

std::shared_ptr<IdxDataset> mnist(Split split, const std::string& root) {
  const std::string resolved = resolve_data_root(root, "");
  VIREO_CHECK(!resolved.empty(), "mnist: no root: pass the folder holding the IDX files or set VIREO_DATA_ROOT");
  return mnist_family("mnist", split, resolved, "set VIREO_DATA_ROOT or pass the folder holding the IDX files");
}

}  // namespace vireo::data
