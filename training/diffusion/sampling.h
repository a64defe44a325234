// What the DDPM and DDIM samplers share: the step report handed to a caller's callback, the starting
// noise x_T, and the denoising every step begins with — ε̂ from the model (a batch at a time) and the
// clean image it implies,
//
//   x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t,   clipped to [−1, 1] when asked (images live there),
//
// after which ε̂ is recomputed from the clipped x̂_0, ε̂ = (x_t − √ᾱ_t · x̂_0) / √(1 − ᾱ_t), so that the
// pair (x̂_0, ε̂) still explains x_t exactly (as guided-diffusion's DDIM step does).
#pragma once

#include <cstdint>
#include <functional>

#include "engine/random.h"
#include "engine/tensor.h"
#include "training/diffusion/noise_predictor.h"
#include "training/diffusion/noise_schedule.h"

namespace vireo::diffusion {

// One finished step of a sampler, as its callback sees it.
struct SamplerStep {
  int64_t index = 0;       // 0, 1, …, total − 1
  int64_t total = 0;       // the number of steps of the whole run
  int64_t t = 0;           // the timestep that was denoised
  int64_t next_t = 0;      // the timestep the new state belongs to; −1 once it is the final sample
  Tensor x;                // the new state x_{next_t} (the sample itself when next_t = −1)
  Tensor predicted_x0;     // x̂_0 predicted at this step (clipped when the sampler clips)
};
using SamplerCallback = std::function<void(const SamplerStep& step)>;

// x_T on `device`: `given` when defined (checked against `shape`), else a standard normal draw of `shape`
// from `generator` (the same numbers on every device). `op` names the sampler in errors.
Tensor starting_noise(const char* op, const Shape& shape, DType dtype, Device device, const Tensor& given,
                      Generator& generator);

// ε̂ and x̂_0 at one timestep t shared by the whole batch.
struct Denoised {
  Tensor noise;  // ε̂
  Tensor x0;     // x̂_0
};
// Evaluates `predictor` on at most `batch_size` images at a time (0: all at once) — the result does not
// depend on the batch size beyond the model's own arithmetic — and derives x̂_0, clipped when `clip`.
Denoised denoise(const char* op, const NoisePredictor& predictor, const NoiseSchedule& schedule, const Tensor& x,
                 int64_t t, const Tensor& labels, int64_t batch_size, bool clip);

// Checks what every sampler checks: a batch shape [N, …] with N ≥ 1, labels [N] or undefined, batch_size ≥ 0.
void check_sampling_arguments(const char* op, const Shape& shape, const Tensor& labels, int64_t batch_size);

}  // namespace vireo::diffusion
