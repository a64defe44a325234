// Gradient clipping by total norm: torch.nn.utils.clip_grad_norm_ (and the norm it computes, which
// training loops log).
//
//   total = (Σ over every gradient element |g|^p)^(1/p)      (max |g| for p = ∞), accumulated in f64
//   coef  = max_norm / (total + 1e-6)
//   every gradient g = coef·g when coef < 1                    (torch multiplies by min(coef, 1))
//
// As in torch, a NaN total makes coef NaN and the gradients NaN (unless error_if_nonfinite), and
// parameters without a gradient are ignored. The sums run in a fixed order, so the total does not depend
// on the thread count.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace vireo::optim {

// The norm of order `norm_type` (> 0, or +∞) of all gradients taken together; 0 when none has one.
double total_grad_norm(const std::vector<Tensor>& params, double norm_type = 2.0);

// Scales the gradients in place so that their total norm is at most max_norm; returns the total norm
// before clipping. With error_if_nonfinite, a NaN or infinite total is an Error and nothing is scaled.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Multiplies every gradient by `factor` in place (a non-contiguous one is replaced by a scaled contiguous
// copy); parameters without a gradient are skipped. What clipping and the loss scaler's unscaling share.
void scale_grads_(const std::vector<Tensor>& params, double factor);

}  // namespace vireo::optim
