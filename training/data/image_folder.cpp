// ImageFolder: a directory walk at construction, stb_image decoding in get().
#include "training/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "training/data/geometric.h"
#include "training/data/image_io.h"

namespace vireo::data {
namespace {

bool is_image_file(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm"})
    if (extension == known) return true;
  return false;
}

}  // namespace

ImageFolder::ImageFolder(ImageFolderOptions options) : options_(std::move(options)) {
  namespace fs = std::filesystem;
  VIREO_CHECK(options_.channels == 1 || options_.channels == 3, "ImageFolder: channels ", options_.channels, " (1 or 3)");
  VIREO_CHECK((options_.resize.height > 0) == (options_.resize.width > 0) && options_.resize.height >= 0,
              "ImageFolder: resize ", options_.resize.height, "x", options_.resize.width, " (both positive, or unset)");
  std::error_code error;
  VIREO_CHECK(fs::is_directory(options_.root, error), "ImageFolder: ", options_.root, " is not a folder");
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.root))
    if (entry.is_directory()) classes_.push_back(entry.path().filename().string());
  std::sort(classes_.begin(), classes_.end());
  VIREO_CHECK(!classes_.empty(), "ImageFolder: ", options_.root, " holds no class folders (expected root/<class>/<image>)");
  for (size_t label = 0; label < classes_.size(); ++label) {
    const fs::path folder = fs::path(options_.root) / classes_[label];
    std::vector<std::string> images;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(folder))
      if (entry.is_regular_file() && is_image_file(entry.path())) images.push_back(entry.path().string());
    VIREO_CHECK(!images.empty(), "ImageFolder: class folder ", folder.string(),
                " holds no images (.png, .jpg, .jpeg, .bmp, .ppm, .pgm)");
    std::sort(images.begin(), images.end());
    for (std::string& image : images) {
      files_.push_back(std::move(image));
      labels_.push_back(static_cast<int64_t>(label));
    }
  }
}

const std::string& ImageFolder::path(int64_t index) const {
  check_index("ImageFolder", index, size());
  return files_[static_cast<size_t>(index)];
}

Example ImageFolder::get(int64_t index) const {
  Image image = decode_image(path(index), options_.channels);
  if (options_.resize.height > 0 && (image.height != options_.resize.height || image.width != options_.resize.width))
    image = resize(image, options_.resize.height, options_.resize.width);
  return {std::move(image), labels_[static_cast<size_t>(index)]};
}

}  // namespace vireo::data
