// The noise schedules and the tables derived from β (training/diffusion/noise_schedule.h).
#include "training/diffusion/noise_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"

namespace vireo::diffusion {

NoiseSchedule::NoiseSchedule(std::vector<double> betas) : betas_(std::move(betas)) {
  VIREO_CHECK(!betas_.empty(), "NoiseSchedule: needs at least one timestep, got no betas");
  for (size_t t = 0; t < betas_.size(); ++t)
    VIREO_CHECK(std::isfinite(betas_[t]) && betas_[t] > 0.0 && betas_[t] < 1.0, "NoiseSchedule: beta[", t,
                "] = ", betas_[t], " is outside (0, 1)");
  const size_t steps = betas_.size();
  alphas_.resize(steps);
  alpha_bars_.resize(steps);
  alpha_bars_previous_.resize(steps);
  posterior_variances_.resize(steps);
  posterior_x0_coefficients_.resize(steps);
  posterior_xt_coefficients_.resize(steps);
  double alpha_bar = 1.0;  // ᾱ_{−1} = 1: before the first step the image is clean
  for (size_t t = 0; t < steps; ++t) {
    const double beta = betas_[t];
    // α_t = 1 − β_t
    alphas_[t] = 1.0 - beta;
    // ᾱ_{t−1} (1 for t = 0), then ᾱ_t = ᾱ_{t−1} · α_t: the cumulative product, accumulated in f64.
    alpha_bars_previous_[t] = alpha_bar;
    alpha_bar *= alphas_[t];
    alpha_bars_[t] = alpha_bar;
    // The forward process's posterior, Ho et al. eqs. (6)–(7):
    //   q(x_{t−1} | x_t, x_0) = N(μ̃_t(x_t, x_0), β̃_t · I)
    //   β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t                                    (0 at t = 0)
    //   μ̃_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t) · x_0  +  (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t) · x_t
    const double previous = alpha_bars_previous_[t];
    posterior_variances_[t] = (1.0 - previous) / (1.0 - alpha_bar) * beta;
    posterior_x0_coefficients_[t] = beta * std::sqrt(previous) / (1.0 - alpha_bar);
    posterior_xt_coefficients_[t] = (1.0 - previous) * std::sqrt(alphas_[t]) / (1.0 - alpha_bar);
  }
}

NoiseSchedule NoiseSchedule::linear(int64_t timesteps, double beta_start, double beta_end) {
  VIREO_CHECK(timesteps >= 1, "NoiseSchedule::linear: timesteps must be at least 1, got ", timesteps);
  VIREO_CHECK(beta_start > 0.0 && beta_end < 1.0 && beta_start <= beta_end, "NoiseSchedule::linear: needs ",
              "0 < beta_start <= beta_end < 1, got beta_start = ", beta_start, " and beta_end = ", beta_end);
  // β_t = beta_start + (beta_end − beta_start) · t/(T − 1): both ends included, as numpy's linspace.
  std::vector<double> betas(static_cast<size_t>(timesteps));
  for (int64_t t = 0; t < timesteps; ++t)
    betas[static_cast<size_t>(t)] =
        timesteps == 1 ? beta_start
                       : beta_start + (beta_end - beta_start) * static_cast<double>(t) / static_cast<double>(timesteps - 1);
  return NoiseSchedule(std::move(betas));
}

NoiseSchedule NoiseSchedule::cosine(int64_t timesteps, double offset, double max_beta) {
  VIREO_CHECK(timesteps >= 1, "NoiseSchedule::cosine: timesteps must be at least 1, got ", timesteps);
  VIREO_CHECK(offset >= 0.0, "NoiseSchedule::cosine: the offset s must be non-negative, got ", offset);
  VIREO_CHECK(max_beta > 0.0 && max_beta < 1.0, "NoiseSchedule::cosine: max_beta must lie in (0, 1), got ", max_beta);
  // f(u) = cos²((u + s)/(1 + s) · π/2); the f(0) of ᾱ(u) = f(u)/f(0) cancels in the ratio below.
  auto f = [offset](double u) {
    const double c = std::cos((u + offset) / (1.0 + offset) * std::numbers::pi / 2.0);
    return c * c;
  };
  std::vector<double> betas(static_cast<size_t>(timesteps));
  const double steps = static_cast<double>(timesteps);
  for (int64_t t = 0; t < timesteps; ++t) {
    // β_t = min(1 − ᾱ((t+1)/T) / ᾱ(t/T), max_beta)
    const double ratio = f(static_cast<double>(t + 1) / steps) / f(static_cast<double>(t) / steps);
    betas[static_cast<size_t>(t)] = std::min(1.0 - ratio, max_beta);
  }
  return NoiseSchedule(std::move(betas));
}

NoiseSchedule NoiseSchedule::named(const std::string& name, int64_t timesteps) {
  if (name == "linear") return linear(timesteps);
  if (name == "cosine") return cosine(timesteps);
  fail("NoiseSchedule: unknown beta schedule '", name, "' (valid: linear, cosine)");
}

size_t NoiseSchedule::checked(int64_t t) const {
  VIREO_CHECK(t >= 0 && t < timesteps(), "NoiseSchedule: timestep ", t, " is outside [0, ", timesteps(), ")");
  return static_cast<size_t>(t);
}

}  // namespace vireo::diffusion
