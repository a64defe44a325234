// DDPM and DDIM sampling, checked through the algebra of the reverse process: an oracle noise predictor
// (ε computed exactly from x_t and a clean image known to the test) must lead both samplers back to that
// image, the DDPM chain with σ² = β̃ and DDIM with any η must pass through the forward marginals
// q(x_t | x_0), deterministic DDIM must keep the oracle's ε fixed, DDIM with η = 1 over every timestep must
// reproduce DDPM draw for draw, and the same seed must give the same samples whatever the batch size.
#include <cmath>
#include <map>
#include <vector>

#include "gradcheck.h"
#include "models/unet.h"
#include "training/diffusion/ddim_sampler.h"
#include "training/diffusion/ddpm_sampler.h"
#include "training/diffusion/noise_schedule.h"

using namespace vireo;
using namespace vireo::diffusion;
using vireo::testing::check_error;

namespace {

double max_abs_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// A short schedule that still ends in (almost) pure noise: the linear betas scaled by 1000/T, as
// improved-diffusion scales them for T ≠ 1000 (ᾱ_{T−1} ≈ 4e-5).
NoiseSchedule short_schedule() { return NoiseSchedule::linear(100, 1e-3, 0.2); }

// Clean images in [−1, 1], one fixed pattern repeated over the batch.
Tensor clean_images(int64_t count) {
  const Tensor pattern = Tensor::from_vector({-0.8, -0.2, 0.3, 0.9}, {1, 1, 2, 2});
  return pattern.expand({count, 1, 2, 2}).contiguous();
}

// The oracle: ε = (x_t − √ᾱ_t · x_0)/√(1 − ᾱ_t), with x_0 known. Computed per image from its own t.
NoisePredictor oracle(const NoiseSchedule& schedule, const Tensor& x0) {
  return [&schedule, x0](const Tensor& x_t, const Tensor& timesteps, const Tensor&) {
    const std::vector<double> t = timesteps.to_vector();
    std::vector<double> signal(t.size()), noise(t.size());
    for (size_t i = 0; i < t.size(); ++i) {
      const double a = schedule.alpha_bar(static_cast<int64_t>(t[i]));
      signal[i] = std::sqrt(a);
      noise[i] = std::sqrt(1.0 - a);
    }
    const Shape per_image{x_t.size(0), 1, 1, 1};
    return (x_t - x0 * Tensor::from_vector(signal, per_image)) / Tensor::from_vector(noise, per_image);
  };
}

// A predictor that is no oracle but depends on x_t, t and each image: something for the samplers to follow.
Tensor made_up_noise(const Tensor& x_t, const Tensor& timesteps) {
  const Tensor t = timesteps.to(x_t.dtype()).reshape({x_t.size(0), 1, 1, 1});
  return tanh(x_t) * 0.7 + t * 0.003 - 0.1;
}

// Mean and population variance of each pixel over the batch: [N, 1, 2, 2] -> 4 pairs.
std::vector<std::pair<double, double>> pixel_statistics(const Tensor& x) {
  const int64_t count = x.size(0);
  const std::vector<double> values = x.reshape({count, 4}).to_vector();
  std::vector<std::pair<double, double>> out;
  for (int64_t p = 0; p < 4; ++p) {
    double mean = 0.0, square = 0.0;
    for (int64_t i = 0; i < count; ++i) mean += values[static_cast<size_t>(i * 4 + p)];
    mean /= static_cast<double>(count);
    for (int64_t i = 0; i < count; ++i) {
      const double d = values[static_cast<size_t>(i * 4 + p)] - mean;
      square += d * d;
    }
    out.emplace_back(mean, square / static_cast<double>(count));
  }
  return out;
}

// Checks that the states recorded at `timesteps` have the forward marginal N(√ᾱ_t x_0, 1 − ᾱ_t), to five
// standard errors.
void check_forward_marginals(const NoiseSchedule& schedule, const std::map<int64_t, Tensor>& states,
                             const std::vector<double>& clean) {
  REQUIRE(!states.empty());
  for (const auto& [t, x] : states) {
    const double a = schedule.alpha_bar(t);
    const double count = static_cast<double>(x.size(0));
    const auto statistics = pixel_statistics(x);
    for (size_t p = 0; p < 4; ++p) {
      INFO("t = ", t, ", pixel ", p);
      CHECK(std::abs(statistics[p].first - std::sqrt(a) * clean[p]) < 5.0 * std::sqrt((1.0 - a) / count));
      CHECK(std::abs(statistics[p].second - (1.0 - a)) < 5.0 * (1.0 - a) * std::sqrt(2.0 / count));
    }
  }
}

}  // namespace

