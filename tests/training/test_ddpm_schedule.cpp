// Diffusion noise schedules and the forward process: β, ᾱ and the posterior of the linear and cosine
// schedules against their closed forms (and the posterior against Gaussian conditioning worked out
// here), q_sample's statistics, the identities that invert it, the DDIM sub-sequence, and bad arguments.
#include <cmath>
#include <numbers>
#include <vector>

#include "gradcheck.h"
#include "training/diffusion/ddim_sampler.h"
#include "training/diffusion/forward_process.h"
#include "training/diffusion/noise_schedule.h"

using namespace vireo;
using namespace vireo::diffusion;
using vireo::testing::check_error;

namespace {

// ∏_{s ≤ t} (1 − β_s) in long double, from the betas alone.
double product_of_alphas(const std::vector<double>& betas, int64_t t) {
  long double product = 1.0L;
  for (int64_t s = 0; s <= t; ++s) product *= 1.0L - static_cast<long double>(betas[static_cast<size_t>(s)]);
  return static_cast<double>(product);
}

// Nichol & Dhariwal's ᾱ(u) = f(u)/f(0), f(u) = cos²((u + s)/(1 + s) · π/2).
double cosine_alpha_bar(double u, double s = 0.008) {
  auto f = [s](double v) { return std::pow(std::cos((v + s) / (1.0 + s) * std::numbers::pi / 2.0), 2.0); };
  return f(u) / f(0.0);
}

Tensor steps(std::initializer_list<double> values) {
  return vireo::testing::indices(values, {static_cast<int64_t>(values.size())});
}

}  // namespace

TEST_CASE("linear schedule: betas from 1e-4 to 0.02 and alpha_bar as the product of alphas") {
  const NoiseSchedule schedule = NoiseSchedule::linear();
  REQUIRE(schedule.timesteps() == 1000);
  CHECK(schedule.beta(0) == doctest::Approx(1e-4).epsilon(1e-12));
  CHECK(schedule.beta(999) == doctest::Approx(0.02).epsilon(1e-12));
  for (int64_t t : {1, 250, 500, 998}) {
    INFO("t = ", t);
    CHECK(schedule.beta(t) == doctest::Approx(1e-4 + (0.02 - 1e-4) * static_cast<double>(t) / 999.0).epsilon(1e-12));
    CHECK(schedule.alpha(t) == doctest::Approx(1.0 - schedule.beta(t)).epsilon(1e-14));
  }
  for (int64_t t : {0, 1, 10, 499, 999}) {
    INFO("t = ", t);
    CHECK(schedule.alpha_bar(t) == doctest::Approx(product_of_alphas(schedule.betas(), t)).epsilon(1e-12));
  }
  // ᾱ_T ≈ exp(−Σβ) ≈ exp(−10.05): x_T is almost pure noise (√ᾱ_T ≈ 0.0064, the figure quoted for DDPM).
  CHECK(std::sqrt(schedule.alpha_bar(999)) == doctest::Approx(0.00635).epsilon(0.01));
  CHECK(schedule.alpha_bar_previous(0) == 1.0);
  CHECK(schedule.alpha_bar_previous(500) == schedule.alpha_bar(499));
}

TEST_CASE("cosine schedule: alpha_bar follows the squared cosine and the last beta is clipped") {
  const NoiseSchedule schedule = NoiseSchedule::cosine(1000);
  // ᾱ_t = ᾱ((t + 1)/T) wherever the clipping has not bitten.
  for (int64_t t : {0, 1, 100, 500, 900, 990}) {
    INFO("t = ", t);
    CHECK(schedule.alpha_bar(t) == doctest::Approx(cosine_alpha_bar(static_cast<double>(t + 1) / 1000.0)).epsilon(1e-9));
  }
  // ᾱ_0 ≈ 1: the first step adds almost no noise.
  CHECK(schedule.alpha_bar(0) > 0.9999);
  CHECK(schedule.alpha_bar(0) < 1.0);
  // 1 − ᾱ(1)/ᾱ((T−1)/T) = 1 exactly (ᾱ(1) = 0), clipped to 0.999; no beta exceeds it.
  CHECK(schedule.beta(999) == doctest::Approx(0.999));
  for (double beta : schedule.betas()) CHECK(beta <= 0.999);
  CHECK(schedule.alpha_bar(999) == doctest::Approx(schedule.alpha_bar(998) * 0.001).epsilon(1e-9));
  // The offset s: a smaller one makes the first beta smaller.
  CHECK(NoiseSchedule::cosine(1000, 0.001).beta(0) < schedule.beta(0));
}

