// Dataset: numbered examples (an image and its class label), read-only and safe to call from several
// loader threads at once. Every concrete dataset lives in its own file: idx.h (MNIST, Fashion-MNIST),
// cifar.h, image_folder.h, synthetic.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "training/data/image.h"

namespace vireo::data {

struct Example {
  Image image;
  int64_t label = 0;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index` in [0, size()). Must be safe to call concurrently (the loader's workers do).
  virtual Example get(int64_t index) const = 0;
  // The number of classes labels are drawn from (labels lie in [0, num_classes())).
  virtual int64_t num_classes() const = 0;
};

enum class Split { train, test };
const char* name(Split split);

// Where a dataset's files are: `root` when given, else $VIREO_DATA_ROOT when set and non-empty, else
// `default_root`.
std::string resolve_data_root(const std::string& root, const std::string& default_root);

// The examples of `dataset` at `indices`, renumbered 0, 1, …: a validation split, or the first N
// examples for a quick run.
class Subset final : public Dataset {
 public:
  Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  int64_t num_classes() const override { return dataset_->num_classes(); }

 private:
  std::shared_ptr<const Dataset> dataset_;
  std::vector<int64_t> indices_;
};

// Every example at once, without augmentation: images [N, C, H, W] f32 in [0, 1] and labels [N] i64.
// For small datasets held whole in memory (evaluation, the demo). All images must share one size.
struct StackedDataset {
  Tensor images, labels;
};
StackedDataset stack_dataset(const Dataset& dataset);

// Refuses an index outside [0, size) with the dataset's name and both numbers.
void check_index(const char* dataset, int64_t index, int64_t size);

}  // namespace vireo::data
