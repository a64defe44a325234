#include "engine/ops/activation.h"

#include "engine/kernels/elementwise.h"
#include "engine/ops.h"

namespace vireo {

namespace detail {
Tensor unary_op(const char* op, kernels::UnaryOp kind, const Tensor& x, kernels::UnaryParams params);
}

using kernels::UnaryOp;

Tensor relu(const Tensor& x) { return detail::unary_op("relu", UnaryOp::relu, x, {}); }
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
  return approximation == GeluApproximation::none ? detail::unary_op("gelu", UnaryOp::gelu, x, {})
                                                  : detail::unary_op("gelu_tanh", UnaryOp::gelu_tanh, x, {});
}
Tensor silu(const Tensor& x) { return detail::unary_op("silu", UnaryOp::silu, x, {}); }
Tensor sigmoid(const Tensor& x) { return detail::unary_op("sigmoid", UnaryOp::sigmoid, x, {}); }
Tensor tanh(const Tensor& x) { return detail::unary_op("tanh", UnaryOp::tanh, x, {}); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  VIREO_CHECK(beta > 0, "softplus: beta must be positive, got ", beta);
  return detail::unary_op("softplus", UnaryOp::softplus, x, {beta, threshold});
}
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return detail::unary_op("leaky_relu", UnaryOp::leaky_relu, x, {negative_slope});
}

}  // namespace vireo
