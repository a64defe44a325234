// The forward process's identities as tensor operations (training/diffusion/forward_process.h).
#include "training/diffusion/forward_process.h"

#include <cmath>

#include "engine/ops.h"

namespace vireo::diffusion {

namespace {

void check_same_shape(const char* op, const char* first_name, const Tensor& first, const char* second_name,
                      const Tensor& second) {
  VIREO_CHECK(first.defined() && second.defined(), op, ": ", first_name, " and ", second_name, " must be defined");
  VIREO_CHECK(first.shape() == second.shape(), op, ": ", first_name, " ", describe(first), " and ", second_name, " ",
              describe(second), " must have the same shape");
}

// √(table) and √(1 − table), elementwise: the scalings of q(x_t | x_0).
std::vector<double> square_roots(const std::vector<double>& table) {
  std::vector<double> roots(table.size());
  for (size_t t = 0; t < table.size(); ++t) roots[t] = std::sqrt(table[t]);
  return roots;
}
std::vector<double> complement_square_roots(const std::vector<double>& table) {
  std::vector<double> roots(table.size());
  for (size_t t = 0; t < table.size(); ++t) roots[t] = std::sqrt(1.0 - table[t]);
  return roots;
}

}  // namespace

Tensor coefficient_per_image(const char* op, const std::vector<double>& table, const Tensor& timesteps,
                             const Tensor& like) {
  VIREO_CHECK(like.defined() && like.dim() >= 1, op, ": expects a batch of images [N, ...], got ",
              like.defined() ? describe(like) : std::string("an undefined tensor"));
  VIREO_CHECK(timesteps.defined() && timesteps.dtype() == DType::i64 && timesteps.dim() == 1 &&
                  timesteps.size(0) == like.size(0),
              op, ": timesteps must be i64 [", like.size(0), "] (one per image of ", describe(like), "), got ",
              timesteps.defined() ? describe(timesteps) : std::string("an undefined tensor"));
  const std::vector<double> steps = timesteps.to_vector();
  std::vector<double> values(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    const auto t = static_cast<int64_t>(steps[i]);
    VIREO_CHECK(t >= 0 && t < static_cast<int64_t>(table.size()), op, ": timestep ", t, " of image ", i,
                " is outside [0, ", table.size(), ")");
    values[i] = table[static_cast<size_t>(t)];
  }
  Shape shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return Tensor::from_vector(values, shape, {.dtype = like.dtype(), .device = like.device()});
}

Tensor q_sample(const NoiseSchedule& schedule, const Tensor& x0, const Tensor& timesteps, const Tensor& noise) {
  check_same_shape("q_sample", "x0", x0, "noise", noise);
  const Tensor signal_scale = coefficient_per_image("q_sample", square_roots(schedule.alpha_bars()), timesteps, x0);
  const Tensor noise_scale =
      coefficient_per_image("q_sample", complement_square_roots(schedule.alpha_bars()), timesteps, x0);
  // x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε
  return signal_scale * x0 + noise_scale * noise;
}

Tensor predict_x0_from_noise(const NoiseSchedule& schedule, const Tensor& x_t, const Tensor& timesteps,
                             const Tensor& noise) {
  check_same_shape("predict_x0_from_noise", "x_t", x_t, "noise", noise);
  const char* op = "predict_x0_from_noise";
  const Tensor signal_scale = coefficient_per_image(op, square_roots(schedule.alpha_bars()), timesteps, x_t);
  const Tensor noise_scale = coefficient_per_image(op, complement_square_roots(schedule.alpha_bars()), timesteps, x_t);
  // x̂_0 = (x_t − √(1 − ᾱ_t) · ε) / √ᾱ_t
  return (x_t - noise_scale * noise) / signal_scale;
}

Tensor predict_noise_from_x0(const NoiseSchedule& schedule, const Tensor& x_t, const Tensor& timesteps,
                             const Tensor& x0) {
  check_same_shape("predict_noise_from_x0", "x_t", x_t, "x0", x0);
  const char* op = "predict_noise_from_x0";
  const Tensor signal_scale = coefficient_per_image(op, square_roots(schedule.alpha_bars()), timesteps, x_t);
  const Tensor noise_scale = coefficient_per_image(op, complement_square_roots(schedule.alpha_bars()), timesteps, x_t);
  // ε = (x_t − √ᾱ_t · x_0) / √(1 − ᾱ_t)
  return (x_t - signal_scale * x0) / noise_scale;
}

Tensor posterior_mean(const NoiseSchedule& schedule, const Tensor& x0, const Tensor& x_t, const Tensor& timesteps) {
  check_same_shape("posterior_mean", "x0", x0, "x_t", x_t);
  const Tensor x0_coefficient =
      coefficient_per_image("posterior_mean", schedule.posterior_x0_coefficients(), timesteps, x_t);
  const Tensor xt_coefficient =
      coefficient_per_image("posterior_mean", schedule.posterior_xt_coefficients(), timesteps, x_t);
  // μ̃_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t) · x_t
  return x0_coefficient * x0 + xt_coefficient * x_t;
}

}  // namespace vireo::diffusion
