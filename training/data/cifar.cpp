// CIFAR binary reading: whole files, record size checked, planes interleaved once so that get() is a
// plain conversion.
#include "training/data/cifar.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace vireo::data {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  if (!file) fail("CifarDataset: cannot open ", path, ": ", std::strerror(errno));
  const std::streamsize length = file.tellg();
  std::vector<uint8_t> bytes(static_cast<size_t>(length));
  file.seekg(0);
  if (!file.read(reinterpret_cast<char*>(bytes.data()), length)) fail("CifarDataset: cannot read ", path);
  return bytes;
}

}  // namespace

CifarDataset::CifarDataset(CifarOptions options) {
  const std::string root = resolve_data_root(options.root, "");
  VIREO_CHECK(!root.empty(), "CifarDataset: no root: pass the folder holding the .bin files or set VIREO_DATA_ROOT");
  const bool hundred = options.variant == CifarVariant::cifar100;
  if (hundred) {
    files_ = {root + (options.split == Split::train ? "/train.bin" : "/test.bin")};
  } else if (options.split == Split::train) {
    for (int batch = 1; batch <= 5; ++batch) files_.push_back(root + "/data_batch_" + std::to_string(batch) + ".bin");
  } else {
    files_ = {root + "/test_batch.bin"};
  }
  const int64_t label_bytes = hundred ? 2 : 1;
  const int64_t record = label_bytes + kPixels;
  // Which label byte of the record, and how many classes it counts.
  const int64_t label_at = hundred && options.label == CifarLabel::fine ? 1 : 0;
  num_classes_ = !hundred ? 10 : options.label == CifarLabel::fine ? 100 : 20;
  const char* label_name = !hundred ? "label" : options.label == CifarLabel::fine ? "fine label" : "coarse label";

  constexpr int64_t kPlane = kSide * kSide;
  for (const std::string& path : files_) {
    const std::vector<uint8_t> bytes = read_file(path);
    const int64_t length = static_cast<int64_t>(bytes.size());
    VIREO_CHECK(length > 0 && length % record == 0, "CifarDataset: ", path, " holds ", length,
                " bytes, not a whole number of ", record, "-byte records (", label_bytes, " label byte",
                hundred ? "s" : "", " + 3072 pixels): truncated, or not a CIFAR-", hundred ? "100" : "10", " file");
    const int64_t records = length / record;
    const size_t first = labels_.size();
    labels_.resize(first + static_cast<size_t>(records));
    pixels_.resize(labels_.size() * kPixels);
    for (int64_t r = 0; r < records; ++r) {
      const uint8_t* in = bytes.data() + r * record;
      const uint8_t label = in[label_at];
      VIREO_CHECK(label < num_classes_, "CifarDataset: ", path, ": record ", r, " has ", label_name, " ", int{label},
                  ", outside [0, ", num_classes_, ")");
      labels_[first + static_cast<size_t>(r)] = label;
      const uint8_t* planes = in + label_bytes;
      uint8_t* out = pixels_.data() + (first + static_cast<size_t>(r)) * kPixels;
      for (int64_t i = 0; i < kPlane; ++i)
        for (int64_t c = 0; c < kChannels; ++c) out[i * kChannels + c] = planes[c * kPlane + i];
    }
  }
}

Example CifarDataset::get(int64_t index) const {
  check_index("CifarDataset", index, size());
  return {Image::from_u8(pixels_.data() + index * kPixels, kSide, kSide, kChannels), labels_[static_cast<size_t>(index)]};
}

}  // namespace vireo::data
