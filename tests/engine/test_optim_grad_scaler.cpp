// Dynamic loss scaling (engine/optim/grad_scaler.h): the scaled loss's gradients are S times the plain
// ones and unscale back to them exactly (S a power of two); a step whose gradients hold an inf or NaN is
// skipped — parameters and optimizer state untouched — and halves S; growth_interval good steps in a row
// double it; a step skipped for an overflowing loss (skip_step) is counted and
// leaves S alone; a scaled SGD run on f32 follows the unscaled run; the state round-trips; bad options and calls
// out of order are refused by name.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/ops.h"
#include "engine/optim.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::optim;
using vireo::testing::check_error;

namespace {

// A parameter with a gradient set by hand.
Tensor param_with_grad(const std::vector<double>& grad) {
  const Shape shape{static_cast<int64_t>(grad.size())};
  Tensor p = ones(shape);
  p.requires_grad_();
  p.set_grad(Tensor::from_vector(grad, shape));
  return p;
}

}  // namespace

TEST_CASE("grad scaler: the scaled loss's gradients are S times the plain ones and unscale back to them") {
  Tensor w = Tensor::from_vector({0.5, -2.0, 3.0}, {3});
  w.requires_grad_();
  const Tensor x = Tensor::from_vector({1.5, 0.25, -1.0}, {3});
  sum(mul(mul(w, w), x)).backward();  // d/dw = 2·w·x
  const std::vector<double> plain = w.grad().to_vector();
  w.set_grad(Tensor());

  GradScaler scaler({.init_scale = 1024.0});
  const Tensor scaled_loss = scaler.scale(sum(mul(mul(w, w), x)));
  scaled_loss.backward();
  const std::vector<double> scaled = w.grad().to_vector();
  for (size_t i = 0; i < plain.size(); ++i) CHECK(scaled[i] == 1024.0 * plain[i]);
  scaler.unscale_(std::vector<Tensor>{w});
  CHECK_FALSE(scaler.found_non_finite());
  const std::vector<double> unscaled = w.grad().to_vector();
  for (size_t i = 0; i < plain.size(); ++i) CHECK(unscaled[i] == plain[i]);  // ×2^10 then ÷2^10: exact
}

TEST_CASE("grad scaler: an inf or NaN gradient skips the step and halves the scale while the parameters stay put") {
  for (const double bad : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()}) {
    INFO("bad gradient value ", bad);
    Tensor a = param_with_grad({1.0, 2.0}), b = param_with_grad({bad, 0.5});
    SGD sgd({a, b}, {.lr = 0.1, .momentum = 0.9});
    GradScaler scaler({.init_scale = 256.0});
    CHECK_FALSE(scaler.step(sgd));
    CHECK(scaler.found_non_finite());
    CHECK(scaler.skipped_steps() == 1);
    CHECK(a.to_vector() == std::vector<double>{1.0, 1.0});
    CHECK(b.to_vector() == std::vector<double>{1.0, 1.0});
    CHECK(sgd.state(a) == nullptr);  // no momentum buffer was started
    scaler.update();
    CHECK(scaler.current_scale() == 128.0);
    CHECK(scaler.state().growth_tracker == 0);
  }
}

TEST_CASE("grad scaler: growth_interval good steps in a row double the scale and an overflow restarts the count") {
  GradScaler scaler({.init_scale = 8.0, .growth_factor = 2.0, .backoff_factor = 0.25, .growth_interval = 3});
  std::vector<double> scales;
  // good, good, good (→ 16), good, bad (→ 4), good, good, good (→ 8)
  for (const bool finite : {true, true, true, true, false, true, true, true}) {
    Tensor p = param_with_grad({finite ? 1.0 : std::numeric_limits<double>::infinity()});
    SGD sgd({p}, {.lr = 0.5});
    CHECK(scaler.step(sgd) == finite);
    scaler.update();
    scales.push_back(scaler.current_scale());
  }
  CHECK(scales == std::vector<double>{8, 8, 16, 16, 4, 4, 4, 8});
  CHECK(scaler.skipped_steps() == 1);
}

