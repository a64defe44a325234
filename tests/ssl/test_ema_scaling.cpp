// The EMA scaling rule: ρ^κ, the optimizer rules, the momentum schedules, the parameter EMA, and the toy
// check that the rule keeps an EMA on the same per-sample trajectory at a larger batch.
#include <cmath>
#include <numbers>

#include "engine/nn/linear.h"
#include "gradcheck.h"
#include "training/ema_scaling.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;

TEST_CASE("ema scaling: kappa and rho to the kappa") {
  CHECK(batch_scale(512, 256) == doctest::Approx(2.0));
  CHECK(batch_scale(96, 256) == doctest::Approx(0.375));  // fractional
  CHECK(scale_ema_momentum(0.99, 4.0) == doctest::Approx(0.99 * 0.99 * 0.99 * 0.99).epsilon(1e-14));
  CHECK(scale_ema_momentum(0.996, 0.5) == doctest::Approx(std::sqrt(0.996)).epsilon(1e-14));
  CHECK(scale_ema_momentum(1.0, 16.0) == 1.0);
  CHECK(scale_ema_momentum(0.9, 1.0) == doctest::Approx(0.9));
  ScalingRule on{.kappa = 2.0, .ema_rule = true};
  ScalingRule off{.kappa = 2.0, .ema_rule = false};
  CHECK(on.momentum(0.9) == doctest::Approx(0.81));
  CHECK(off.momentum(0.9) == doctest::Approx(0.9));
  check_error([] { batch_scale(0, 256); }, {"batch_size", "positive"});
  check_error([] { batch_scale(64, -1); }, {"base_batch_size"});
  check_error([] { scale_ema_momentum(1.5, 2.0); }, {"momentum", "1.5"});
}

TEST_CASE("ema scaling: optimizer learning-rate rules") {
  const OptimizerHyperparameters base{.lr = 0.1, .betas = {0.9, 0.999}, .eps = 1e-8};
  CHECK(scale_optimizer(OptimizerFamily::sgd, base, 4.0).lr == doctest::Approx(0.4));
  CHECK(scale_optimizer(OptimizerFamily::lars, base, 0.5).lr == doctest::Approx(0.05));
  const OptimizerHyperparameters sgd = scale_optimizer(OptimizerFamily::sgd, base, 4.0);
  CHECK(sgd.betas[0] == base.betas[0]);  // SGD leaves Adam's constants alone
  const OptimizerHyperparameters adam = scale_optimizer(OptimizerFamily::adamw, base, 4.0);
  CHECK(adam.lr == doctest::Approx(0.2));
  CHECK(adam.betas[0] == doctest::Approx(0.6));
  CHECK(adam.betas[1] == doctest::Approx(0.996));
  CHECK(adam.eps == doctest::Approx(5e-9));
  const OptimizerHyperparameters half = scale_optimizer(OptimizerFamily::adam, base, 0.25);
  CHECK(half.lr == doctest::Approx(0.05));
  CHECK(half.betas[0] == doctest::Approx(0.975));
  CHECK(half.eps == doctest::Approx(2e-8));
  CHECK(optimizer_family("adamw") == OptimizerFamily::adamw);
  check_error([] { optimizer_family("rmsprop"); }, {"rmsprop", "sgd"});
  check_error([&] { scale_optimizer(OptimizerFamily::adam, base, 20.0); }, {"beta1", "kappa"});
}

TEST_CASE("ema scaling: cosine momentum schedule in samples") {
  const CosineMomentum schedule(0.99, 1000);
  CHECK(schedule.momentum(0) == doctest::Approx(0.99));
  CHECK(schedule.momentum(500) == doctest::Approx(0.995));
  CHECK(schedule.momentum(250) == doctest::Approx(1 - 0.01 * (std::cos(std::numbers::pi / 4) + 1) / 2));
  CHECK(schedule.momentum(1000) == doctest::Approx(1.0));
  CHECK(schedule.momentum(5000) == doctest::Approx(1.0));
  check_error([] { CosineMomentum(0.99, 0); }, {"total_samples"});
}

