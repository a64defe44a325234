// DDIM sampling over a sub-sequence of timesteps (training/diffusion/ddim_sampler.h).
#include "training/diffusion/ddim_sampler.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace vireo::diffusion {

std::vector<int64_t> ddim_timesteps(int64_t timesteps, int64_t steps) {
  VIREO_CHECK(steps >= 1 && steps <= timesteps, "ddim_timesteps: the number of steps must lie in [1, ", timesteps,
              "] (the schedule's timesteps), got ", steps);
  std::vector<int64_t> sequence(static_cast<size_t>(steps));
  // τ_i = ⌊i·T/S⌋: evenly spaced, starting at 0, strictly increasing because T/S ≥ 1.
  for (int64_t i = 0; i < steps; ++i) sequence[static_cast<size_t>(i)] = i * timesteps / steps;
  return sequence;
}

Tensor ddim_sample(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Shape& shape,
                   Generator& generator, const DdimSamplingOptions& options) {
  const char* op = "ddim_sample";
  check_sampling_arguments(op, shape, options.labels, options.batch_size);
  VIREO_CHECK(std::isfinite(options.eta) && options.eta >= 0.0 && options.eta <= 1.0, op,
              ": eta must lie in [0, 1], got ", options.eta);
  const std::vector<int64_t> sequence = ddim_timesteps(schedule.timesteps(), options.steps);
  NoGrad no_grad;
  Tensor x = starting_noise(op, shape, options.dtype, options.device, options.initial_noise, generator);
  const int64_t steps = options.steps;
  for (int64_t i = steps - 1; i >= 0; --i) {
    const int64_t t = sequence[static_cast<size_t>(i)];
    const int64_t previous_t = i > 0 ? sequence[static_cast<size_t>(i - 1)] : -1;
    const double alpha_bar = schedule.alpha_bar(t);
    const double alpha_bar_previous = previous_t >= 0 ? schedule.alpha_bar(previous_t) : 1.0;
    const Denoised denoised =
        denoise(op, predictor, schedule, x, t, options.labels, options.batch_size, options.clip_denoised);
    // σ = η · √((1 − ᾱ_prev)/(1 − ᾱ_τ)) · √(1 − ᾱ_τ/ᾱ_prev)      (0 at the last step, where ᾱ_prev = 1)
    const double sigma = options.eta * std::sqrt((1.0 - alpha_bar_previous) / (1.0 - alpha_bar)) *
                         std::sqrt(1.0 - alpha_bar / alpha_bar_previous);
    // x_prev = √ᾱ_prev · x̂_0 + √(1 − ᾱ_prev − σ²) · ε̂ + σ · z   (1 − ᾱ_prev − σ² ≥ 0 for η ≤ 1; the max
    // only absorbs rounding)
    const double direction_scale = std::sqrt(std::max(0.0, 1.0 - alpha_bar_previous - sigma * sigma));
    Tensor next = denoised.x0 * std::sqrt(alpha_bar_previous) + denoised.noise * direction_scale;
    if (options.eta > 0.0 && i > 0) next = next + randn(shape, x.options(), &generator) * sigma;
    x = next;
    if (options.on_step)
      options.on_step({.index = steps - 1 - i, .total = steps, .t = t, .next_t = previous_t, .x = x,
                       .predicted_x0 = denoised.x0});
  }
  return x;
}

}  // namespace vireo::diffusion
