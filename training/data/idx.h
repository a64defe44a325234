// MNIST-style datasets in the IDX format (Fashion-MNIST, MNIST, KMNIST, …): one file of images and one
// of labels per split, gzipped or not. Fashion-MNIST's default root is Debian's dataset-fashion-mnist.
//
// IDX: 2 zero bytes, a type byte (0x08 = unsigned byte, the only one these datasets use), a byte giving
// the number of dimensions d, then d big-endian 32-bit sizes, then the values in row-major order. Images
// are d = 3 (count, rows, columns), labels d = 1 (count); everything is checked against the file length.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "training/data/dataset.h"

namespace vireo::data {

// The contents of an IDX file of unsigned bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;  // row-major, product(dims) bytes
};

// Reads an IDX file (gzip-compressed or plain, told apart by zlib) with `expected_dims` dimensions. A
// missing, corrupt or truncated file, a wrong magic number, or bytes beyond what the header describes are
// refused with an Error naming the path and the fault.
IdxArray read_idx(const std::string& path, int64_t expected_dims);

class IdxDataset final : public Dataset {
 public:
  // An images file ([count, rows, columns]) and its labels file ([count]), every label in
  // [0, num_classes).
  IdxDataset(const std::string& images_path, const std::string& labels_path, int64_t num_classes);

  int64_t size() const override { return count_; }
  Example get(int64_t index) const override;  // a rows × columns × 1 image
  int64_t num_classes() const override { return num_classes_; }

  int64_t rows() const { return rows_; }
  int64_t columns() const { return columns_; }
  // The stored bytes of image `index` (rows·columns of them) and its label, without conversion.
  const uint8_t* image_bytes(int64_t index) const;
  int64_t label(int64_t index) const;

 private:
  int64_t count_ = 0, rows_ = 0, columns_ = 0, num_classes_ = 0;
  std::vector<uint8_t> pixels_, labels_;
};

inline constexpr const char* kFashionMnistRoot = "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST (60,000 training and 10,000 test images of 28×28, 10 classes) from `root`, else
// $VIREO_DATA_ROOT, else kFashionMnistRoot. Files: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
std::shared_ptr<IdxDataset> fashion_mnist(Split split, const std::string& root = "");
// The class names of Fashion-MNIST's labels 0–9.
const std::array<const char*, 10>& fashion_mnist_classes();

// MNIST digits: the same file names and layout as Fashion-MNIST, from `root` or $VIREO_DATA_ROOT.
std::shared_ptr<IdxDataset> mnist(Split split, const std::string& root = "");

}  // namespace vireo::data
