// The optimizer update kernels: one fused pass per parameter per step, so an update reads the parameter,
// its gradient and its state once and writes them once, with no temporaries. The front ends
// (engine/optim/*.cpp) pass contiguous operands of one floating dtype (f32 or f64) that share the
// parameter's shape and device; the scalars arrive in f64 and the kernels compute in the operands' dtype,
// as torch does, except the norms, which accumulate in f64.
#pragma once

#include <cstdint>
#include <vector>

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

// The same two updates for many parameters in one call: each item is one parameter with its operands and
// its own scalars (every parameter group has its own lr and weight decay, every parameter its own step
// count), f32 and f64 items mixed, every operand on the call's device. The result is exactly that of the
// one-parameter kernel applied to each item in turn (the items are disjoint, so their order does not
// matter). The CPU does just that; a GPU packs the items into a few multi-tensor launches
// (engine/cuda/multi_tensor.h) instead of one launch per parameter, which for the small tensors of a
// ResNet's biases and norms would cost more in launch latency than in work.
struct SgdOperands {
  Tensor param, grad, momentum_buffer;  // momentum_buffer undefined when momentum = 0
  SgdUpdate update;
};
inline Kernel<void(const std::vector<SgdOperands>& items)> sgd_update_many{"sgd_update_many"};

struct AdamOperands {
  Tensor param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq;  // max_exp_avg_sq undefined unless amsgrad
  AdamUpdate update;
};
inline Kernel<void(const std::vector<AdamOperands>& items)> adam_update_many{"adam_update_many"};

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

// LARS for many parameters in one call, as sgd_update_many is for SGD: each item's trust ratio from its own
// two norms, written into its own `trust_ratio`. On a GPU the norms of all the items are reduced in one pass
// of multi-tensor launches, the ratios in another, and the updates in a third — three kinds of launch per
// step instead of three launches per parameter. The block partition of the norms differs from the
// one-parameter kernel's, so a GPU ratio may differ from lars_update's in the last bits; both are fixed
// for given sizes.
struct LarsOperands {
  Tensor param, grad, momentum_buffer;
  LarsUpdate update;
  Tensor trust_ratio;  // 0-d f64 on the parameter's device
};
inline Kernel<void(const std::vector<LarsOperands>& items)> lars_update_many{"lars_update_many"};

// The p-th power sum Σ|x|^p of a tensor in f64 (p finite and > 0), or max|x| when p = +∞ (NaN when any
// element is NaN). The building block of gradient-norm clipping; reduced in a fixed order, so the result
// does not depend on the thread count.
inline Kernel<void(const Tensor& x, double norm_type, double& result)> norm_power_sum{"norm_power_sum"};

// x = factor·x, in place (gradient clipping).
inline Kernel<void(const Tensor& x, double factor)> scale_in_place{"scale_in_place"};

}  // namespace vireo::kernels