TEST_CASE("DDPM with an oracle noise predictor returns the clean images") {
  const NoiseSchedule schedule = short_schedule();
  const Tensor x0 = clean_images(8);
  for (ReverseVariance variance : {ReverseVariance::beta, ReverseVariance::posterior})
    for (bool clip : {false, true}) {
      Generator generator(11);
      const Tensor samples = ddpm_sample(oracle(schedule, x0), schedule, x0.shape(), generator,
                                         {.variance = variance, .clip_denoised = clip});
      CHECK(max_abs_difference(samples, x0) < 1e-5);
    }
}

TEST_CASE("DDIM with an oracle noise predictor returns the clean images for any eta and step count") {
  const NoiseSchedule schedule = short_schedule();
  const Tensor x0 = clean_images(8);
  for (int64_t steps : {1, 7, 25, 100})
    for (double eta : {0.0, 0.5, 1.0}) {
      INFO("steps ", steps, ", eta ", eta);
      Generator generator(12);
      const Tensor samples = ddim_sample(oracle(schedule, x0), schedule, x0.shape(), generator,
                                         {.steps = steps, .eta = eta});
      CHECK(max_abs_difference(samples, x0) < 1e-5);
    }
}

TEST_CASE("the DDPM chain with the posterior variance passes through the forward marginals") {
  const NoiseSchedule schedule = short_schedule();
  const Tensor x0 = clean_images(3000);
  std::map<int64_t, Tensor> states;
  Generator generator(13);
  ddpm_sample(oracle(schedule, x0), schedule, x0.shape(), generator,
              {.variance = ReverseVariance::posterior,
               .on_step = [&](const SamplerStep& step) {
                 if (step.next_t == 80 || step.next_t == 40 || step.next_t == 10) states[step.next_t] = step.x;
               }});
  check_forward_marginals(schedule, states, {-0.8, -0.2, 0.3, 0.9});
}

TEST_CASE("stochastic DDIM on a sub-sequence passes through the forward marginals") {
  const NoiseSchedule schedule = short_schedule();
  const Tensor x0 = clean_images(3000);
  std::map<int64_t, Tensor> states;
  Generator generator(14);
  ddim_sample(oracle(schedule, x0), schedule, x0.shape(), generator,
              {.steps = 10, .eta = 1.0, .on_step = [&](const SamplerStep& step) {
                 if (step.next_t == 70 || step.next_t == 30) states[step.next_t] = step.x;
               }});
  check_forward_marginals(schedule, states, {-0.8, -0.2, 0.3, 0.9});
}

TEST_CASE("deterministic DDIM keeps the oracle's noise: x_tau = sqrt(abar) x0 + sqrt(1 - abar) eps at every step") {
  const NoiseSchedule schedule = short_schedule();
  const Tensor x0 = clean_images(4);
  Generator noise_generator(15);
  const Tensor start = randn(x0.shape(), {}, &noise_generator);
  // x_T stands at the first DDIM timestep τ_{S−1} = 90 (S = 10, T = 100): the ε it implies.
  const double first = schedule.alpha_bar(90);
  const Tensor epsilon = (start - x0 * std::sqrt(first)) / std::sqrt(1.0 - first);
  int64_t checked = 0;
  Generator generator(16);
  const Tensor samples = ddim_sample(oracle(schedule, x0), schedule, x0.shape(), generator,
                                     {.steps = 10, .eta = 0.0, .initial_noise = start,
                                      .on_step = [&](const SamplerStep& step) {
                                        CHECK(step.total == 10);
                                        CHECK(step.t == 90 - 10 * step.index);
                                        if (step.next_t < 0) return;
                                        const double a = schedule.alpha_bar(step.next_t);
                                        const Tensor expected = x0 * std::sqrt(a) + epsilon * std::sqrt(1.0 - a);
                                        CHECK(max_abs_difference(step.x, expected) < 1e-5);
                                        ++checked;
                                      }});
  CHECK(checked == 9);
  CHECK(max_abs_difference(samples, x0) < 1e-5);
  // η = 0 draws nothing after x_T: the generator only decides the sample through x_T.
  CHECK(generator.offset() == 0);
}

