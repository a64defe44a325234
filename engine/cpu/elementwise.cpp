// CPU elementwise kernels: one templated loop per arity, specialized for the all-contiguous case so the
// compiler vectorizes it, with the strided walk (engine/cpu/strided.h) for views and broadcasts.
#include <cmath>
#include <iterator>
#include <numbers>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/strided.h"
#include "engine/cpu/vector_exp.h"
#include "engine/kernels/elementwise.h"

namespace vireo::cpu {
namespace {

using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryParams;

template <class T, class F>
void map_unary(const Tensor& x, const Tensor& out, F f) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  if (x.is_contiguous() && out.is_contiguous()) {
    parallel_for(0, out.numel(), 16384, [&](int64_t lo, int64_t hi) {
#pragma omp simd
      for (int64_t i = lo; i < hi; ++i) op[i] = f(xp[i]);
    });
    return;
  }
  for_each_row<2>(out.shape(), {&x.strides(), &out.strides()}, [&](auto offsets, int64_t n, auto inner) {
    for (int64_t i = 0; i < n; ++i) op[offsets[1] + i * inner[1]] = f(xp[offsets[0] + i * inner[0]]);
  });
}

template <class T, class F>
void map_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  if (a.is_contiguous() && b.is_contiguous() && out.is_contiguous()) {
    parallel_for(0, out.numel(), 16384, [&](int64_t lo, int64_t hi) {
#pragma omp simd
      for (int64_t i = lo; i < hi; ++i) op[i] = f(ap[i], bp[i]);
    });
    return;
  }
  for_each_row<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()}, [&](auto o, int64_t n, auto s) {
    const T* ar = ap + o[0];
    const T* br = bp + o[1];
    T* orow = op + o[2];
    if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i], br[i]);
    } else if (s[0] == 1 && s[1] == 0 && s[2] == 1) {  // row op scalar: the common bias broadcast
      const T bv = *br;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) orow[i] = f(ar[i], bv);
    } else {
      for (int64_t i = 0; i < n; ++i) orow[i * s[2]] = f(ar[i * s[0]], br[i * s[1]]);
    }
  });
}

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (op) {
    case BinaryOp::add: return map_binary<T>(a, b, out, [](T x, T y) { return x + y; });
    case BinaryOp::sub: return map_binary<T>(a, b, out, [](T x, T y) { return x - y; });
    case BinaryOp::mul: return map_binary<T>(a, b, out, [](T x, T y) { return x * y; });
    case BinaryOp::div: return map_binary<T>(a, b, out, [](T x, T y) { return x / y; });
    case BinaryOp::pow: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(std::pow(x, y)); });
    case BinaryOp::maximum: return map_binary<T>(a, b, out, [](T x, T y) { return x > y || x != x ? x : y; });
    case BinaryOp::minimum: return map_binary<T>(a, b, out, [](T x, T y) { return x < y || x != x ? x : y; });
    case BinaryOp::eq: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(x == y); });
    case BinaryOp::ne: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(x != y); });
    case BinaryOp::lt: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(x < y); });
    case BinaryOp::le: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(x <= y); });
    case BinaryOp::gt: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(x > y); });
    case BinaryOp::ge: return map_binary<T>(a, b, out, [](T x, T y) { return static_cast<T>(x >= y); });
  }
}

// The ops' names, in the enums' order, for refusals.
const char* name(BinaryOp op) {
  static constexpr const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                          "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
  static_assert(std::size(names) == static_cast<size_t>(BinaryOp::ge) + 1);
  return names[static_cast<size_t>(op)];
}

const char* name(UnaryOp op) {
  static constexpr const char* names[] = {
      "neg",  "exp",  "log",       "sqrt", "rsqrt",   "abs",  "sign",     "square",     "erf",
      "relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "softplus", "leaky_relu", "clamp",
      "add",  "mul",  "pow"};
  static_assert(std::size(names) == static_cast<size_t>(UnaryOp::pow_scalar) + 1);
  return names[static_cast<size_t>(op)];
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (out.dtype()) {
    case DType::f32: return binary_typed<float>(op, a, b, out);
    case DType::f64: return binary_typed<double>(op, a, b, out);
    case DType::i64: return binary_typed<int64_t>(op, a, b, out);
    default: refuse_dtype(name(op), out.dtype());
  }
}

