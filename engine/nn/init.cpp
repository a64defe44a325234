// Initializers (engine/nn/init.h). The random ones draw a fresh tensor from the generator's Philox stream
// and copy it in, so a tensor of any layout, dtype or device is filled the same way and the values depend
// only on (seed, offset) — never on the thread count.
#include "engine/nn/init.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <tuple>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/creation.h"
#include "engine/ops/elementwise.h"

namespace vireo::nn::init {
namespace {

void check_floating(const char* op, const Tensor& tensor) {
  VIREO_CHECK(tensor.defined(), op, ": the tensor is undefined");
  VIREO_CHECK(is_floating(tensor.dtype()), op, ": needs a floating tensor, got ", describe(tensor));
}

// Writes `values` (same shape) into `tensor` in place, without recording history.
Tensor assign(const Tensor& tensor, const Tensor& values) {
  NoGrad no_grad;
  Tensor target = tensor;
  target.copy_(values);
  return tensor;
}

// Φ(x), the standard normal CDF, through erfc so that the lower tail keeps its relative precision.
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

double fan(const Tensor& tensor, FanMode mode) {
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor);
  return static_cast<double>(mode == FanMode::fan_in ? fan_in : fan_out);
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, std::optional<double> param) {
  switch (nonlinearity) {
    case Nonlinearity::linear:
    case Nonlinearity::conv1d:
    case Nonlinearity::conv2d:
    case Nonlinearity::conv3d:
    case Nonlinearity::conv_transpose1d:
    case Nonlinearity::conv_transpose2d:
    case Nonlinearity::conv_transpose3d:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: {
      const double slope = param.value_or(0.01);
      return std::sqrt(2.0 / (1.0 + slope * slope));
    }
    case Nonlinearity::selu: return 3.0 / 4.0;
  }
  fail("calculate_gain: unknown nonlinearity ", static_cast<int>(nonlinearity));
}

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& tensor) {
  VIREO_CHECK(tensor.defined(), "fan_in_and_fan_out: the tensor is undefined");
  VIREO_CHECK(tensor.dim() >= 2, "fan_in_and_fan_out: needs a tensor with at least 2 dimensions, got ",
              describe(tensor));
  // Weights are [out, in, *kernel]: every kernel position adds one connection per input and output unit.
  int64_t receptive_field = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

Tensor uniform_(const Tensor& tensor, double low, double high, Generator* generator) {
  check_floating("uniform_", tensor);
  VIREO_CHECK(low <= high, "uniform_: low ", low, " exceeds high ", high);
  NoGrad no_grad;
  const Tensor u = rand(tensor.shape(), {tensor.dtype(), tensor.device()}, generator);
  return assign(tensor, add(mul(u, high - low), low));
}

Tensor normal_(const Tensor& tensor, double mean, double std_dev, Generator* generator) {
  check_floating("normal_", tensor);
  VIREO_CHECK(std_dev >= 0.0, "normal_: std ", std_dev, " is negative");
  NoGrad no_grad;
  const Tensor z = randn(tensor.shape(), {tensor.dtype(), tensor.device()}, generator);
  return assign(tensor, add(mul(z, std_dev), mean));
}

// Φ⁻¹(p): a rational first guess (Abramowitz & Stegun 26.2.23, error < 4.5e-4) polished by Halley steps
// on Φ(x) − p, each of which roughly triples the correct digits. Solved in the lower tail, where
// Φ = erfc/2 keeps full relative precision, and mirrored for p > 1/2 (1 − p is exact there).
double normal_quantile(double p) {
  if (!(p > 0.0)) return p == 0.0 ? -INFINITY : NAN;
  if (!(p < 1.0)) return p == 1.0 ? INFINITY : NAN;
  const bool upper = p > 0.5;
  const double q = upper ? 1.0 - p : p;
  const double t = std::sqrt(-2.0 * std::log(q));
  double x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
  const double sqrt_two_pi = std::sqrt(2.0 * std::numbers::pi);
  for (int step = 0; step < 3; ++step) {
    // u = (Φ(x) − q) / φ(x); Halley: x ← x − u / (1 + x·u/2)
    const double u = (normal_cdf(x) - q) * sqrt_two_pi * std::exp(0.5 * x * x);
    x -= u / (1.0 + 0.5 * x * u);
  }
  return upper ? -x : x;
}

Tensor trunc_normal_(const Tensor& tensor, double mean, double std_dev, double a, double b, Generator* generator) {
  check_floating("trunc_normal_", tensor);
  VIREO_CHECK(std_dev > 0.0, "trunc_normal_: std must be positive, got ", std_dev);
  VIREO_CHECK(a < b, "trunc_normal_: the interval [", a, ", ", b, "] is empty");
  // Standardized bounds. An interval lying mostly above the mean is sampled mirrored (x -> −x), so that
  // its CDF values sit in the lower tail where they are precise.
  double alpha = (a - mean) / std_dev, beta = (b - mean) / std_dev;
  const bool mirrored = alpha + beta > 0.0;
  if (mirrored) std::tie(alpha, beta) = std::pair{-beta, -alpha};
  const double low = normal_cdf(alpha), high = normal_cdf(beta);
  const auto truncated_draw = [&](double uniform_value) {
    const double z = std::clamp(normal_quantile(low + uniform_value * (high - low)), alpha, beta);
    return std::clamp(mean + std_dev * (mirrored ? -z : z), a, b);
  };

  std::vector<double> values;
  if (high - low > 0.5) {
    // Most of the mass lies inside [a, b] (timm's ±2 at std .02 is ±100σ): plain normal draws, each one
    // that falls outside replaced by an inverse-CDF draw. Both kinds follow the truncated law, so the
    // mixture does too, at the speed of randn instead of a quantile per element.
    Tensor normal, uniform;
    {
      NoGrad no_grad;
      normal = randn(tensor.shape(), {.dtype = DType::f64}, generator);
    }
    values = normal.to_vector();
    std::vector<double> replacements;  // drawn only when some value fell outside
    for (size_t i = 0; i < values.size(); ++i) {
      const double x = mean + std_dev * values[i];
      if (x >= a && x <= b) {
        values[i] = x;
        continue;
      }
      if (replacements.empty()) {
        NoGrad no_grad;
        replacements = rand(tensor.shape(), {.dtype = DType::f64}, generator).to_vector();
      }
      values[i] = truncated_draw(replacements[i]);
    }
  } else {
    Tensor uniform;
    {
      NoGrad no_grad;
      uniform = rand(tensor.shape(), {.dtype = DType::f64}, generator);
    }
    values = uniform.to_vector();
    for (double& v : values) v = truncated_draw(v);
  }
  return assign(tensor, Tensor::from_vector(values, tensor.shape(), {.dtype = tensor.dtype()}));
}

Tensor constant_(const Tensor& tensor, double value) {
  VIREO_CHECK(tensor.defined(), "constant_: the tensor is undefined");
  NoGrad no_grad;
  Tensor target = tensor;
  target.fill_(value);
  return tensor;
}

Tensor zeros_(const Tensor& tensor) { return constant_(tensor, 0.0); }
Tensor ones_(const Tensor& tensor) { return constant_(tensor, 1.0); }

Tensor kaiming_uniform_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator* generator) {
  check_floating("kaiming_uniform_", tensor);
  if (tensor.numel() == 0) return tensor;  // nothing to draw, and no fan to divide by
  const double std_dev = calculate_gain(nonlinearity, a) / std::sqrt(fan(tensor, mode));
  const double bound = std::sqrt(3.0) * std_dev;
  return uniform_(tensor, -bound, bound, generator);
}

Tensor kaiming_normal_(const Tensor& tensor, double a, FanMode mode, Nonlinearity nonlinearity, Generator* generator) {
  check_floating("kaiming_normal_", tensor);
  if (tensor.numel() == 0) return tensor;
  const double std_dev = calculate_gain(nonlinearity, a) / std::sqrt(fan(tensor, mode));
  return normal_(tensor, 0.0, std_dev, generator);
}

Tensor xavier_uniform_(const Tensor& tensor, double gain, Generator* generator) {
  check_floating("xavier_uniform_", tensor);
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor);
  if (tensor.numel() == 0) return tensor;
  const double std_dev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double bound = std::sqrt(3.0) * std_dev;
  return uniform_(tensor, -bound, bound, generator);
}

Tensor xavier_normal_(const Tensor& tensor, double gain, Generator* generator) {
  check_floating("xavier_normal_", tensor);
  const auto [fan_in, fan_out] = fan_in_and_fan_out(tensor);
  if (tensor.numel() == 0) return tensor;
  const double std_dev = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return normal_(tensor, 0.0, std_dev, generator);
}

}  // namespace vireo::nn::init
