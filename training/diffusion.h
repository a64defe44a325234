// Denoising diffusion in one include (namespace vireo::diffusion): DDPM training and DDPM/DDIM sampling.
//
//   noise schedules           training/diffusion/noise_schedule.h (linear, cosine; ᾱ, β̃, posterior coefficients)
//   forward process           training/diffusion/forward_process.h (q_sample, x̂_0 from ε, posterior mean)
//   the model as a function   training/diffusion/noise_predictor.h (ε_θ(x_t, t[, labels]))
//   training loss             training/diffusion/training_loss.h (L_simple)
//   samplers                  training/diffusion/ddpm_sampler.h, ddim_sampler.h (shared pieces: sampling.h)
//   looking at samples        training/diffusion/image_grid.h (a PNG grid)
#pragma once

#include "training/diffusion/ddim_sampler.h"
#include "training/diffusion/ddpm_sampler.h"
#include "training/diffusion/forward_process.h"
#include "training/diffusion/image_grid.h"
#include "training/diffusion/noise_predictor.h"
#include "training/diffusion/noise_schedule.h"
#include "training/diffusion/sampling.h"
#include "training/diffusion/training_loss.h"
