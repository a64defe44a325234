// CIFAR-10 and CIFAR-100 in their binary formats (the "-binary" archives from Alex Krizhevsky's page).
//
// CIFAR-10 (cifar-10-batches-bin/): data_batch_1.bin … data_batch_5.bin (training, 50,000 images) and
// test_batch.bin (10,000); each record is 1 label byte then 3072 pixel bytes — the 32×32 red plane, then
// green, then blue. CIFAR-100 (cifar-100-binary/): train.bin and test.bin; each record is a coarse label
// byte (20 superclasses), a fine label byte (100 classes), then the same 3072 pixel bytes.
#pragma once

#include <string>
#include <vector>

#include "training/data/dataset.h"

namespace vireo::data {

enum class CifarVariant { cifar10, cifar100 };
// CIFAR-100 carries two labels per image; which one the examples get.
enum class CifarLabel { fine, coarse };

struct CifarOptions {
  std::string root;  // the folder holding the .bin files; empty: $VIREO_DATA_ROOT
  Split split = Split::train;
  CifarVariant variant = CifarVariant::cifar10;
  CifarLabel label = CifarLabel::fine;  // CIFAR-100 only
};

class CifarDataset final : public Dataset {
 public:
  static constexpr int64_t kSide = 32, kChannels = 3, kPixels = kSide * kSide * kChannels;

  // Reads every file of the split; a missing file, or one whose length is not a whole number of records,
  // or a label out of range, is refused naming the file.
  explicit CifarDataset(CifarOptions options);

  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Example get(int64_t index) const override;  // a 32 × 32 × 3 image
  int64_t num_classes() const override { return num_classes_; }

  // The files this split was read from, in order.
  const std::vector<std::string>& files() const { return files_; }

 private:
  int64_t num_classes_ = 0;
  std::vector<std::string> files_;
  std::vector<uint8_t> pixels_;  // interleaved (HWC) per image, converted once when reading
  std::vector<uint8_t> labels_;
};

}  // namespace vireo::data