TEST_CASE("grad scaler: a step skipped for an overflowing loss counts as skipped and leaves the scale and the good-step count") {
  GradScaler scaler({.init_scale = 8.0, .growth_interval = 3});
  Tensor p = param_with_grad({1.0});
  SGD sgd({p}, {.lr = 0.5});
  CHECK(scaler.step(sgd));  // one good step
  scaler.update();
  scaler.skip_step();  // the loss was inf: no backward, no unscale_, no update
  CHECK(scaler.skipped_steps() == 1);
  CHECK(scaler.current_scale() == 8.0);
  CHECK(scaler.state().growth_tracker == 1);
  for (int i = 0; i < 2; ++i) {  // two more good steps complete the interval
    CHECK(scaler.step(sgd));
    scaler.update();
  }
  CHECK(scaler.current_scale() == 16.0);
  // Once this step's gradients were unscaled, it is too late to skip it before its backward pass.
  scaler.unscale_(sgd);
  check_error([&] { scaler.skip_step(); }, {"skip_step", "already unscaled"});
}

TEST_CASE("grad scaler: a loss-scaled SGD run with clipping follows the unscaled run step for step") {
  auto run = [](bool with_scaler) {
    Tensor w = Tensor::from_vector({0.3, -0.7, 1.1, 0.05}, {2, 2});
    w.requires_grad_();
    const Tensor x = Tensor::from_vector({1.0, 2.0, -0.5, 0.25, 0.75, -1.5}, {3, 2});
    SGD sgd({w}, {.lr = 0.05, .momentum = 0.9});
    GradScaler scaler({.init_scale = 4096.0, .growth_interval = 2});
    std::vector<double> losses;
    for (int step = 0; step < 6; ++step) {
      sgd.zero_grad();
      const Tensor loss = mean(mul(matmul(x, w), matmul(x, w)));
      losses.push_back(loss.item());
      if (with_scaler) {
        scaler.scale(loss).backward();
        scaler.unscale_(sgd);
        clip_grad_norm_({w}, 1.0);
        CHECK(scaler.step(sgd));
        scaler.update();
      } else {
        loss.backward();
        clip_grad_norm_({w}, 1.0);
        sgd.step();
      }
    }
    if (with_scaler) CHECK(scaler.current_scale() == 4096.0 * 8);  // grown at steps 2, 4 and 6
    return losses;
  };
  const std::vector<double> plain = run(false), scaled = run(true);
  for (size_t i = 0; i < plain.size(); ++i) CHECK(scaled[i] == doctest::Approx(plain[i]).epsilon(1e-6));
}

TEST_CASE("grad scaler: the state round-trips and bad options or calls out of order are refused") {
  GradScaler scaler({.growth_interval = 10});
  scaler.load_state({.scale = 512.0, .growth_tracker = 7});
  CHECK(scaler.current_scale() == 512.0);
  CHECK(scaler.state().growth_tracker == 7);
  check_error([&] { scaler.load_state({.scale = 0.0}); }, {"scale 0 must be positive"});
  check_error([&] { scaler.load_state({.scale = 2.0, .growth_tracker = 10}); }, {"growth_tracker 10"});
  check_error([] { GradScaler({.init_scale = -1.0}); }, {"init_scale -1"});
  check_error([] { GradScaler({.growth_factor = 1.0}); }, {"growth_factor 1"});
  check_error([] { GradScaler({.backoff_factor = 1.5}); }, {"backoff_factor 1.5"});
  check_error([] { GradScaler({.growth_interval = 0}); }, {"growth_interval 0"});
  check_error([&] { scaler.update(); }, {"no gradients were unscaled"});
  Tensor p = param_with_grad({1.0});
  scaler.unscale_(std::vector<Tensor>{p});
  check_error([&] { scaler.unscale_(std::vector<Tensor>{p}); }, {"already unscaled"});
  check_error([&] { scaler.scale(Tensor::from_vector({1.0}, {1}, {.dtype = DType::i64})); }, {"floating loss"});
}
