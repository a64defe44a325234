// DDPM ancestral sampling, Ho et al. 2020's Algorithm 2: start from x_T ~ N(0, I) and walk the reverse
// chain t = T−1, …, 0 one step at a time,
//
//   ε̂ = ε_θ(x_t, t),   x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t   (optionally clipped to [−1, 1])
//   x_{t−1} = μ̃_t(x_t, x̂_0) + σ_t · z,   z ~ N(0, I) for t > 0, z = 0 at the last step
//   μ̃_t    = β_t √ᾱ_{t−1}/(1 − ᾱ_t) · x̂_0 + (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t) · x_t
//
// Unclipped, μ̃_t equals the paper's 1/√α_t · (x_t − β_t/√(1 − ᾱ_t) · ε̂). σ_t² is β_t (the upper bound on
// the reverse variance, Ho et al.'s CIFAR-10 choice) or β̃_t (the lower bound, the true posterior's).
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"
#include "training/diffusion/noise_predictor.h"
#include "training/diffusion/noise_schedule.h"
#include "training/diffusion/sampling.h"

namespace vireo::diffusion {

enum class ReverseVariance {
  beta,       // σ_t² = β_t
  posterior,  // σ_t² = β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t
};

struct DdpmSamplingOptions {
  ReverseVariance variance = ReverseVariance::beta;
  bool clip_denoised = true;     // clip x̂_0 to [−1, 1] at every step
  int64_t batch_size = 0;        // the model sees at most this many images at once (0: all)
  Tensor labels = {};            // [N] i64 for a class-conditional model; undefined otherwise
  Tensor initial_noise = {};     // x_T; drawn from the generator when undefined
  DType dtype = DType::f32;      // of the samples
  Device device = Device::cpu(); // where x_T is drawn and the samples live: the model's device
  SamplerCallback on_step = {};  // called after every step (progress, trajectories)
};

// Samples of `shape` [N, C, H, W], in [−1, 1] when clipped. Runs under NoGrad; put the model in eval mode
// first. Random draws, all from `generator`: x_T first (unless given), then one z of the samples' shape at
// every step with t > 0 — so the same generator state gives the same samples whatever the batch size.
Tensor ddpm_sample(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Shape& shape,
                   Generator& generator, const DdpmSamplingOptions& options = {});

}  // namespace vireo::diffusion
