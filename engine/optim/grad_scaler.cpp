// Dynamic loss scaling (engine/optim/grad_scaler.h). Whether a gradient holds an inf or NaN is read off its
// 1-norm, summed in f64 by the norm kernels of every device: Σ|g| is NaN when some g is NaN, +∞ when some g
// is ±∞, and finite otherwise (f32 magnitudes summed in f64 cannot overflow).
#include "engine/optim/grad_scaler.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/optim/clip.h"

namespace vireo::optim {
namespace {

std::vector<Tensor> optimizer_params(const Optimizer& optimizer) {
  std::vector<Tensor> params;
  for (const ParamGroup& group : optimizer.param_groups())
    params.insert(params.end(), group.params.begin(), group.params.end());
  return params;
}

}  // namespace

GradScaler::GradScaler(GradScalerOptions options) : options_(options) {
  VIREO_CHECK(std::isfinite(options.init_scale) && options.init_scale > 0.0, "GradScaler: init_scale ",
              options.init_scale, " must be positive and finite");
  VIREO_CHECK(std::isfinite(options.growth_factor) && options.growth_factor > 1.0, "GradScaler: growth_factor ",
              options.growth_factor, " must be finite and > 1");
  VIREO_CHECK(options.backoff_factor > 0.0 && options.backoff_factor < 1.0, "GradScaler: backoff_factor ",
              options.backoff_factor, " must lie in (0, 1)");
  VIREO_CHECK(options.growth_interval >= 1, "GradScaler: growth_interval ", options.growth_interval,
              " must be at least 1");
  state_.scale = options.init_scale;
}

Tensor GradScaler::scale(const Tensor& loss) const {
  VIREO_CHECK(loss.defined() && is_floating(loss.dtype()), "GradScaler::scale: expects a floating loss, got ",
              loss.defined() ? describe(loss) : std::string("an undefined tensor"));
  return mul(loss, state_.scale);
}

void GradScaler::unscale_(const std::vector<Tensor>& params) {
  VIREO_CHECK(!unscaled_, "GradScaler::unscale_: the gradients were already unscaled this step (call update() "
                          "after step() before the next backward)");
  unscaled_ = true;
  found_non_finite_ = !std::isfinite(total_grad_norm(params, 1.0));
  // A skipped step's gradients are not read; there is nothing to gain from scaling them.
  if (!found_non_finite_) scale_grads_(params, 1.0 / state_.scale);
}

void GradScaler::unscale_(const Optimizer& optimizer) { unscale_(optimizer_params(optimizer)); }

bool GradScaler::step(Optimizer& optimizer) {
  if (!unscaled_) unscale_(optimizer);
  if (found_non_finite_) {
    ++state_.skipped_steps;
    return false;
  }
  optimizer.step();
  return true;
}

void GradScaler::skip_step() {
  VIREO_CHECK(!unscaled_, "GradScaler::skip_step: the gradients were already unscaled this step (a step "
                          "skipped before its backward pass has none)");
  ++state_.skipped_steps;
}

void GradScaler::update() {
  VIREO_CHECK(unscaled_, "GradScaler::update: no gradients were unscaled this step (call step() first)");
  if (found_non_finite_) {
    state_.scale *= options_.backoff_factor;
    state_.growth_tracker = 0;
  } else if (++state_.growth_tracker == options_.growth_interval) {
    state_.scale *= options_.growth_factor;
    state_.growth_tracker = 0;
  }
  unscaled_ = false;
  found_non_finite_ = false;
}

void GradScaler::load_state(const GradScalerState& state) {
  VIREO_CHECK(std::isfinite(state.scale) && state.scale > 0.0, "GradScaler::load_state: scale ", state.scale,
              " must be positive and finite");
  VIREO_CHECK(state.growth_tracker >= 0 && state.growth_tracker < options_.growth_interval,
              "GradScaler::load_state: growth_tracker ", state.growth_tracker, " must lie in [0, growth_interval ",
              options_.growth_interval, ")");
  VIREO_CHECK(state.skipped_steps >= 0, "GradScaler::load_state: skipped_steps ", state.skipped_steps,
              " is negative");
  state_ = state;
}

}  // namespace vireo::optim
