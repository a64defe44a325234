// Gradient-norm clipping: the total norm (2, 1, 3 and ∞) against sums written here, torch's scaling rule,
// nothing changing below max_norm, parameters without gradients, non-finite totals, thread-count
// independence, and argument errors.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/optim.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::optim;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::with_threads;

namespace {

using Values = std::vector<double>;

Tensor param_with_grad(const Values& grad, const Shape& shape, DType dtype = DType::f64) {
  Tensor p = zeros(shape, {.dtype = dtype});
  p.requires_grad_();
  p.set_grad(Tensor::from_vector(grad, shape, {.dtype = dtype}));
  return p;
}

Values scaled(const Values& x, double factor) {
  Values out = x;
  for (double& v : out) v *= factor;
  return out;
}

}  // namespace

TEST_CASE("clip_grad_norm_ returns the total 2-norm and scales by max_norm over total plus 1e-6") {
  const Values ga = {3.0, -4.0}, gb = {12.0};  // total = √(9 + 16 + 144) = 13
  Tensor a = param_with_grad(ga, {2}), b = param_with_grad(gb, {1, 1});
  const double total = clip_grad_norm_({a, b}, 2.6);
  CHECK(total == doctest::Approx(13.0).epsilon(1e-15));
  const double coef = 2.6 / (13.0 + 1e-6);
  check_close(a.grad(), scaled(ga, coef), 1e-15);
  check_close(b.grad(), scaled(gb, coef), 1e-15);
  CHECK(total_grad_norm({a, b}) == doctest::Approx(2.6 * 13.0 / (13.0 + 1e-6)).epsilon(1e-14));
}

TEST_CASE("clip_grad_norm_ changes nothing below max_norm") {
  const Values ga = {0.3, -0.4};
  Tensor a = param_with_grad(ga, {2}, DType::f32);
  const uint64_t version = a.grad().version();
  const double total = clip_grad_norm_({a}, 1.0);
  CHECK(total == doctest::Approx(0.5).epsilon(1e-7));
  CHECK(a.grad().to_vector() == Tensor::from_vector(ga, {2}).to_vector());  // bit for bit
  CHECK(a.grad().version() == version);
}

TEST_CASE("clip_grad_norm_ with the infinity norm uses the largest magnitude") {
  const Values ga = {0.5, -7.0, 2.0}, gb = {6.5};
  Tensor a = param_with_grad(ga, {3}), b = param_with_grad(gb, {1});
  const double total = clip_grad_norm_({a, b}, 3.5, std::numeric_limits<double>::infinity());
  CHECK(total == 7.0);
  check_close(a.grad(), scaled(ga, 3.5 / (7.0 + 1e-6)), 1e-15);
  check_close(b.grad(), scaled(gb, 3.5 / (7.0 + 1e-6)), 1e-15);
}

TEST_CASE("total_grad_norm of orders 1 and 3 sums the powers of every element") {
  const Values ga = {1.0, -2.0}, gb = {3.0, 0.5, -0.25};
  Tensor a = param_with_grad(ga, {2}), b = param_with_grad(gb, {3}, DType::f32);
  double l1 = 0, l3 = 0;
  for (const Values* g : {&ga, &gb})
    for (double v : *g) {
      l1 += std::abs(v);
      l3 += std::pow(std::abs(v), 3.0);
    }
  CHECK(total_grad_norm({a, b}, 1.0) == doctest::Approx(l1).epsilon(1e-14));
  CHECK(total_grad_norm({a, b}, 3.0) == doctest::Approx(std::cbrt(l3)).epsilon(1e-14));
  const double total = clip_grad_norm_({a, b}, 1.0, 1.0);
  CHECK(total == doctest::Approx(l1).epsilon(1e-14));
  check_close(a.grad(), scaled(ga, 1.0 / (l1 + 1e-6)), 1e-15);
}

TEST_CASE("clip_grad_norm_ ignores parameters without a gradient") {
  Tensor a = param_with_grad({6.0, 8.0}, {2});
  Tensor none = zeros({3}, {.dtype = DType::f64});
  none.requires_grad_();
  CHECK(clip_grad_norm_({a, none}, 5.0) == doctest::Approx(10.0).epsilon(1e-15));
  CHECK_FALSE(none.grad().defined());
  check_close(a.grad(), {6.0 * 5.0 / (10.0 + 1e-6), 8.0 * 5.0 / (10.0 + 1e-6)}, 1e-15);
  CHECK(clip_grad_norm_({none}, 1.0) == 0.0);
}

TEST_CASE("a non-finite total norm is an error only when asked") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor a = param_with_grad({1.0, nan}, {2}), b = param_with_grad({2.0}, {1});
  check_error([&] { clip_grad_norm_({a, b}, 1.0, 2.0, true); }, {"clip_grad_norm_", "non-finite (nan)", "error_if_nonfinite"});
  CHECK(b.grad().item() == 2.0);  // nothing scaled
  // As torch: the NaN total makes the coefficient NaN, and so every gradient.
  CHECK(std::isnan(clip_grad_norm_({a, b}, 1.0)));
  CHECK(std::isnan(b.grad().item()));

  Tensor c = param_with_grad({1.0, -std::numeric_limits<double>::infinity()}, {2});
  check_error([&] { clip_grad_norm_({c}, 1.0, std::numeric_limits<double>::infinity(), true); }, {"non-finite (inf)"});
  Tensor d = param_with_grad({nan, 5.0}, {2});
  CHECK(std::isnan(total_grad_norm({d}, std::numeric_limits<double>::infinity())));
}

TEST_CASE("the total gradient norm does not depend on the thread count") {
  const int64_t n = 400009;
  Generator generator(3);
  const Tensor grad = randn({n}, {}, &generator);
  auto run = [&](int threads, double norm_type) {
    return with_threads(threads, [&] {
      Tensor p = zeros({n});
      p.requires_grad_();
      p.set_grad(grad.clone());
      const double total = clip_grad_norm_({p}, 1.0, norm_type);
      return std::pair<double, Values>(total, p.grad().to_vector());
    });
  };
  for (double norm_type : {2.0, 1.0, 3.0, std::numeric_limits<double>::infinity()}) {
    CAPTURE(norm_type);
    const auto one = run(1, norm_type), two = run(2, norm_type), three = run(3, norm_type);
    CHECK(one.first == two.first);
    CHECK(one.first == three.first);
    CHECK(one.second == two.second);
    CHECK(one.second == three.second);
  }
  // And the value is the norm: against an f64 sum written here.
  double sum_of_squares = 0;
  for (double v : grad.to_vector()) sum_of_squares += v * v;
  CHECK(run(2, 2.0).first == doctest::Approx(std::sqrt(sum_of_squares)).epsilon(1e-12));
}

TEST_CASE("clip_grad_norm_ refuses bad arguments") {
  Tensor a = param_with_grad({1.0}, {1});
  check_error([&] { clip_grad_norm_({a}, -1.0); }, {"clip_grad_norm_", "max_norm -1"});
  check_error([&] { clip_grad_norm_({a}, 1.0, 0.0); }, {"clip_grad_norm_", "norm_type 0"});
  check_error([&] { clip_grad_norm_({a}, 1.0, -std::numeric_limits<double>::infinity()); }, {"norm_type -inf"});
  check_error([&] { total_grad_norm({a, Tensor()}); }, {"total_grad_norm", "parameter 1", "undefined"});
}
