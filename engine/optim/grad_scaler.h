// Dynamic loss scaling for f16 mixed precision (Micikevicius et al., "Mixed Precision Training", 2018; the
// rule of torch.cuda.amp.GradScaler).
//
// f16 keeps 11 significant bits and, below 6.1e-5, loses precision until it reaches zero at 6e-8: the small
// gradients of an f16 backward pass underflow. The backward pass is linear in the gradient it starts from,
// so multiplying the loss by S multiplies every gradient by S, lifting them into f16's range; the f32
// gradients of the f32 master weights are divided by S again before the optimizer reads them. S adapts:
//
//   - a step whose gradients hold an inf or NaN (S was too large: something overflowed) is skipped — the
//     parameters and the optimizer state stay as they were — and S ← S · backoff_factor (0.5);
//   - after growth_interval (2000) steps in a row without one, S ← S · growth_factor (2),
//
// starting from init_scale (2^16). So S settles just below the largest value that does not overflow, and a
// rare overflow costs one skipped step. bf16 has f32's exponent range and needs none of this.
//
//   optim::GradScaler scaler;
//   scaler.scale(loss).backward();
//   scaler.unscale_(optimizer);                  // optional: before clipping, so the clip sees true gradients
//   optim::clip_grad_norm_(params, 1.0);
//   const bool stepped = scaler.step(optimizer); // unscales if not yet done; skips the step on inf/NaN
//   scaler.update();                             // the new S for the next step
#pragma once

#include <cstdint>
#include <vector>

#include "engine/optim/optimizer.h"
#include "engine/tensor.h"

namespace vireo::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;   // > 1
  double backoff_factor = 0.5;  // in (0, 1)
  int64_t growth_interval = 2000;
};

// What a checkpoint keeps of a scaler for an exact resume.
struct GradScalerState {
  double scale = 65536.0;
  int64_t growth_tracker = 0;  // good steps in a row since S last changed
  int64_t skipped_steps = 0;   // steps skipped so far
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});  // checks the options, naming the bad one

  // loss · S, differentiable: its backward starts every gradient S times larger.
  Tensor scale(const Tensor& loss) const;

  // Divides the gradients of `params` (or of every group of `optimizer`) by S and records whether any
  // holds an inf or NaN. Once per step: a second call before update() is an error.
  void unscale_(const std::vector<Tensor>& params);
  void unscale_(const Optimizer& optimizer);

  // Unscales the optimizer's gradients unless unscale_ already did, then takes the optimizer's step only
  // if they are all finite. Returns whether it stepped.
  bool step(Optimizer& optimizer);

  // Adjusts S from this step's finding (backoff after an inf/NaN, growth after growth_interval good steps)
  // and starts the next step. Call after step().
  void update();

  // In place of unscale_/step/update for a step whose loss itself came out inf or NaN (an f16 overflow in
  // the forward pass, before any backward): counts it among the skipped steps. S and the count of good
  // steps stay as they are — S only scales the backward pass, so it had no part in the overflow.
  void skip_step();

  double current_scale() const { return state_.scale; }
  // Whether the gradients unscaled this step held an inf or NaN (false before unscale_).
  bool found_non_finite() const { return found_non_finite_; }
  int64_t skipped_steps() const { return state_.skipped_steps; }

  GradScalerState state() const { return state_; }
  // Refuses a scale that is not positive and finite, or counts out of range.
  void load_state(const GradScalerState& state);

 private:
  GradScalerOptions options_;
  GradScalerState state_;
  bool unscaled_ = false, found_non_finite_ = false;
};

}  // namespace vireo::optim
