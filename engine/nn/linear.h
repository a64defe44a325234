// Linear (y = x·Wᵀ + b) and Identity, as torch.nn.Linear and torch.nn.Identity.
#pragma once

#include "engine/nn/module.h"

namespace vireo::nn {

struct LinearOptions {
  bool bias = true;
};

// weight [out_features, in_features], bias [out_features]. Default initialization (PyTorch's):
// weight ~ kaiming_uniform(a = √5), i.e. U(−1/√in, 1/√in); bias ~ U(−1/√in, 1/√in).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, LinearOptions options = {});

  using Module::forward;
  Tensor forward(const Tensor& x) override;  // x [..., in_features] -> [..., out_features]
  void reset_parameters() override;
  std::string extra_repr() const override;

  const int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined without options.bias
};

// Returns its input: a placeholder where a layer is optional (a projection head with no projector).
class Identity : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return x; }
};

}  // namespace vireo::nn