// The scalar math of every unary map, in T. Constants are written once here.
template <class T>
struct UnaryMath {
  static constexpr T kInvSqrt2 = static_cast<T>(0.70710678118654752440);
  static constexpr T kInvSqrt2Pi = static_cast<T>(0.39894228040143267794);
  static constexpr T kSqrt2OverPi = static_cast<T>(0.79788456080286535588);
  static constexpr T kGeluCubic = static_cast<T>(0.044715);
  // exp_kernel: the vectorizable exp for f32 (≤ 2 ulp, engine/cpu/vector_exp.h), std::exp for f64 —
  // glibc's expf is a scalar call that made exp/sigmoid/silu ten times the cost of relu.
  static T exp(T x) { return exp_kernel(x); }
  static T sigmoid(T x) { return T(1) / (T(1) + exp_kernel(-x)); }
};

template <class T>
void unary_typed(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) {
  using M = UnaryMath<T>;
  const T a = static_cast<T>(p.a), b = static_cast<T>(p.b);
  switch (op) {
    case UnaryOp::neg: return map_unary<T>(x, out, [](T v) { return -v; });
    case UnaryOp::exp: return map_unary<T>(x, out, [](T v) { return M::exp(v); });
    case UnaryOp::log: return map_unary<T>(x, out, [](T v) { return std::log(v); });
    case UnaryOp::sqrt: return map_unary<T>(x, out, [](T v) { return std::sqrt(v); });
    case UnaryOp::rsqrt: return map_unary<T>(x, out, [](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::abs: return map_unary<T>(x, out, [](T v) { return std::abs(v); });
    case UnaryOp::sign: return map_unary<T>(x, out, [](T v) { return static_cast<T>((v > T(0)) - (v < T(0))); });
    case UnaryOp::square: return map_unary<T>(x, out, [](T v) { return v * v; });
    case UnaryOp::erf: return map_unary<T>(x, out, [](T v) { return std::erf(v); });
    case UnaryOp::relu: return map_unary<T>(x, out, [](T v) { return v > T(0) ? v : T(0); });
    case UnaryOp::gelu:
      return map_unary<T>(x, out, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * M::kInvSqrt2)); });
    case UnaryOp::gelu_tanh:
      return map_unary<T>(x, out, [](T v) {
        return T(0.5) * v * (T(1) + std::tanh(M::kSqrt2OverPi * (v + M::kGeluCubic * v * v * v)));
      });
    case UnaryOp::silu: return map_unary<T>(x, out, [](T v) { return v * M::sigmoid(v); });
    case UnaryOp::sigmoid: return map_unary<T>(x, out, [](T v) { return M::sigmoid(v); });
    case UnaryOp::tanh: return map_unary<T>(x, out, [](T v) { return std::tanh(v); });
    case UnaryOp::softplus:
      return map_unary<T>(x, out, [a, b](T v) { return a * v > b ? v : std::log1p(M::exp(a * v)) / a; });
    case UnaryOp::leaky_relu: return map_unary<T>(x, out, [a](T v) { return v > T(0) ? v : a * v; });
    case UnaryOp::clamp: return map_unary<T>(x, out, [a, b](T v) { return v < a ? a : (v > b ? b : v); });
    case UnaryOp::add_scalar: return map_unary<T>(x, out, [a](T v) { return v + a; });
    case UnaryOp::mul_scalar: return map_unary<T>(x, out, [a](T v) { return v * a; });
    case UnaryOp::pow_scalar:
      if (p.a == 2.0) return map_unary<T>(x, out, [](T v) { return v * v; });
      return map_unary<T>(x, out, [a](T v) { return static_cast<T>(std::pow(v, a)); });
  }
}

