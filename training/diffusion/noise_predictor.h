// NoisePredictor: the network ε_θ of a diffusion, seen by the loss and the samplers as a plain function
//   ε̂ = ε_θ(x_t, t[, labels])      x_t [N, C, H, W], t [N] i64, labels [N] i64 or undefined  ->  [N, C, H, W]
// so any model (the DDPM UNet, a tiny test network, an oracle computing ε exactly) plugs in.
#pragma once

#include <functional>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace vireo::diffusion {

// `labels` is an undefined Tensor for an unconditional model.
using NoisePredictor = std::function<Tensor(const Tensor& noisy_images, const Tensor& timesteps, const Tensor& labels)>;

// A module taking {x_t, t} — or {x_t, t, labels} when labels are given — as its multi-input forward, as
// models::UNet does. The call goes through the module's operator(), so its hooks fire. The module is held
// by reference: it must outlive the returned function.
NoisePredictor noise_predictor(nn::Module& model);

// Calls `predictor` and checks that its prediction has the images' shape; `op` names the caller in the
// error otherwise.
Tensor predict_noise(const char* op, const NoisePredictor& predictor, const Tensor& noisy_images,
                     const Tensor& timesteps, const Tensor& labels);

}  // namespace vireo::diffusion
