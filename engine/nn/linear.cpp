// Linear layer (engine/nn/linear.h): one call to the engine's fused linear (GEMM plus bias).
#include "engine/nn/linear.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/nn/repr.h"
#include "engine/ops/creation.h"
#include "engine/ops/linalg.h"

namespace vireo::nn {

Linear::Linear(int64_t in_features, int64_t out_features, LinearOptions options)
    : in_features(in_features), out_features(out_features) {
  VIREO_CHECK(in_features >= 0 && out_features >= 0, "Linear: feature counts must be non-negative, got in_features ",
              in_features, " and out_features ", out_features);
  weight = register_parameter("weight", empty({out_features, in_features}));
  if (options.bias) bias = register_parameter("bias", empty({out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = in_features;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) {
  VIREO_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features, "Linear: expects an input [..., ",
              in_features, "], got ", describe(x));
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + repr_bool(bias.defined());
}

}  // namespace vireo::nn
