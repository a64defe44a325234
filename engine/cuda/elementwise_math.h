// The per-element math of the CUDA elementwise, pad and Approx-BP kernels, written once for host and device
// (VIREO_HOST_DEVICE) so that the host test suite (tests/cuda/test_cuda_elementwise.cpp) checks every formula
// against the CPU kernels on machines without a GPU. Each function mirrors one lambda of engine/cpu/*.cpp:
// same branches, same NaN rules, same constants. The kernels call them with C = Compute<T>: f32 for the
// 16-bit floats, the type itself otherwise.
//
// The op is a runtime argument, not a template parameter: one kernel per dtype serves every op (the switch
// is uniform across a warp, and elementwise kernels wait on memory, not on the branch), which keeps the
// number of kernels nvcc compiles small.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "engine/host_device.h"
#include "engine/kernels/elementwise.h"
#include "engine/ops/shape.h"

namespace vireo::cuda {

using kernels::BinaryOp;
using kernels::UnaryOp;

// a ∘ b for every BinaryOp; comparisons give 1 or 0 in the operands' type. For integers, pow goes through
// double (as std::pow does for the CPU's i64 kernel) and NaN tests are false.
template <class C>
VIREO_HOST_DEVICE inline C binary_value(BinaryOp op, C x, C y) {
  switch (op) {
    case BinaryOp::add: return x + y;
    case BinaryOp::sub: return x - y;
    case BinaryOp::mul: return x * y;
    case BinaryOp::div: return x / y;
    case BinaryOp::pow:
      if constexpr (std::is_integral_v<C>) return static_cast<C>(std::pow(static_cast<double>(x), static_cast<double>(y)));
      else return std::pow(x, y);
    case BinaryOp::maximum: return x > y || x != x ? x : y;  // NaN wins, as in torch
    case BinaryOp::minimum: return x < y || x != x ? x : y;
    case BinaryOp::eq: return static_cast<C>(x == y);
    case BinaryOp::ne: return static_cast<C>(x != y);
    case BinaryOp::lt: return static_cast<C>(x < y);
    case BinaryOp::le: return static_cast<C>(x <= y);
    case BinaryOp::gt: return static_cast<C>(x > y);
    case BinaryOp::ge: return static_cast<C>(x >= y);
  }
  return x;
}

// The constants of the GELU family (converted to the compute type where used).
struct GeluConstants {
  static constexpr double kInvSqrt2 = 0.70710678118654752440;
  static constexpr double kInvSqrt2Pi = 0.39894228040143267794;
  static constexpr double kSqrt2OverPi = 0.79788456080286535588;
  static constexpr double kGeluCubic = 0.044715;
};

template <class C>
VIREO_HOST_DEVICE inline C sigmoid_value(C v) {
  return C(1) / (C(1) + std::exp(-v));
}

// f(v) for every floating UnaryOp; a and b are UnaryParams' scalars, already in C.
template <class C>
VIREO_HOST_DEVICE inline C unary_value(UnaryOp op, C v, C a, C b) {
  using K = GeluConstants;
  switch (op) {
    case UnaryOp::neg: return -v;
    case UnaryOp::exp: return std::exp(v);
    case UnaryOp::log: return std::log(v);
    case UnaryOp::sqrt: return std::sqrt(v);
    case UnaryOp::rsqrt: return C(1) / std::sqrt(v);
    case UnaryOp::abs: return std::abs(v);
    case UnaryOp::sign: return static_cast<C>((v > C(0)) - (v < C(0)));
    case UnaryOp::square: return v * v;
    case UnaryOp::erf: return std::erf(v);
    case UnaryOp::relu: return v > C(0) ? v : C(0);
    case UnaryOp::gelu: return C(0.5) * v * (C(1) + std::erf(v * C(K::kInvSqrt2)));
    case UnaryOp::gelu_tanh:
      return C(0.5) * v * (C(1) + std::tanh(C(K::kSqrt2OverPi) * (v + C(K::kGeluCubic) * v * v * v)));
    case UnaryOp::silu: return v * sigmoid_value(v);
    case UnaryOp::sigmoid: return sigmoid_value(v);
    case UnaryOp::tanh: return std::tanh(v);
    case UnaryOp::softplus: return a * v > b ? v : std::log1p(std::exp(a * v)) / a;  // a = beta, b = threshold
    case UnaryOp::leaky_relu: return v > C(0) ? v : a * v;
    case UnaryOp::clamp: return v < a ? a : (v > b ? b : v);
    case UnaryOp::add_scalar: return v + a;
    case UnaryOp::mul_scalar: return v * a;
    case UnaryOp::pow_scalar: return a == C(2) ? v * v : std::pow(v, a);
  }
  return v;
}

// f'(v) for every floating UnaryOp (the backward multiplies it by the output gradient).
template <class C>
VIREO_HOST_DEVICE inline C unary_derivative(UnaryOp op, C v, C a, C b) {
  using K = GeluConstants;
  switch (op) {
    case UnaryOp::neg: return C(-1);
    case UnaryOp::exp: return std::exp(v);
    case UnaryOp::log: return C(1) / v;
    case UnaryOp::sqrt: return C(0.5) / std::sqrt(v);
    case UnaryOp::rsqrt: return C(-0.5) / (v * std::sqrt(v));
    case UnaryOp::abs: return static_cast<C>((v > C(0)) - (v < C(0)));
    case UnaryOp::sign: return C(0);
    case UnaryOp::square: return C(2) * v;
    case UnaryOp::erf: return C(2) * C(K::kInvSqrt2Pi) * std::sqrt(C(2)) * std::exp(-v * v);
    case UnaryOp::relu: return v > C(0) ? C(1) : C(0);
    case UnaryOp::gelu:  // d/dx x·Φ(x) = Φ(x) + x·φ(x)
      return C(0.5) * (C(1) + std::erf(v * C(K::kInvSqrt2))) + v * C(K::kInvSqrt2Pi) * std::exp(C(-0.5) * v * v);
    case UnaryOp::gelu_tanh: {
      const C t = std::tanh(C(K::kSqrt2OverPi) * (v + C(K::kGeluCubic) * v * v * v));
      return C(0.5) * (C(1) + t) +
             C(0.5) * v * (C(1) - t * t) * C(K::kSqrt2OverPi) * (C(1) + C(3) * C(K::kGeluCubic) * v * v);
    }
    case UnaryOp::silu: {
      const C s = sigmoid_value(v);
      return s * (C(1) + v * (C(1) - s));
    }
    case UnaryOp::sigmoid: {
      const C s = sigmoid_value(v);
      return s * (C(1) - s);
    }
    case UnaryOp::tanh: {
      const C t = std::tanh(v);
      return C(1) - t * t;
    }
    case UnaryOp::softplus: return a * v > b ? C(1) : sigmoid_value(a * v);
    case UnaryOp::leaky_relu: return v > C(0) ? C(1) : a;
    case UnaryOp::clamp: return v >= a && v <= b ? C(1) : C(0);
    case UnaryOp::add_scalar: return C(1);
    case UnaryOp::mul_scalar: return a;
    case UnaryOp::pow_scalar: return a * std::pow(v, a - C(1));
  }
  return C(0);
}

// The unary maps defined on i64 (the CPU kernel's): neg and abs. Callers refuse the rest on the host.
VIREO_HOST_DEVICE inline int64_t unary_integer_value(UnaryOp op, int64_t v) {
  return op == UnaryOp::neg ? -v : (v < 0 ? -v : v);
}
inline bool unary_defined_for_integers(UnaryOp op) { return op == UnaryOp::neg || op == UnaryOp::abs; }

// Where output position p of a padded dimension reads (−1: the fill value): kernels::pad_source, usable on
// the device. An empty input dimension reads nothing.
VIREO_HOST_DEVICE inline int64_t pad_source_index(int64_t p, int64_t before, int64_t extent, PadMode mode) {
  if (extent <= 0) return -1;
  const int64_t s = p - before;
  if (s >= 0 && s < extent) return s;
  switch (mode) {
    case PadMode::constant: return -1;
    case PadMode::reflect: return s < 0 ? -s : 2 * (extent - 1) - s;
    case PadMode::replicate: return s < 0 ? 0 : extent - 1;
  }
  return -1;
}

// The Approx-BP code of one element: how many of the three ascending thresholds it exceeds.
template <class C>
VIREO_HOST_DEVICE inline uint8_t activation_code(C v, C c0, C c1, C c2) {
  return static_cast<uint8_t>((v > c0) + (v > c1) + (v > c2));
}
// Code i of a packed buffer (bits 2·(i mod 4) of byte i/4).
VIREO_HOST_DEVICE inline uint8_t unpack_code(const uint8_t* packed, int64_t i) {
  return static_cast<uint8_t>((packed[i / 4] >> (2 * (i % 4))) & 3);
}

}  // namespace vireo::cuda
