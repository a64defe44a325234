// Activation modules (engine/nn/activation.h).
#include "engine/nn/activation.h"

#include "engine/nn/repr.h"
#include "engine/ops/loss.h"

namespace vireo::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }

Tensor GELU::forward(const Tensor& x) {
  if (approx_backward) {
    VIREO_CHECK(approximate == GeluApproximation::none,
                "GELU: approx_backward (ReGELU2) is fitted to the exact-erf GELU, not approximate='tanh'");
    return regelu2(x);
  }
  return gelu(x, approximate);
}
std::string GELU::extra_repr() const {
  return std::string(approximate == GeluApproximation::tanh ? "approximate='tanh'" : "approximate='none'") +
         (approx_backward ? ", approx_backward=True" : "");
}

Tensor SiLU::forward(const Tensor& x) { return approx_backward ? resilu2(x) : silu(x); }
std::string SiLU::extra_repr() const { return approx_backward ? "approx_backward=True" : ""; }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + repr_float(negative_slope); }

Tensor Softplus::forward(const Tensor& x) { return softplus(x, beta, threshold); }
std::string Softplus::extra_repr() const { return "beta=" + repr_float(beta) + ", threshold=" + repr_float(threshold); }

Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim); }
std::string Softmax::extra_repr() const { return "dim=" + std::to_string(dim); }

Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(dim); }

}  // namespace vireo::nn
