// CUDA elementwise kernels: binary, unary, unary_backward and where. Each is a grid-stride loop over the
// output's elements; all-contiguous operands index directly, views and broadcasts (stride 0) go through
// OffsetCalculator. The per-element math is engine/cuda/elementwise_math.h, shared with the host tests, and
// runs in Compute<T> (f32 for f16/bf16). One kernel per (dtype, arity) serves every op.
//
// Dtypes: f32, f64, f16, bf16; i64 where the CPU computes in it (binary, neg/abs, where).
#include <type_traits>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/elementwise_math.h"
#include "engine/kernels/elementwise.h"

namespace vireo::cuda {
namespace {

using kernels::UnaryParams;

const char* name(BinaryOp op) {
  static constexpr const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                          "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(BinaryOp::ge) + 1);
  return names[static_cast<int>(op)];
}

const char* name(UnaryOp op) {
  static constexpr const char* names[] = {
      "neg",  "exp",  "log",       "sqrt", "rsqrt",   "abs",  "sign",     "square",     "erf",
      "relu", "gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "softplus", "leaky_relu", "clamp",
      "add",  "mul",  "pow"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(UnaryOp::pow_scalar) + 1);
  return names[static_cast<int>(op)];
}

// ---- the per-element functors (storage type in, storage type out) ----

template <class T>
struct BinaryFunctor {
  BinaryOp op;
  __device__ T operator()(T x, T y) const { return store<T>(binary_value<Compute<T>>(op, load(x), load(y))); }
};

template <class T>
struct UnaryFunctor {
  UnaryOp op;
  Compute<T> a, b;
  __device__ T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) return unary_integer_value(op, x);
    else return store<T>(unary_value<Compute<T>>(op, load(x), a, b));
  }
};

// grad_input = grad_output · f'(x), as a binary map of (x, grad_output).
template <class T>
struct UnaryBackwardFunctor {
  UnaryOp op;
  Compute<T> a, b;
  __device__ T operator()(T x, T g) const { return store<T>(load(g) * unary_derivative<Compute<T>>(op, load(x), a, b)); }
};

// ---- the loops ----

template <class T, class F>
__global__ void map_unary(const T* __restrict__ x, T* __restrict__ out, int64_t n, bool contiguous,
                          OffsetCalculator<2> calc, F f) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    if (contiguous) {
      out[i] = f(x[i]);
    } else {
      int64_t at[2];
      calc.offsets(i, at);
      out[at[1]] = f(x[at[0]]);
    }
  }
}

template <class T, class F>
__global__ void map_binary(const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ out, int64_t n,
                           bool contiguous, OffsetCalculator<3> calc, F f) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    if (contiguous) {
      out[i] = f(a[i], b[i]);
    } else {
      int64_t at[3];
      calc.offsets(i, at);
      out[at[2]] = f(a[at[0]], b[at[1]]);
    }
  }
}

template <class T>
__global__ void where_kernel(const T* __restrict__ c, const T* __restrict__ a, const T* __restrict__ b,
                             T* __restrict__ out, int64_t n, OffsetCalculator<4> calc) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t at[4];
    calc.offsets(i, at);
    out[at[3]] = load(c[at[0]]) != Compute<T>(0) ? a[at[1]] : b[at[2]];
  }
}

template <class T, class F>
void launch_unary(const Tensor& x, const Tensor& out, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const bool contiguous = x.is_contiguous() && out.is_contiguous();
  const auto calc = contiguous ? OffsetCalculator<2>{}
                               : make_offset_calculator<2>(out.shape(), {&x.strides(), &out.strides()});
  map_unary<<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                      static_cast<T*>(out.raw_data()), n, contiguous, calc, f);
  VIREO_CUDA_CHECK_LAUNCH();
}

template <class T, class F>
void launch_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const bool contiguous = a.is_contiguous() && b.is_contiguous() && out.is_contiguous();
  const auto calc = contiguous ? OffsetCalculator<3>{}
                               : make_offset_calculator<3>(out.shape(), {&a.strides(), &b.strides(), &out.strides()});
  map_binary<<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(a.raw_data()),
                                                       static_cast<const T*>(b.raw_data()),
                                                       static_cast<T*>(out.raw_data()), n, contiguous, calc, f);
  VIREO_CUDA_CHECK_LAUNCH();
}

// Floating dtypes, plus i64 for the kernels whose CPU twin has it.
template <class Body>
void dispatch_floating_or_i64(const char* op, DType dtype, Body&& body) {
  if (dtype == DType::i64) return body(int64_t{});
  dispatch_floating(op, dtype, body);
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating_or_i64(name(op), out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    launch_binary<T>(a, b, out, BinaryFunctor<T>{op});
  });
}

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  if (out.dtype() == DType::i64) {
    VIREO_CHECK(unary_defined_for_integers(op), "unary: ", name(op), " is not defined for i64 tensors");
    return launch_unary<int64_t>(x, out, UnaryFunctor<int64_t>{op, 0, 0});
  }
  dispatch_floating(name(op), out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    launch_unary<T>(x, out, UnaryFunctor<T>{op, static_cast<C>(params.a), static_cast<C>(params.b)});
  });
}

void unary_backward(UnaryOp op, const Tensor& x, const Tensor& g, const Tensor& grad_input, UnaryParams params) {
  VIREO_CHECK(grad_input.dtype() != DType::i64, "unary_backward: i64 tensors have no gradient (", name(op), ")");
  dispatch_floating(name(op), grad_input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    launch_binary<T>(x, g, grad_input, UnaryBackwardFunctor<T>{op, static_cast<C>(params.a), static_cast<C>(params.b)});
  });
}

void where(const Tensor& condition, const Tensor& a, const Tensor& b, const Tensor& out) {
  dispatch_floating_or_i64("where", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = out.numel();
    if (n == 0) return;
    const auto calc = make_offset_calculator<4>(
        out.shape(), {&condition.strides(), &a.strides(), &b.strides(), &out.strides()});
    where_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<const T*>(condition.raw_data()), static_cast<const T*>(a.raw_data()),
        static_cast<const T*>(b.raw_data()), static_cast<T*>(out.raw_data()), n, calc);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::binary, DeviceType::cuda, binary);
VIREO_REGISTER_KERNEL(kernels::unary, DeviceType::cuda, unary);
VIREO_REGISTER_KERNEL(kernels::unary_backward, DeviceType::cuda, unary_backward);
VIREO_REGISTER_KERNEL(kernels::where, DeviceType::cuda, where);

}  // namespace vireo::cuda
