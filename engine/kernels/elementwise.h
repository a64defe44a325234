// Primitive elementwise kernels. Front ends broadcast operands to the output's shape (stride-0 views)
// before calling, so kernels see equal shapes with arbitrary strides; every operand shares one dtype.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

enum class BinaryOp { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge };
inline Kernel<void(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out)> binary{"binary"};

// Unary maps, including the activations; `UnaryParams` carries the scalars some of them take.
enum class UnaryOp {
  neg, exp, log, sqrt, rsqrt, abs, sign, square, erf,
  relu, gelu, gelu_tanh, silu, sigmoid, tanh,
  softplus,    // a = beta, b = threshold
  leaky_relu,  // a = negative slope
  clamp,       // a = min, b = max (±inf when absent)
  add_scalar,  // a = addend
  mul_scalar,  // a = factor
  pow_scalar,  // a = exponent
};
struct UnaryParams {
  double a = 0.0;
  double b = 0.0;
};
inline Kernel<void(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params)> unary{"unary"};
// grad_input = grad_output · f'(x): the derivative of each unary map, fused with the product.
inline Kernel<void(UnaryOp op, const Tensor& x, const Tensor& grad_output, const Tensor& grad_input,
                   UnaryParams params)>
    unary_backward{"unary_backward"};

// out = condition != 0 ? a : b
inline Kernel<void(const Tensor& condition, const Tensor& a, const Tensor& b, const Tensor& out)> where{"where"};

}  // namespace vireo::kernels