template <class T>
void unary_backward_typed(UnaryOp op, const Tensor& x, const Tensor& g, const Tensor& out, UnaryParams p) {
  using M = UnaryMath<T>;
  const T a = static_cast<T>(p.a), b = static_cast<T>(p.b);
  auto run = [&](auto derivative) { map_binary<T>(x, g, out, [derivative](T v, T gv) { return gv * derivative(v); }); };
  switch (op) {
    case UnaryOp::neg: return run([](T) { return T(-1); });
    case UnaryOp::exp: return run([](T v) { return M::exp(v); });
    case UnaryOp::log: return run([](T v) { return T(1) / v; });
    case UnaryOp::sqrt: return run([](T v) { return T(0.5) / std::sqrt(v); });
    case UnaryOp::rsqrt: return run([](T v) { return T(-0.5) / (v * std::sqrt(v)); });
    case UnaryOp::abs: return run([](T v) { return static_cast<T>((v > T(0)) - (v < T(0))); });
    case UnaryOp::sign: return run([](T) { return T(0); });
    case UnaryOp::square: return run([](T v) { return T(2) * v; });
    case UnaryOp::erf: return run([](T v) { return T(2) * M::kInvSqrt2Pi * std::sqrt(T(2)) * M::exp(-v * v); });
    case UnaryOp::relu: return run([](T v) { return v > T(0) ? T(1) : T(0); });
    case UnaryOp::gelu:
      // d/dx x·Φ(x) = Φ(x) + x·φ(x)
      return run([](T v) {
        return T(0.5) * (T(1) + std::erf(v * M::kInvSqrt2)) + v * M::kInvSqrt2Pi * M::exp(T(-0.5) * v * v);
      });
    case UnaryOp::gelu_tanh:
      return run([](T v) {
        const T t = std::tanh(M::kSqrt2OverPi * (v + M::kGeluCubic * v * v * v));
        return T(0.5) * (T(1) + t) +
               T(0.5) * v * (T(1) - t * t) * M::kSqrt2OverPi * (T(1) + T(3) * M::kGeluCubic * v * v);
      });
    case UnaryOp::silu:
      return run([](T v) {
        const T s = M::sigmoid(v);
        return s * (T(1) + v * (T(1) - s));
      });
    case UnaryOp::sigmoid:
      return run([](T v) {
        const T s = M::sigmoid(v);
        return s * (T(1) - s);
      });
    case UnaryOp::tanh:
      return run([](T v) {
        const T t = std::tanh(v);
        return T(1) - t * t;
      });
    case UnaryOp::softplus: return run([a, b](T v) { return a * v > b ? T(1) : M::sigmoid(a * v); });
    case UnaryOp::leaky_relu: return run([a](T v) { return v > T(0) ? T(1) : a; });
    case UnaryOp::clamp: return run([a, b](T v) { return v >= a && v <= b ? T(1) : T(0); });
    case UnaryOp::add_scalar: return run([](T) { return T(1); });
    case UnaryOp::mul_scalar: return run([a](T) { return a; });
    case UnaryOp::pow_scalar: return run([a](T v) { return a * static_cast<T>(std::pow(v, a - T(1))); });
  }
}

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  switch (out.dtype()) {
    case DType::f32: return unary_typed<float>(op, x, out, params);
    case DType::f64: return unary_typed<double>(op, x, out, params);
    case DType::i64:
      if (op == UnaryOp::neg) return map_unary<int64_t>(x, out, [](int64_t v) { return -v; });
      if (op == UnaryOp::abs) return map_unary<int64_t>(x, out, [](int64_t v) { return v < 0 ? -v : v; });
      fail("unary: this op is not defined for i64 tensors");
    default: refuse_dtype(name(op), out.dtype());
  }
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& g, const Tensor& out, UnaryParams params) {
  switch (out.dtype()) {
    case DType::f32: return unary_backward_typed<float>(op, x, g, out, params);
    case DType::f64: return unary_backward_typed<double>(op, x, g, out, params);
    case DType::i64: fail("unary_backward: i64 tensors have no gradient");
    default: refuse_dtype(name(op), out.dtype());
  }
}

template <class T>
void where_typed(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& out) {
  const T* cp = static_cast<const T*>(c.raw_data());
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  for_each_row<4>(out.shape(), {&c.strides(), &a.strides(), &b.strides(), &out.strides()},
                  [&](auto o, int64_t n, auto s) {
                    for (int64_t i = 0; i < n; ++i)
                      op[o[3] + i * s[3]] = cp[o[0] + i * s[0]] != T(0) ? ap[o[1] + i * s[1]] : bp[o[2] + i * s[2]];
                  });
}

void where(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& out) {
  switch (out.dtype()) {
    case DType::f32: return where_typed<float>(c, a, b, out);
    case DType::f64: return where_typed<double>(c, a, b, out);
    case DType::i64: return where_typed<int64_t>(c, a, b, out);
    default: refuse_dtype("where", out.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::binary, DeviceType::cpu, binary);
VIREO_REGISTER_KERNEL(kernels::unary, DeviceType::cpu, unary);
VIREO_REGISTER_KERNEL(kernels::unary_backward, DeviceType::cpu, unary_backward);
VIREO_REGISTER_KERNEL(kernels::where, DeviceType::cpu, where);

}  // namespace vireo::cpu
