// Flatten, as torch.nn.Flatten: merges dimensions start_dim..end_dim (by default all but the batch one).
#pragma once

#include "engine/nn/module.h"

namespace vireo::nn {

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
  }
  const int64_t start_dim, end_dim;
};

}  // namespace vireo::nn
