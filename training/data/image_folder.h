// ImageFolder: torchvision's layout — root/<class>/<image> — with classes numbered in sorted name order
// and images sorted by path within each class. Images are decoded on demand (in the loader's workers)
// with stb_image: PNG, JPEG, BMP, PPM/PGM.
#pragma once

#include <string>
#include <vector>

#include "training/data/dataset.h"

namespace vireo::data {

struct ImageFolderOptions {
  std::string root;
  int64_t channels = 3;  // every image converted to 1 (luma) or 3 (RGB) channels
  Size resize = {};      // when set (height, width > 0), every image resized to it (bilinear, antialiased)
};

class ImageFolder final : public Dataset {
 public:
  // Lists the folder: a missing root, a root without class folders, or a class folder without images is
  // refused naming it. Files with other extensions are ignored, as torchvision does.
  explicit ImageFolder(ImageFolderOptions options);

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  // Decodes the file; a corrupt image is refused with its path.
  Example get(int64_t index) const override;
  int64_t num_classes() const override { return static_cast<int64_t>(classes_.size()); }

  const std::vector<std::string>& classes() const { return classes_; }
  const std::string& path(int64_t index) const;

 private:
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  std::vector<std::string> files_;
  std::vector<int64_t> labels_;
};

}  // namespace vireo::data
