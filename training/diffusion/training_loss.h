// The DDPM training objective, Ho et al. 2020's L_simple (their Algorithm 1):
//
//   t ~ U{0, …, T−1},  ε ~ N(0, I),  x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε
//   L = ‖ε − ε_θ(x_t, t)‖²   averaged over the batch and every pixel (mean squared error)
//
// with one t and one ε per image. The loss is an ordinary tensor: backward() reaches the predictor's
// parameters.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"
#include "training/diffusion/noise_predictor.h"
#include "training/diffusion/noise_schedule.h"

namespace vireo::diffusion {

// Draws the timesteps and the noise from `generator` — first t ([N] i64, uniform in [0, T)), then ε (the
// images' shape and dtype) — and returns L. `images` x_0 [N, …] are expected in [−1, 1]; `labels` [N] i64
// go to a class-conditional predictor (undefined otherwise).
Tensor diffusion_loss(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Tensor& images,
                      Generator& generator, const Tensor& labels = {});

// The same with t and ε given (tests; variance-reduction schemes that choose t themselves).
Tensor diffusion_loss(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Tensor& images,
                      const Tensor& timesteps, const Tensor& noise, const Tensor& labels = {});

}  // namespace vireo::diffusion
