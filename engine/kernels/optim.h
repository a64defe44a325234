// The optimizer update kernels: one fused pass per parameter per step, so an update reads the parameter,
// its gradient and its state once and writes them once, with no temporaries. The front ends
// (engine/optim/*.cpp) pass contiguous operands of one floating dtype (f32 or f64) that share the
// parameter's shape and device; the scalars arrive in f64 and the kernels compute in the operands' dtype,
// as torch does, except the norms, which accumulate in f64.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// torch.optim.SGD, one parameter:
//   d = (maximize ? −g : g) + weight_decay·p
//   buf = d on the first step, else momentum·buf + (1 − dampening)·d      (only when momentum ≠ 0)
//   d = nesterov ? d + momentum·buf : buf                                   (only when momentum ≠ 0)
//   p = p − lr·d
struct SgdUpdate {
  double lr = 0.0;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
  bool first_step = false;  // the momentum buffer holds nothing yet: it becomes d
};
// `momentum_buffer` is undefined when momentum = 0.
inline Kernel<void(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdUpdate& update)>
    sgd_update{"sgd_update"};

// torch.optim.Adam / AdamW, one parameter at step t (the scalars that depend on t come precomputed in f64):
//   g = maximize ? −g : g
//   AdamW: p = p·(1 − lr·weight_decay)            Adam: g = g + weight_decay·p
//   m = lerp(m, g, 1 − β1)                         (torch's lerp: m + (1 − β1)(g − m))
//   v = β2·v + (1 − β2)·g²
//   amsgrad: v_max = max(v_max, v), used in place of v below
//   p = p − step_size · m / (√v / bias_correction2_sqrt + eps)
// with step_size = lr / (1 − β1^t) and bias_correction2_sqrt = √(1 − β2^t).
struct AdamUpdate {
  double lr = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double step_size = 0.0;
  double bias_correction2_sqrt = 1.0;
  bool decoupled_weight_decay = false;  // AdamW
  bool amsgrad = false;
  bool maximize = false;
};
// `max_exp_avg_sq` is undefined unless amsgrad.
inline Kernel<void(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const Tensor& max_exp_avg_sq, const AdamUpdate& update)>
    adam_update{"adam_update"};

// LARS as BYOL applies it (see engine/optim/lars.h), one parameter:
//   d = g + weight_decay·p
//   adapt: d = trust_ratio·d,  trust_ratio = η‖p‖ / (‖d‖ + eps) when ‖p‖ > 0 and ‖d‖ > 0, else 1
//   buf = momentum·buf + d
//   p = p − lr·buf
// The kernel computes both norms itself (a first, read-only pass, reduced in a fixed order so the result
// does not depend on the thread count), then makes the update pass. Writes the trust ratio it applied into
// `trust_ratio`, a 0-d f64 tensor on the parameter's device: on a GPU the ratio goes from the norm kernels to
// the update kernel without a trip to the host, and nobody waits for it unless it is read.
struct LarsUpdate {
  double lr = 0.0;
  double momentum = 0.9;
  double weight_decay = 0.0;
  double trust_coefficient = 1e-3;
  double eps = 0.0;
  bool adapt = true;  // false for parameters excluded from adaptation (biases, normalization)
};
inline Kernel<void(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const LarsUpdate& update,
                   const Tensor& trust_ratio)>
    lars_update{"lars_update"};

// The p-th power sum Σ|x|^p of a tensor in f64 (p finite and > 0), or max|x| when p = +∞ (NaN when any
// element is NaN). The building block of gradient-norm clipping; reduced in a fixed order, so the result
// does not depend on the thread count.
inline Kernel<void(const Tensor& x, double norm_type, double& result)> norm_power_sum{"norm_power_sum"};

// x = factor·x, in place (gradient clipping).
inline Kernel<void(const Tensor& x, double factor)> scale_in_place{"scale_in_place"};

}  // namespace vireo::kernels
