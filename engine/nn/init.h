// Parameter initializers, torch.nn.init: each fills a tensor in place (under NoGrad, so it works on
// parameters that require grad) and returns the same handle. Random ones draw from `generator`, or from
// the engine's default generator when it is null, so manual_seed makes model construction reproducible.
//
// The variance-scaling rules (He et al. 2015, Glorot & Bengio 2010), with fan_in = size(1)·receptive field
// and fan_out = size(0)·receptive field:
//   kaiming:  std = gain / √fan          (fan = fan_in or fan_out by `mode`)
//   xavier:   std = gain · √(2 / (fan_in + fan_out))
//   uniform variants draw U(−√3·std, √3·std), which has that std.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include "engine/random.h"
#include "engine/tensor.h"

namespace vireo::nn::init {

enum class Nonlinearity {
  linear, conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
  sigmoid, tanh, relu, leaky_relu, selu
};
enum class FanMode { fan_in, fan_out };

// The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh, √2 for relu,
// √(2 / (1 + slope²)) for leaky_relu (slope = param, default 0.01), 3/4 for selu.
double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param = std::nullopt);
// (fan_in, fan_out) of a weight with at least two dimensions, as torch's _calculate_fan_in_and_fan_out.
std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& tensor);

Tensor uniform_(const Tensor& tensor, double low = 0.0, double high = 1.0, Generator* generator = nullptr);
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std_dev = 1.0, Generator* generator = nullptr);
// N(mean, std²) conditioned on [a, b], drawn exactly by inverting the normal CDF of a uniform draw in
// [Φ(α), Φ(β)] (α, β the standardized bounds), as torch; values never leave [a, b].
Tensor trunc_normal_(const Tensor& tensor, double mean = 0.0, double std_dev = 1.0, double a = -2.0, double b = 2.0,
                     Generator* generator = nullptr);
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);

// `a` is the negative slope used in the gain when nonlinearity is leaky_relu (torch's defaults).
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::fan_in,
                        Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator* generator = nullptr);
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, FanMode mode = FanMode::fan_in,
                       Nonlinearity nonlinearity = Nonlinearity::leaky_relu, Generator* generator = nullptr);
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);

// The standard normal quantile Φ⁻¹(p) for p in (0, 1), accurate to a few ulps (used by trunc_normal_).
double normal_quantile(double p);

}  // namespace vireo::nn::init
