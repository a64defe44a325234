// The per-element optimizer updates of the CUDA kernels (engine/cuda/optim.cu), written once for the device
// and the host so that tests/cuda/test_cuda_optim.cpp checks them against the CPU optimizer kernels. Each
// is the CPU's formula (engine/cpu/optim.cpp) operation for operation, in the operands' type T, with the
// scalars converted to T once as the CPU converts them:
//   SGD    d = (maximize ? −g : g) + wd·p;  buf = first ? d : momentum·buf + (1 − dampening)·d;
//          d = nesterov ? d + momentum·buf : buf;  p = p − lr·d
//   Adam   p = p·(1 − lr·wd) (AdamW) or g = g + wd·p (Adam);  m = lerp(m, g, 1 − β1);  v = β2·v + (1 − β2)·g²;
//          v_max = max(v_max, v) (amsgrad);  p = p − step_size·m / (√v / √(1 − β2^t) + eps)
//   LARS   d = (g + wd·p)·trust_ratio;  buf = momentum·buf + d;  p = p − lr·buf
#pragma once

#include <cmath>

#include "engine/cuda/common.h"
#include "engine/cuda/multi_tensor.h"
#include "engine/kernels/optim.h"

namespace vireo::cuda {

VIREO_HOST_DEVICE inline float sqrt_of(float x) { return sqrtf(x); }
VIREO_HOST_DEVICE inline double sqrt_of(double x) { return sqrt(x); }

// ---- SGD ----

template <class T>
struct SgdScalars {
  T lr, weight_decay, momentum, keep;  // keep = 1 − dampening
  bool decay, maximize, nesterov, first_step, has_momentum;
};

template <class T>
SgdScalars<T> sgd_scalars(const kernels::SgdUpdate& u) {
  return SgdScalars<T>{static_cast<T>(u.lr),           static_cast<T>(u.weight_decay), static_cast<T>(u.momentum),
                       static_cast<T>(1.0 - u.dampening), u.weight_decay != 0.0,        u.maximize,
                       u.nesterov,                     u.first_step,                   u.momentum != 0.0};
}

// One element; `buf` is only touched when the update has momentum.
template <class T>
VIREO_HOST_DEVICE inline void sgd_step(T& p, T g, T& buf, const SgdScalars<T>& s) {
  T d = s.maximize ? -g : g;
  if (s.decay) d = d + s.weight_decay * p;
  if (s.has_momentum) {
    const T b = s.first_step ? d : buf * s.momentum + s.keep * d;
    buf = b;
    d = s.nesterov ? d + s.momentum * b : b;
  }
  p = p + -s.lr * d;
}

// ---- Adam / AdamW ----

// torch's lerp (ATen/native/Lerp.h): the form that is exact at whichever end the weight is near.
template <class T>
VIREO_HOST_DEVICE inline T torch_lerp(T start, T end, T weight, bool weight_is_small) {
  return weight_is_small ? start + weight * (end - start) : end - (end - start) * (T(1) - weight);
}

template <class T>
struct AdamScalars {
  bool maximize, decoupled, coupled, average_weight_is_small, amsgrad;
  T weight_decay, decay_factor, average_weight, beta2, one_minus_beta2, bias_correction2_sqrt, eps, minus_step_size;
};

template <class T>
AdamScalars<T> adam_scalars(const kernels::AdamUpdate& u) {
  AdamScalars<T> s;
  s.maximize = u.maximize;
  s.decoupled = u.decoupled_weight_decay && u.weight_decay != 0.0;
  s.coupled = !u.decoupled_weight_decay && u.weight_decay != 0.0;
  s.average_weight_is_small = std::abs(1.0 - u.beta1) < 0.5;
  s.amsgrad = u.amsgrad;
  s.weight_decay = static_cast<T>(u.weight_decay);
  s.decay_factor = static_cast<T>(1.0 - u.lr * u.weight_decay);
  s.average_weight = static_cast<T>(1.0 - u.beta1);
  s.beta2 = static_cast<T>(u.beta2);
  s.one_minus_beta2 = static_cast<T>(1.0 - u.beta2);
  s.bias_correction2_sqrt = static_cast<T>(u.bias_correction2_sqrt);
  s.eps = static_cast<T>(u.eps);
  s.minus_step_size = static_cast<T>(-u.step_size);
  return s;
}

// One element; `v_max` is only touched with amsgrad.
template <class T>
VIREO_HOST_DEVICE inline void adam_step(T& p, T g, T& m, T& v, T& v_max, const AdamScalars<T>& s) {
  T gi = s.maximize ? -g : g;
  T pi = p;
  if (s.decoupled) pi = pi * s.decay_factor;
  if (s.coupled) gi = gi + s.weight_decay * pi;
  const T mi = torch_lerp(m, gi, s.average_weight, s.average_weight_is_small);
  const T vi = v * s.beta2 + s.one_minus_beta2 * gi * gi;
  m = mi;
  v = vi;
  T second = vi;
  if (s.amsgrad) {
    second = (vi > v_max || vi != vi) ? vi : v_max;  // torch.maximum: NaN wins
    v_max = second;
  }
  const T denom = sqrt_of(second) / s.bias_correction2_sqrt + s.eps;
  p = pi + s.minus_step_size * (mi / denom);
}

// ---- many parameters per launch (kernels::*_update_many) ----

// The tables of one multi-tensor launch (engine/cuda/multi_tensor.h) travel as kernel arguments, sized to
// fit CUDA's classic 4 KB of kernel parameters in f64 (static_asserts in optim.cu). Chunks of 16,384
// elements keep an H100's 132 SMs busy even on a small model: 64 elements per thread of a 256-thread block.
constexpr int64_t kOptimizerChunk = 16384;
constexpr int kOptimizerLaunchBlocks = 320;
constexpr MultiTensorLimits kSgdLaunchLimits{.tensors = 32, .blocks = kOptimizerLaunchBlocks,
                                             .chunk = kOptimizerChunk};
constexpr MultiTensorLimits kAdamLaunchLimits{.tensors = 18, .blocks = kOptimizerLaunchBlocks,
                                              .chunk = kOptimizerChunk};

// The block table both launches share: block b updates chunk[b] of the tensor in slot[b].
struct MultiTensorBlocks {
  unsigned char slot[kOptimizerLaunchBlocks];
  int32_t chunk[kOptimizerLaunchBlocks];
};

template <class T>
struct SgdLaunch {
  T* p[kSgdLaunchLimits.tensors];
  const T* g[kSgdLaunchLimits.tensors];
  T* buf[kSgdLaunchLimits.tensors];
  int64_t n[kSgdLaunchLimits.tensors];
  SgdScalars<T> s[kSgdLaunchLimits.tensors];
  MultiTensorBlocks blocks;
};

template <class T>
struct AdamLaunch {
  T* p[kAdamLaunchLimits.tensors];
  const T* g[kAdamLaunchLimits.tensors];
  T* m[kAdamLaunchLimits.tensors];
  T* v[kAdamLaunchLimits.tensors];
  T* v_max[kAdamLaunchLimits.tensors];
  int64_t n[kAdamLaunchLimits.tensors];
  AdamScalars<T> s[kAdamLaunchLimits.tensors];
  MultiTensorBlocks blocks;
};

// LARS in three multi-tensor passes (optim.cu): block partials of both norms, the ratios, the updates.
constexpr MultiTensorLimits kLarsLaunchLimits{.tensors = 32, .blocks = kOptimizerLaunchBlocks,
                                              .chunk = kOptimizerChunk};
constexpr int kLarsRatiosPerLaunch = 64;

template <class T>
struct LarsLaunch {
  T* p[kLarsLaunchLimits.tensors];
  const T* g[kLarsLaunchLimits.tensors];
  T* buf[kLarsLaunchLimits.tensors];
  int64_t n[kLarsLaunchLimits.tensors];
  const double* ratio[kLarsLaunchLimits.tensors];
  T lr[kLarsLaunchLimits.tensors], weight_decay[kLarsLaunchLimits.tensors], momentum[kLarsLaunchLimits.tensors];
  bool adapt[kLarsLaunchLimits.tensors];
  int64_t first_partial;  // the step-wide index of this launch's block 0 among the norm partials
  MultiTensorBlocks blocks;
};

// Tensor t's ratio from the norm partials [first[t], first[t] + count[t]) (count 0: ratio 1).
struct LarsRatioLaunch {
  double* ratio[kLarsRatiosPerLaunch];
  int64_t first[kLarsRatiosPerLaunch], count[kLarsRatiosPerLaunch];
  double trust_coefficient[kLarsRatiosPerLaunch], eps[kLarsRatiosPerLaunch];
};

// ---- LARS ----

// d = g + wd·p in T, as both the norm pass and the update compute it.
template <class T>
VIREO_HOST_DEVICE inline T lars_direction(T p, T g, T weight_decay) {
  return g + weight_decay * p;
}

// η‖p‖ / (‖d‖ + eps) when both norms are positive, else 1.
VIREO_HOST_DEVICE inline double lars_trust_ratio(double param_squared, double update_squared, double trust_coefficient,
                                                 double eps) {
  const double param_norm = sqrt(param_squared), update_norm = sqrt(update_squared);
  return param_norm > 0.0 && update_norm > 0.0 ? trust_coefficient * param_norm / (update_norm + eps) : 1.0;
}

template <class T>
VIREO_HOST_DEVICE inline void lars_step(T& p, T g, T& buf, T lr, T weight_decay, T momentum, T ratio) {
  const T d = lars_direction(p, g, weight_decay) * ratio;
  const T b = momentum * buf + d;
  buf = b;
  p = p - lr * b;
}

// ---- gradient-norm pieces ----

// The term one element adds to Σ|x|^p (p finite, > 0), with the CPU's special cases for p = 1 and 2.
VIREO_HOST_DEVICE inline double power_term(double x, double power) {
  if (power == 2.0) return x * x;
  if (power == 1.0) return fabs(x);
  return pow(fabs(x), power);
}

// max with NaN propagating (torch's inf-norm).
VIREO_HOST_DEVICE inline double max_propagating_nan(double a, double b) {
  if (a != a || b != b) return a != a ? a : b;
  return a > b ? a : b;
}

}  // namespace vireo::cuda
