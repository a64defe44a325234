// The Dataset helpers: split names, the data root rule, Subset and stack_dataset.
#include "training/data/dataset.h"

#include <cstdlib>

namespace vireo::data {

const char* name(Split split) { return split == Split::train ? "train" : "test"; }

std::string resolve_data_root(const std::string& root, const std::string& default_root) {
  if (!root.empty()) return root;
  const char* environment = std::getenv("VIREO_DATA_ROOT");
  if (environment && *environment) return environment;
  return default_root;
}

void check_index(const char* dataset, int64_t index, int64_t size) {
  VIREO_CHECK(index >= 0 && index < size, dataset, ": index ", index, " is out of range for ", size, " examples");
}

Subset::Subset(std::shared_ptr<const Dataset> dataset, std::vector<int64_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  VIREO_CHECK(dataset_ != nullptr, "Subset: no dataset");
  const int64_t n = dataset_->size();
  for (size_t i = 0; i < indices_.size(); ++i)
    VIREO_CHECK(indices_[i] >= 0 && indices_[i] < n, "Subset: indices[", i, "] = ", indices_[i],
                " is out of range for a dataset of ", n, " examples");
}

Example Subset::get(int64_t index) const {
  check_index("Subset", index, size());
  return dataset_->get(indices_[static_cast<size_t>(index)]);
}

StackedDataset stack_dataset(const Dataset& dataset) {
  const int64_t n = dataset.size();
  VIREO_CHECK(n > 0, "stack_dataset: the dataset is empty");
  const Example first = dataset.get(0);
  const int64_t c = first.image.channels, h = first.image.height, w = first.image.width;
  StackedDataset stacked{Tensor::empty({n, c, h, w}), Tensor::empty({n}, {.dtype = DType::i64})};
  float* images = stacked.images.data<float>();
  int64_t* labels = stacked.labels.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const Example example = i == 0 ? first : dataset.get(i);
    VIREO_CHECK(example.image.channels == c && example.image.height == h && example.image.width == w,
                "stack_dataset: example ", i, " is ", describe(example.image), " but example 0 is ",
                describe(first.image), " (resize the images to one size first)");
    write_chw(example.image, images + i * c * h * w);
    labels[i] = example.label;
  }
  return stacked;
}

}  // namespace vireo::data
