// DDPM ancestral sampling (training/diffusion/ddpm_sampler.h).
#include "training/diffusion/ddpm_sampler.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace vireo::diffusion {

Tensor ddpm_sample(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Shape& shape,
                   Generator& generator, const DdpmSamplingOptions& options) {
  const char* op = "ddpm_sample";
  check_sampling_arguments(op, shape, options.labels, options.batch_size);
  NoGrad no_grad;
  Tensor x = starting_noise(op, shape, options.dtype, options.device, options.initial_noise, generator);
  const int64_t steps = schedule.timesteps();
  for (int64_t t = steps - 1; t >= 0; --t) {
    const Denoised denoised =
        denoise(op, predictor, schedule, x, t, options.labels, options.batch_size, options.clip_denoised);
    // μ̃_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t) · x̂_0 + (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t) · x_t
    Tensor next = denoised.x0 * schedule.posterior_x0_coefficient(t) + x * schedule.posterior_xt_coefficient(t);
    if (t > 0) {
      // x_{t−1} = μ̃_t + σ_t · z
      const double variance =
          options.variance == ReverseVariance::beta ? schedule.beta(t) : schedule.posterior_variance(t);
      next = next + randn(shape, x.options(), &generator) * std::sqrt(variance);
    }
    x = next;
    if (options.on_step)
      options.on_step({.index = steps - 1 - t, .total = steps, .t = t, .next_t = t - 1, .x = x,
                       .predicted_x0 = denoised.x0});
  }
  return x;
}

}  // namespace vireo::diffusion
