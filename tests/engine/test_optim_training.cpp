// Training end to end with raw tensors: a linear regression y = X·w* + b*, loss = mse_loss, gradients from
// autograd, fitted by each optimizer (and by SGD under a warm-up + cosine schedule with gradient clipping)
// to a loss that an update with a wrong sign, scale or state would not reach.
#include <functional>

#include "engine/optim.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::optim;

namespace {

struct Regression {
  Tensor x, y;
  Tensor weight, bias;

  Regression() {
    Generator generator(42);
    x = randn({64, 5}, {}, &generator);
    const Tensor true_weight = randn({5, 1}, {}, &generator);
    y = add(matmul(x, true_weight), 0.7);  // b* = 0.7
    weight = mul(randn({5, 1}, {}, &generator), 0.1);
    bias = zeros({1});
    weight.requires_grad_();
    bias.requires_grad_();
  }
  NamedTensors named() const { return {{"linear.weight", weight}, {"linear.bias", bias}}; }
  Tensor loss() const { return mse_loss(add(matmul(x, weight), bias), y); }
};

// Trains for `steps` full-batch steps and returns {initial loss, final loss}.
std::pair<double, double> train(Regression& problem, Optimizer& optimizer, int steps,
                                const std::function<void()>& after_backward = {},
                                const std::function<void()>& after_step = {}) {
  const double initial = problem.loss().item();
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    problem.loss().backward();
    if (after_backward) after_backward();
    optimizer.step();
    if (after_step) after_step();
  }
  NoGrad no_grad;
  return {initial, problem.loss().item()};
}

}  // namespace

TEST_CASE("SGD with momentum fits a linear regression") {
  Regression problem;
  SGD sgd(problem.named(), {.lr = 0.05, .momentum = 0.9});
  const auto [initial, final] = train(problem, sgd, 200);
  CHECK(initial > 1.0);
  CHECK(final < 1e-8);
}

TEST_CASE("SGD with Nesterov momentum fits a linear regression") {
  Regression problem;
  SGD sgd(problem.named(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
  const auto [initial, final] = train(problem, sgd, 200);
  CHECK(initial > 1.0);
  CHECK(final < 1e-8);
}

TEST_CASE("Adam fits a linear regression") {
  Regression problem;
  Adam adam(problem.named(), {.lr = 0.05});
  const auto [initial, final] = train(problem, adam, 400);
  CHECK(initial > 1.0);
  CHECK(final < 1e-6);
}

TEST_CASE("AdamW with amsgrad fits a linear regression") {
  Regression problem;
  AdamW adamw(split_decay_groups(problem.named(), 0.05, 1e-4), {.amsgrad = true});
  const auto [initial, final] = train(problem, adamw, 400);
  CHECK(initial > 1.0);
  CHECK(final < 1e-5);
}

TEST_CASE("LARS with BYOL's parameter groups fits a linear regression") {
  Regression problem;
  LARS lars(lars_param_groups(problem.named(), 0.05, 1e-6), {.trust_coefficient = 0.02});
  const auto [initial, final] = train(problem, lars, 400);
  CHECK(initial > 1.0);
  // The trust ratio normalizes the step, so LARS ends oscillating at a scale lr·η·‖p‖: a higher floor.
  CHECK(final < 1e-4);
}

TEST_CASE("SGD under a warm-up and cosine schedule with gradient clipping fits a linear regression") {
  Regression problem;
  SGD sgd(problem.named(), {.lr = 0.1, .momentum = 0.9});
  const int64_t batch = 64, steps = 300;
  LrScheduler scheduler(sgd, WarmupCosineSchedule({.warmup_samples = 20 * batch, .total_samples = steps * batch}));
  double largest_norm = 0.0;
  const auto [initial, final] = train(
      problem, sgd, steps,
      [&] {
        const std::vector<Tensor> params = {problem.weight, problem.bias};
        largest_norm = std::max(largest_norm, clip_grad_norm_(params, 1.0));
        CHECK(total_grad_norm(params) <= 1.0 + 1e-6);
      },
      [&] { scheduler.advance(batch); });
  CHECK(largest_norm > 1.0);  // clipping was active
  CHECK(sgd.param_groups()[0].lr == 0.0);  // the cosine ended at final_factor 0
  CHECK(initial > 1.0);
  CHECK(final < 1e-6);
}