TEST_CASE("deterministic DDIM depends only on the starting noise") {
  const NoiseSchedule schedule = short_schedule();
  const NoisePredictor predictor = [](const Tensor& x, const Tensor& t, const Tensor&) { return made_up_noise(x, t); };
  Generator noise_generator(17);
  const Tensor start = randn({5, 1, 3, 3}, {}, &noise_generator);
  Generator first(1), second(2);
  const Tensor a = ddim_sample(predictor, schedule, start.shape(), first, {.steps = 20, .initial_noise = start});
  const Tensor b = ddim_sample(predictor, schedule, start.shape(), second, {.steps = 20, .initial_noise = start});
  CHECK(max_abs_difference(a, b) == 0.0);
  // With η > 0 the generator matters.
  Generator third(1), fourth(2);
  const Tensor c = ddim_sample(predictor, schedule, start.shape(), third, {.steps = 20, .eta = 0.5, .initial_noise = start});
  const Tensor d = ddim_sample(predictor, schedule, start.shape(), fourth, {.steps = 20, .eta = 0.5, .initial_noise = start});
  CHECK(max_abs_difference(c, d) > 1e-3);
}

TEST_CASE("DDIM with eta 1 over every timestep is DDPM with the posterior variance") {
  const NoiseSchedule schedule = short_schedule();
  const NoisePredictor predictor = [](const Tensor& x, const Tensor& t, const Tensor&) { return made_up_noise(x, t); };
  // In f64, so that rounding (x̂_0 is divided by √ᾱ_t ≈ 0.006 at the start) cannot hide a wrong formula.
  for (bool clip : {false, true}) {
    INFO("clip ", clip);
    Generator ddpm_generator(21), ddim_generator(21);
    std::vector<Tensor> ddpm_path, ddim_path;
    const Tensor ddpm = ddpm_sample(predictor, schedule, {4, 1, 3, 3}, ddpm_generator,
                                    {.variance = ReverseVariance::posterior, .clip_denoised = clip, .dtype = DType::f64,
                                     .on_step = [&](const SamplerStep& step) { ddpm_path.push_back(step.x); }});
    const Tensor ddim = ddim_sample(predictor, schedule, {4, 1, 3, 3}, ddim_generator,
                                    {.steps = 100, .eta = 1.0, .clip_denoised = clip, .dtype = DType::f64,
                                     .on_step = [&](const SamplerStep& step) { ddim_path.push_back(step.x); }});
    REQUIRE(ddpm_path.size() == 100);
    REQUIRE(ddim_path.size() == 100);
    // Step by step the same means and the same draws: the paths agree up to rounding.
    for (size_t i = 0; i < ddpm_path.size(); ++i) {
      INFO("step ", i);
      CHECK(max_abs_difference(ddpm_path[i], ddim_path[i]) < 1e-9);
    }
    CHECK(max_abs_difference(ddpm, ddim) < 1e-9);
    CHECK(ddpm.dtype() == DType::f64);
    CHECK(ddpm_generator.offset() == ddim_generator.offset());
  }
}

