// The forward (noising) process of a diffusion as tensor operations: drawing x_t from x_0, and the two
// identities the samplers invert — x_0 from (x_t, ε) and the posterior mean of x_{t−1}.
//
// Each function takes one timestep per image, `timesteps` [N] (i64, each in [0, T)), for images
// [N, …]; the schedule's coefficients are gathered per image and broadcast over its other dimensions.
// All of them are differentiable in their tensor arguments (the coefficients are constants).
#pragma once

#include <vector>

#include "engine/tensor.h"
#include "training/diffusion/noise_schedule.h"

namespace vireo::diffusion {

// table[timesteps[i]] for each image i, as an [N, 1, …, 1] tensor with `like`'s dtype, device and rank.
// `op` names the caller in errors (timesteps not i64 [N] matching like's batch, or outside the table).
Tensor coefficient_per_image(const char* op, const std::vector<double>& table, const Tensor& timesteps,
                             const Tensor& like);

// x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε          (a draw from q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I))
Tensor q_sample(const NoiseSchedule& schedule, const Tensor& x0, const Tensor& timesteps, const Tensor& noise);

// The same identity solved for x_0:   x̂_0 = (x_t − √(1 − ᾱ_t) · ε) / √ᾱ_t
Tensor predict_x0_from_noise(const NoiseSchedule& schedule, const Tensor& x_t, const Tensor& timesteps,
                             const Tensor& noise);

// … and for ε:                        ε = (x_t − √ᾱ_t · x_0) / √(1 − ᾱ_t)
Tensor predict_noise_from_x0(const NoiseSchedule& schedule, const Tensor& x_t, const Tensor& timesteps,
                             const Tensor& x0);

// The mean of q(x_{t−1} | x_t, x_0):  μ̃_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t) · x_t
// (its variance is schedule.posterior_variance(t)).
Tensor posterior_mean(const NoiseSchedule& schedule, const Tensor& x0, const Tensor& x_t, const Tensor& timesteps);

}  // namespace vireo::diffusion
