// NoiseSchedule: the variances β_0 … β_{T−1} of a diffusion's forward process and every quantity the
// training loss and the samplers derive from them (Ho et al. 2020, "Denoising Diffusion Probabilistic
// Models"; the cosine schedule of Nichol & Dhariwal 2021, "Improved Denoising Diffusion Probabilistic
// Models").
//
// Timesteps are 0-based, as in the reference code: t = 0 is the first noising step (the paper's t = 1), so
//   q(x_t | x_{t−1}) = N(√α_t · x_{t−1}, β_t · I),  α_t = 1 − β_t,
//   q(x_t | x_0)     = N(√ᾱ_t · x_0, (1 − ᾱ_t) · I), ᾱ_t = ∏_{s ≤ t} α_s,
// and the "previous" cumulative product of the first step is ᾱ_{−1} = 1 (x_{−1} is the clean image x_0).
//
// Every table is computed in double precision; the samplers and the loss convert the few coefficients they
// need to the images' dtype.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vireo::diffusion {

class NoiseSchedule {
 public:
  // Any variances with 0 < β_t < 1 (β_t = 1 would make ᾱ vanish, and x_0 could no longer be predicted
  // from x_t: the samplers divide by √ᾱ_t). At least one step.
  explicit NoiseSchedule(std::vector<double> betas);

  // Ho et al.'s schedule: β_t rises linearly from beta_start to beta_end over T steps (numpy's
  // linspace(beta_start, beta_end, T)). The defaults are the paper's, for T = 1000.
  static NoiseSchedule linear(int64_t timesteps = 1000, double beta_start = 1e-4, double beta_end = 0.02);

  // Nichol & Dhariwal's schedule, defined through ᾱ rather than β:
  //   f(u) = cos²((u + s)/(1 + s) · π/2),   ᾱ(u) = f(u)/f(0)   for u ∈ [0, 1],
  //   β_t  = min(1 − ᾱ((t + 1)/T)/ᾱ(t/T), max_beta)
  // so that, until the clipping bites (only at the very last steps), ᾱ_t = ᾱ((t + 1)/T). The offset s keeps
  // β_0 from being vanishingly small; max_beta keeps the last step away from the singularity at u = 1.
  static NoiseSchedule cosine(int64_t timesteps = 1000, double offset = 0.008, double max_beta = 0.999);

  // A schedule by a recipe's name: "linear" or "cosine", with each one's defaults above. An unknown name
  // is an Error that lists the valid ones.
  static NoiseSchedule named(const std::string& name, int64_t timesteps = 1000);

  int64_t timesteps() const { return static_cast<int64_t>(betas_.size()); }

  // The tables, indexed by t ∈ [0, T). Each is written out where it is computed (noise_schedule.cpp).
  const std::vector<double>& betas() const { return betas_; }                    // β_t
  const std::vector<double>& alphas() const { return alphas_; }                  // α_t = 1 − β_t
  const std::vector<double>& alpha_bars() const { return alpha_bars_; }          // ᾱ_t
  const std::vector<double>& alpha_bars_previous() const { return alpha_bars_previous_; }  // ᾱ_{t−1}, 1 at t = 0
  const std::vector<double>& posterior_variances() const { return posterior_variances_; }  // β̃_t
  const std::vector<double>& posterior_x0_coefficients() const { return posterior_x0_coefficients_; }
  const std::vector<double>& posterior_xt_coefficients() const { return posterior_xt_coefficients_; }

  // The same, one timestep at a time (t checked against [0, T)).
  double beta(int64_t t) const { return betas_[checked(t)]; }
  double alpha(int64_t t) const { return alphas_[checked(t)]; }
  double alpha_bar(int64_t t) const { return alpha_bars_[checked(t)]; }
  double alpha_bar_previous(int64_t t) const { return alpha_bars_previous_[checked(t)]; }
  double posterior_variance(int64_t t) const { return posterior_variances_[checked(t)]; }
  double posterior_x0_coefficient(int64_t t) const { return posterior_x0_coefficients_[checked(t)]; }
  double posterior_xt_coefficient(int64_t t) const { return posterior_xt_coefficients_[checked(t)]; }

 private:
  size_t checked(int64_t t) const;

  std::vector<double> betas_, alphas_, alpha_bars_, alpha_bars_previous_;
  std::vector<double> posterior_variances_, posterior_x0_coefficients_, posterior_xt_coefficients_;
};

}  // namespace vireo::diffusion
