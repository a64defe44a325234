// Dropout, as torch.nn.Dropout: in training, zeroes each element with probability p and scales the rest by
// 1/(1 − p) so the expected value is unchanged; in evaluation, the identity.
#pragma once

#include "engine/nn/module.h"

namespace vireo::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const double p;
};

}  // namespace vireo::nn
