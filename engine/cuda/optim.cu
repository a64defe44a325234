// CUDA optimizer kernels (engine/kernels/optim.h): each update is one grid-stride pass that reads a
// parameter, its gradient and its state once and writes them once, with the per-element formulas of
// engine/cuda/optim_math.h (the CPU's, operation for operation).
//
// Norms (LARS trust ratios, gradient clipping) are reduced in two passes whose split depends only on the
// element count: a fixed number of blocks each sum a fixed strided share in double (tree order inside the
// block), then one thread adds the block partials in order. The result is therefore the same on every run.
// LARS computes its trust ratio on the device into the caller's 0-d tensor and the update kernel reads it
// from there: a LARS step launches its kernels back to back without waiting for the GPU. The norm sum of
// gradient clipping is copied to the host because the kernel contract returns it.
#include <algorithm>
#include <cmath>

#include "engine/cuda/common.h"
#include "engine/cuda/optim_math.h"
#include "engine/cuda/reduce.cuh"
#include "engine/kernels/optim.h"

namespace vireo::cuda {
namespace {

using kernels::AdamUpdate;
using kernels::LarsUpdate;
using kernels::SgdUpdate;

constexpr int kReduceThreads = 256;
constexpr int64_t kReduceItemsPerThread = 16;  // at least this many elements per thread before another block
constexpr int64_t kMaxReduceBlocks = 1024;

// Blocks of the first reduction pass: a function of n alone.
int64_t reduce_blocks(int64_t n) {
  return std::clamp<int64_t>((n + kReduceThreads * kReduceItemsPerThread - 1) / (kReduceThreads * kReduceItemsPerThread),
                             1, kMaxReduceBlocks);
}

// Runs body(T{}) for f32 and f64 parameters; anything else is refused naming the op.
template <class Body>
void dispatch_parameters(const char* op, const char* what, DType dtype, Body&& body) {
  if (dtype == DType::f32) return body(float{});
  if (dtype == DType::f64) return body(double{});
  fail(op, ": ", what, " must be f32 or f64, not ", dtype);
}

// ---- SGD ----

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n, SgdScalars<T> s) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    T parameter = p[i];
    T momentum = s.has_momentum ? buf[i] : T(0);
    sgd_step(parameter, g[i], momentum, s);
    p[i] = parameter;
    if (s.has_momentum) buf[i] = momentum;
  }
}

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdUpdate& update) {
  dispatch_parameters("sgd_update", "parameters", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    if (n == 0) return;
    const SgdScalars<T> s = sgd_scalars<T>(update);
    T* buf = s.has_momentum ? static_cast<T*>(momentum_buffer.raw_data()) : nullptr;
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(param.raw_data()),
                                                           static_cast<const T*>(grad.raw_data()), buf, n, s);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---- Adam / AdamW ----

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                            T* __restrict__ v_max, int64_t n, AdamScalars<T> s) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    T parameter = p[i], average = m[i], square = v[i];
    T largest = s.amsgrad ? v_max[i] : T(0);
    adam_step(parameter, g[i], average, square, largest, s);
    p[i] = parameter;
    m[i] = average;
    v[i] = square;
    if (s.amsgrad) v_max[i] = largest;
  }
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor& max_exp_avg_sq, const AdamUpdate& update) {
  dispatch_parameters("adam_update", "parameters", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    if (n == 0) return;
    const AdamScalars<T> s = adam_scalars<T>(update);
    T* v_max = s.amsgrad ? static_cast<T*>(max_exp_avg_sq.raw_data()) : nullptr;
    adam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()), static_cast<T*>(exp_avg.raw_data()),
        static_cast<T*>(exp_avg_sq.raw_data()), v_max, n, s);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---- LARS ----

// Block partials of ‖p‖² and ‖d‖² (d = g + wd·p in T), two doubles per block.
template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    lars_norm_partials(const T* __restrict__ p, const T* __restrict__ g, int64_t n, T weight_decay,
                       double* __restrict__ partial) {
  __shared__ double scratch[kReduceThreads / kWarpSize];
  double pp = 0.0, dd = 0.0;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double pi = static_cast<double>(p[i]), di = static_cast<double>(lars_direction(p[i], g[i], weight_decay));
    pp += pi * pi;
    dd += di * di;
  }
  pp = block_sum(pp, scratch);
  dd = block_sum(dd, scratch);
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = pp;
    partial[2 * blockIdx.x + 1] = dd;
  }
}

// With blocks = 0 (no partials: both norms 0) the ratio is 1, the value for a parameter excluded from adaptation.
__global__ void lars_trust_ratio_kernel(const double* __restrict__ partial, int64_t blocks, double trust_coefficient,
                                        double eps, double* __restrict__ ratio) {
  double pp = 0.0, dd = 0.0;
  for (int64_t b = 0; b < blocks; ++b) {
    pp += partial[2 * b];
    dd += partial[2 * b + 1];
  }
  *ratio = lars_trust_ratio(pp, dd, trust_coefficient, eps);
}