TEST_CASE("the same seed gives the same samples whatever the batch size") {
  const NoiseSchedule schedule = NoiseSchedule::linear(6, 0.01, 0.3);
  auto unet = models::ddpm_unet({.in_channels = 1, .base_channels = 8, .channel_multipliers = {1, 2},
                                 .num_res_blocks = 1, .attention_levels = {1}, .groups = 4});
  unet->eval();
  const NoisePredictor predictor = noise_predictor(*unet);
  Generator a(5), b(5), c(5), other(6);
  const Tensor whole = ddpm_sample(predictor, schedule, {5, 1, 8, 8}, a);
  const Tensor in_batches = ddpm_sample(predictor, schedule, {5, 1, 8, 8}, b, {.batch_size = 2});
  const Tensor again = ddpm_sample(predictor, schedule, {5, 1, 8, 8}, c);
  const Tensor different = ddpm_sample(predictor, schedule, {5, 1, 8, 8}, other);
  CHECK(max_abs_difference(whole, again) == 0.0);
  CHECK(max_abs_difference(whole, in_batches) < 1e-5);
  CHECK(max_abs_difference(whole, different) > 1e-2);
  // Clipped x̂_0 keeps the samples in [−1, 1].
  for (double v : whole.to_vector()) CHECK(std::abs(v) <= 1.0 + 1e-6);
  Generator d(5), e(5);
  const Tensor ddim_whole = ddim_sample(predictor, schedule, {5, 1, 8, 8}, d, {.steps = 3, .eta = 0.3});
  const Tensor ddim_batches = ddim_sample(predictor, schedule, {5, 1, 8, 8}, e, {.steps = 3, .eta = 0.3, .batch_size = 3});
  CHECK(max_abs_difference(ddim_whole, ddim_batches) < 1e-5);
}

TEST_CASE("class labels reach a conditional model in batches") {
  const NoiseSchedule schedule = NoiseSchedule::linear(4, 0.01, 0.3);
  auto unet = models::ddpm_unet({.in_channels = 1, .base_channels = 8, .channel_multipliers = {1},
                                 .num_res_blocks = 1, .attention_levels = {}, .groups = 4, .num_classes = 3});
  unet->eval();
  const Tensor labels = vireo::testing::indices({0, 2, 1, 2, 0}, {5});
  Generator a(8), b(8), c(8);
  const Tensor whole = ddpm_sample(noise_predictor(*unet), schedule, {5, 1, 4, 4}, a, {.labels = labels});
  const Tensor in_batches =
      ddpm_sample(noise_predictor(*unet), schedule, {5, 1, 4, 4}, b, {.batch_size = 2, .labels = labels});
  CHECK(max_abs_difference(whole, in_batches) < 1e-5);
  // Other labels, other samples: the labels were used.
  const Tensor relabelled = ddpm_sample(noise_predictor(*unet), schedule, {5, 1, 4, 4}, c,
                                        {.labels = vireo::testing::indices({1, 0, 2, 0, 1}, {5})});
  CHECK(max_abs_difference(whole, relabelled) > 1e-4);
}

TEST_CASE("sampler arguments are checked") {
  const NoiseSchedule schedule = NoiseSchedule::linear(10);
  const NoisePredictor predictor = [](const Tensor& x, const Tensor& t, const Tensor&) { return made_up_noise(x, t); };
  const NoisePredictor wrong_shape = [](const Tensor& x, const Tensor&, const Tensor&) { return x.flatten(1); };
  Generator generator(0);
  check_error([&] { ddim_sample(predictor, schedule, {2, 1, 2, 2}, generator, {.eta = 1.5}); }, {"ddim_sample", "eta", "1.5"});
  check_error([&] { ddim_sample(predictor, schedule, {2, 1, 2, 2}, generator, {.steps = 11}); }, {"[1, 10]", "11"});
  check_error([&] { ddpm_sample(predictor, schedule, {2, 1, 2, 2}, generator, {.initial_noise = zeros({3, 1, 2, 2})}); },
              {"ddpm_sample", "initial noise", "[3, 1, 2, 2]"});
  check_error([&] { ddpm_sample(wrong_shape, schedule, {2, 1, 2, 2}, generator); }, {"ddpm_sample", "images' shape", "[2, 4]"});
  check_error([&] { ddpm_sample(predictor, schedule, {0, 1, 2, 2}, generator); }, {"ddpm_sample", "N >= 1"});
  check_error([&] { ddpm_sample(predictor, schedule, {2, 1, 2, 2}, generator, {.labels = zeros({3}, {.dtype = DType::i64})}); },
              {"labels must be [2]"});
  check_error([&] { ddpm_sample(predictor, schedule, {2, 1, 2, 2}, generator, {.batch_size = -1}); }, {"batch_size"});
  check_error([&] { ddpm_sample(NoisePredictor(), schedule, {2, 1, 2, 2}, generator); }, {"noise predictor is empty"});
}
