// DDIM sampling (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models", eq. 12): the same
// trained ε_θ, walked over S ≤ T timesteps τ_{S−1} > … > τ_0 of an evenly spaced sub-sequence,
//
//   ε̂ = ε_θ(x_τ, τ),   x̂_0 = (x_τ − √(1 − ᾱ_τ) · ε̂) / √ᾱ_τ     (optionally clipped, ε̂ then recomputed)
//   σ  = η · √((1 − ᾱ_prev)/(1 − ᾱ_τ)) · √(1 − ᾱ_τ/ᾱ_prev)
//   x_prev = √ᾱ_prev · x̂_0 + √(1 − ᾱ_prev − σ²) · ε̂ + σ · z,    z ~ N(0, I)
//
// where "prev" is the next timestep of the sub-sequence (ᾱ_prev = 1 after τ_0: the last step returns x̂_0).
// η = 0 is the deterministic DDIM (x_T alone fixes the sample); η = 1 with S = T is DDPM ancestral
// sampling with σ_t² = β̃_t; any η keeps the marginals q(x_τ | x_0) of the forward process.
#pragma once

#include <vector>

#include "engine/random.h"
#include "engine/tensor.h"
#include "training/diffusion/noise_predictor.h"
#include "training/diffusion/noise_schedule.h"
#include "training/diffusion/sampling.h"

namespace vireo::diffusion {

// The S timesteps τ_i = ⌊i · T / S⌋, i = 0 … S−1, increasing (DDIM's "uniform" skip: with T = 1000 and
// S = 50 they are 0, 20, …, 980; with S = T, every timestep). Requires 1 ≤ S ≤ T.
std::vector<int64_t> ddim_timesteps(int64_t timesteps, int64_t steps);

struct DdimSamplingOptions {
  int64_t steps = 50;            // S
  double eta = 0.0;              // η ∈ [0, 1]
  bool clip_denoised = true;     // clip x̂_0 to [−1, 1] at every step
  int64_t batch_size = 0;        // the model sees at most this many images at once (0: all)
  Tensor labels = {};            // [N] i64 for a class-conditional model; undefined otherwise
  Tensor initial_noise = {};     // x_T; drawn from the generator when undefined
  DType dtype = DType::f32;      // of the samples
  Device device = Device::cpu(); // where x_T is drawn and the samples live: the model's device
  SamplerCallback on_step = {};  // called after every step
};

// Samples of `shape` [N, C, H, W]. Runs under NoGrad; put the model in eval mode first. Random draws, all
// from `generator`: x_T first (unless given), then, when η > 0, one z of the samples' shape at every step
// but the last — the order ddpm_sample draws in, so that η = 1, S = T reproduces its samples with
// ReverseVariance::posterior from the same generator state.
Tensor ddim_sample(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Shape& shape,
                   Generator& generator, const DdimSamplingOptions& options = {});

}  // namespace vireo::diffusion