TEST_CASE("ema scaling: parameter EMA update with a scheduled momentum") {
  auto online = std::make_shared<nn::Linear>(2, 1);
  auto average = std::make_shared<nn::Linear>(2, 1);
  {
    NoGrad no_grad;
    online->weight.copy_(Tensor::from_vector({1.0, 2.0}, {1, 2}));
    online->bias.fill_(3.0);
    average->weight.fill_(0.0);
    average->bias.fill_(0.0);
  }
  ParameterEma ema(online, average, std::make_shared<CosineMomentum>(0.9, 100), ScalingRule{.kappa = 2.0});
  // At 50 samples the base momentum is 0.95, scaled to 0.95² = 0.9025.
  const double rho = ema.update(50);
  CHECK(rho == doctest::Approx(0.9025));
  const double w = 1 - 0.9025;
  vireo::testing::check_close(average->weight, {1.0 * w, 2.0 * w});
  vireo::testing::check_close(average->bias, {3.0 * w});
  ema.set_rule(ScalingRule{.kappa = 2.0, .ema_rule = false});
  CHECK(ema.update(50) == doctest::Approx(0.95));
  auto mismatched = std::make_shared<nn::Linear>(3, 1);
  check_error([&] { ParameterEma(online, mismatched, std::make_shared<ConstantMomentum>(0.9)); }, {"weight", "shape"});
}

// A deterministic signal plays the online parameter (as if an optimizer moved it along a fixed path per
// sample seen). An EMA over it at batch 8 (κ = 1) is the reference; at batch 32 (κ = 4) the EMA sees the
// same samples in 4× fewer updates. With ρ → ρ^κ it stays on the reference trajectory; without, it lags.
namespace {
double signal(int64_t samples) { return std::sin(2 * std::numbers::pi * samples / 640.0) + 0.25 * samples / 640.0; }

// The EMA value after each multiple of `record_every` samples.
std::vector<double> ema_trajectory(int64_t batch, double kappa, bool ema_rule, int64_t total, int64_t record_every,
                                   std::shared_ptr<const MomentumSchedule> schedule) {
  auto online = std::make_shared<nn::Linear>(1, 1, nn::LinearOptions{.bias = false});
  auto average = std::make_shared<nn::Linear>(1, 1, nn::LinearOptions{.bias = false});
  {
    NoGrad no_grad;
    online->weight.fill_(signal(0));
    average->weight.fill_(signal(0));
  }
  ParameterEma ema(online, average, schedule, ScalingRule{.kappa = kappa, .ema_rule = ema_rule});
  std::vector<double> recorded;
  for (int64_t seen = 0; seen < total; seen += batch) {
    {
      NoGrad no_grad;
      online->weight.fill_(signal(seen + batch));  // the optimizer step over this batch
    }
    ema.update(seen);
    if ((seen + batch) % record_every == 0) recorded.push_back(average->weight.item());
  }
  return recorded;
}

double max_deviation(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}
}  // namespace

TEST_CASE("ema scaling: toy EMA at kappa 4 tracks the kappa 1 trajectory with the rule") {
  const int64_t total = 2560;
  for (auto schedule : {std::shared_ptr<const MomentumSchedule>(std::make_shared<ConstantMomentum>(0.98)),
                        std::shared_ptr<const MomentumSchedule>(std::make_shared<CosineMomentum>(0.95, total))}) {
    const auto reference = ema_trajectory(8, 1.0, true, total, 32, schedule);
    const auto with_rule = ema_trajectory(32, 4.0, true, total, 32, schedule);
    const auto without_rule = ema_trajectory(32, 4.0, false, total, 32, schedule);
    const double deviation_with = max_deviation(with_rule, reference);
    const double deviation_without = max_deviation(without_rule, reference);
    INFO("deviation with the rule ", deviation_with, ", without ", deviation_without);
    CHECK(deviation_with < 0.25 * deviation_without);
    CHECK(deviation_without > 0.05);  // the comparison is not vacuous
  }
}