TEST_CASE("the posterior variance and mean coefficients equal Gaussian conditioning") {
  for (const NoiseSchedule& schedule : {NoiseSchedule::linear(1000), NoiseSchedule::cosine(200)}) {
    for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{37}, schedule.timesteps() / 2, schedule.timesteps() - 1}) {
      INFO("t = ", t, " of ", schedule.timesteps());
      const double previous = t == 0 ? 1.0 : product_of_alphas(schedule.betas(), t - 1);
      const double current = product_of_alphas(schedule.betas(), t);
      const double beta = schedule.betas()[static_cast<size_t>(t)];
      // β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t
      CHECK(schedule.posterior_variance(t) == doctest::Approx((1.0 - previous) / (1.0 - current) * beta).epsilon(1e-9));
      // Given x_0: x_{t−1} ~ N(√ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}) and x_t = √α_t x_{t−1} + √β_t n, so
      //   E[x_{t−1} | x_t] = √ᾱ_{t−1} x_0 + k (x_t − √ᾱ_t x_0),  k = Cov(x_{t−1}, x_t)/Var(x_t)
      //   Var[x_{t−1} | x_t] = Var(x_{t−1}) − k² Var(x_t)
      const double covariance = std::sqrt(1.0 - beta) * (1.0 - previous);
      const double k = covariance / (1.0 - current);
      CHECK(schedule.posterior_xt_coefficient(t) == doctest::Approx(k).epsilon(1e-9));
      CHECK(schedule.posterior_x0_coefficient(t) ==
            doctest::Approx(std::sqrt(previous) - k * std::sqrt(current)).epsilon(1e-9));
      CHECK(schedule.posterior_variance(t) ==
            doctest::Approx((1.0 - previous) - k * k * (1.0 - current)).epsilon(1e-7).scale(1e-12));
    }
    CHECK(schedule.posterior_variance(0) == 0.0);
    CHECK(schedule.posterior_x0_coefficient(0) == doctest::Approx(1.0));
    CHECK(schedule.posterior_xt_coefficient(0) == 0.0);
  }
}

TEST_CASE("schedules by name and bad schedules are refused") {
  CHECK(NoiseSchedule::named("cosine", 50).alpha_bar(10) == NoiseSchedule::cosine(50).alpha_bar(10));
  CHECK(NoiseSchedule::named("linear", 50).beta(49) == NoiseSchedule::linear(50).beta(49));
  check_error([] { NoiseSchedule::named("quadratic"); }, {"quadratic", "linear, cosine"});
  check_error([] { NoiseSchedule({0.1, 1.5}); }, {"beta[1]", "1.5"});
  check_error([] { NoiseSchedule(std::vector<double>{}); }, {"at least one"});
  check_error([] { NoiseSchedule::linear(0); }, {"timesteps", "0"});
  check_error([] { NoiseSchedule::linear(10, 0.5, 0.1); }, {"beta_start", "0.5"});
  check_error([] { NoiseSchedule::cosine(10, 0.008, 1.0); }, {"max_beta"});
  check_error([] { NoiseSchedule::linear(10).alpha_bar(10); }, {"timestep 10", "[0, 10)"});
}

TEST_CASE("q_sample has mean sqrt(alpha_bar) x0 and variance 1 - alpha_bar") {
  const NoiseSchedule schedule = NoiseSchedule::linear(1000);
  const int64_t images = 20000;
  Generator generator(3);
  const Tensor x0 = full({images, 1, 1, 2}, 0.0).contiguous();
  x0.select(3, 0).fill_(0.5);
  x0.select(3, 1).fill_(-0.9);
  for (int64_t t : {10, 300, 900}) {
    INFO("t = ", t);
    const Tensor timesteps = full({images}, static_cast<double>(t), {.dtype = DType::i64});
    const Tensor x_t = q_sample(schedule, x0, timesteps, randn(x0.shape(), {}, &generator));
    const double alpha_bar = schedule.alpha_bar(t);
    for (int64_t pixel = 0; pixel < 2; ++pixel) {
      const std::vector<double> values = x_t.select(3, pixel).flatten().to_vector();
      double mean = 0.0, square = 0.0;
      for (double v : values) mean += v;
      mean /= static_cast<double>(images);
      for (double v : values) square += (v - mean) * (v - mean);
      const double variance = square / static_cast<double>(images);
      const double expected_mean = std::sqrt(alpha_bar) * (pixel == 0 ? 0.5 : -0.9);
      // Tolerances: 5 standard errors of the mean and of the variance.
      CHECK(std::abs(mean - expected_mean) < 5.0 * std::sqrt((1.0 - alpha_bar) / images));
      CHECK(std::abs(variance - (1.0 - alpha_bar)) < 5.0 * (1.0 - alpha_bar) * std::sqrt(2.0 / images));
    }
  }
}