template <class T>
__global__ void lars_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n, T lr,
                            T weight_decay, T momentum, const double* __restrict__ ratio) {
  const T r = static_cast<T>(*ratio);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    T parameter = p[i], velocity = buf[i];
    lars_step(parameter, g[i], velocity, lr, weight_decay, momentum, r);
    p[i] = parameter;
    buf[i] = velocity;
  }
}

void lars_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const LarsUpdate& update,
                 const Tensor& trust_ratio) {
  dispatch_parameters("lars_update", "parameters", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    T* p = static_cast<T*>(param.raw_data());
    const T* g = static_cast<const T*>(grad.raw_data());
    const T weight_decay = static_cast<T>(update.weight_decay);
    double* ratio = static_cast<double*>(trust_ratio.raw_data());
    // An empty or excluded parameter gets the ratio 1 (from no partials); the others their norms' ratio.
    const int64_t blocks = update.adapt && n > 0 ? reduce_blocks(n) : 0;
    DeviceBuffer scratch(sizeof(double) * std::max<int64_t>(2 * blocks, 1), param.device().index);
    double* partial = scratch.as<double>();
    if (blocks > 0) {
      lars_norm_partials<T><<<static_cast<unsigned>(blocks), kReduceThreads, 0, stream()>>>(p, g, n, weight_decay, partial);
      VIREO_CUDA_CHECK_LAUNCH();
    }
    lars_trust_ratio_kernel<<<1, 1, 0, stream()>>>(partial, blocks, update.trust_coefficient, update.eps, ratio);
    VIREO_CUDA_CHECK_LAUNCH();
    if (n == 0) return;
    lars_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(p, g, static_cast<T*>(momentum_buffer.raw_data()), n,
                                                            static_cast<T>(update.lr), weight_decay,
                                                            static_cast<T>(update.momentum), ratio);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---- norms and scaling for gradient clipping ----

// Block partials of Σ|x|^p, or of max|x| (NaN propagating) when `largest`.
template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    norm_partials(const T* __restrict__ x, int64_t n, double power, bool largest, double* __restrict__ partial) {
  __shared__ double scratch[kReduceThreads];
  double acc = 0.0;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double xi = static_cast<double>(x[i]);
    acc = largest ? max_propagating_nan(acc, fabs(xi)) : acc + power_term(xi, power);
  }
  if (!largest) {
    acc = block_sum(acc, scratch);
  } else {
    scratch[threadIdx.x] = acc;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (threadIdx.x < stride) scratch[threadIdx.x] = max_propagating_nan(scratch[threadIdx.x], scratch[threadIdx.x + stride]);
      __syncthreads();
    }
    acc = scratch[0];
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void fold_partials(double* __restrict__ partial, int64_t blocks, bool largest) {
  double total = 0.0;
  for (int64_t b = 0; b < blocks; ++b) total = largest ? max_propagating_nan(total, partial[b]) : total + partial[b];
  partial[blocks] = total;
}

void norm_power_sum(const Tensor& x, double norm_type, double& result) {
  dispatch_parameters("norm_power_sum", "tensors", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.numel();
    result = 0.0;
    if (n == 0) return;
    const bool largest = std::isinf(norm_type);
    const int64_t blocks = reduce_blocks(n);
    DeviceBuffer scratch(sizeof(double) * (blocks + 1));
    norm_partials<T><<<static_cast<unsigned>(blocks), kReduceThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), n, norm_type, largest, scratch.as<double>());
    VIREO_CUDA_CHECK_LAUNCH();
    fold_partials<<<1, 1, 0, stream()>>>(scratch.as<double>(), blocks, largest);
    VIREO_CUDA_CHECK_LAUNCH();
    VIREO_CUDA_CHECK(cudaMemcpyAsync(&result, scratch.as<double>() + blocks, sizeof(double), cudaMemcpyDeviceToHost, stream()));
    VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
  });
}

template <class T>
__global__ void scale_kernel(T* __restrict__ x, int64_t n, T factor) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) x[i] = x[i] * factor;
}

void scale_in_place(const Tensor& x, double factor) {
  dispatch_parameters("scale_in_place", "tensors", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.numel();
    if (n == 0) return;
    scale_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(x.raw_data()), n, static_cast<T>(factor));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::sgd_update, DeviceType::cuda, sgd_update);
VIREO_REGISTER_KERNEL(kernels::adam_update, DeviceType::cuda, adam_update);
VIREO_REGISTER_KERNEL(kernels::lars_update, DeviceType::cuda, lars_update);
VIREO_REGISTER_KERNEL(kernels::norm_power_sum, DeviceType::cuda, norm_power_sum);
VIREO_REGISTER_KERNEL(kernels::scale_in_place, DeviceType::cuda, scale_in_place);

}  // namespace vireo::cuda