TEST_CASE("forward process identities: a timestep per image and exact inverses") {
  const NoiseSchedule schedule = NoiseSchedule::cosine(100);
  Generator generator(5);
  const Tensor x0 = rand({3, 2, 4, 4}, {.dtype = DType::f64}, &generator) * 2.0 - 1.0;
  const Tensor noise = randn({3, 2, 4, 4}, {.dtype = DType::f64}, &generator);
  const Tensor timesteps = steps({0, 42, 99});
  const Tensor x_t = q_sample(schedule, x0, timesteps, noise);
  // Each image with its own ᾱ_t, written out per image.
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t t = i == 0 ? 0 : i == 1 ? 42 : 99;
    const double a = schedule.alpha_bar(t);
    const std::vector<double> expected =
        (x0.select(0, i) * std::sqrt(a) + noise.select(0, i) * std::sqrt(1.0 - a)).flatten().to_vector();
    vireo::testing::check_close(x_t.select(0, i), expected, 1e-12);
  }
  // x̂_0 from (x_t, ε) and ε from (x_t, x_0) invert q_sample.
  vireo::testing::check_close(predict_x0_from_noise(schedule, x_t, timesteps, noise), x0.flatten().to_vector(), 1e-9);
  vireo::testing::check_close(predict_noise_from_x0(schedule, x_t, timesteps, x0), noise.flatten().to_vector(), 1e-9);
  // μ̃ per image from the schedule's coefficients.
  const Tensor mean = posterior_mean(schedule, x0, x_t, timesteps);
  for (int64_t i = 0; i < 3; ++i) {
    const int64_t t = i == 0 ? 0 : i == 1 ? 42 : 99;
    const std::vector<double> expected = (x0.select(0, i) * schedule.posterior_x0_coefficient(t) +
                                          x_t.select(0, i) * schedule.posterior_xt_coefficient(t))
                                             .flatten()
                                             .to_vector();
    vireo::testing::check_close(mean.select(0, i), expected, 1e-12);
  }
  // At t = 0 the posterior mean is x_0 itself (ᾱ_{−1} = 1).
  vireo::testing::check_close(mean.select(0, 0), x0.select(0, 0).flatten().to_vector(), 1e-12);
}

TEST_CASE("q_sample is differentiable in x0 and the noise") {
  const NoiseSchedule schedule = NoiseSchedule::linear(20);
  const Tensor timesteps = steps({3, 17});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return q_sample(schedule, in[0], timesteps, in[1]); },
                  (std::vector<Tensor>{vireo::testing::random_input({2, 3}, 1), vireo::testing::random_input({2, 3}, 2)}));
}

TEST_CASE("forward process arguments are checked") {
  const NoiseSchedule schedule = NoiseSchedule::linear(10);
  const Tensor x0 = zeros({2, 1, 2, 2});
  check_error([&] { q_sample(schedule, x0, steps({1, 10}), zeros({2, 1, 2, 2})); }, {"q_sample", "timestep 10", "image 1"});
  check_error([&] { q_sample(schedule, x0, steps({1}), zeros({2, 1, 2, 2})); }, {"q_sample", "timesteps must be i64 [2]"});
  check_error([&] { q_sample(schedule, x0, full({2}, 1.0), zeros({2, 1, 2, 2})); }, {"timesteps must be i64"});
  check_error([&] { q_sample(schedule, x0, steps({1, 2}), zeros({2, 1, 2, 3})); }, {"q_sample", "same shape"});
}

TEST_CASE("DDIM timesteps are the evenly spaced sub-sequence") {
  std::vector<int64_t> expected;
  for (int64_t i = 0; i < 50; ++i) expected.push_back(20 * i);
  CHECK(ddim_timesteps(1000, 50) == expected);
  CHECK(ddim_timesteps(10, 10) == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(ddim_timesteps(10, 3) == std::vector<int64_t>{0, 3, 6});
  CHECK(ddim_timesteps(7, 1) == std::vector<int64_t>{0});
  check_error([] { ddim_timesteps(10, 11); }, {"[1, 10]", "11"});
  check_error([] { ddim_timesteps(10, 0); }, {"[1, 10]"});
}
