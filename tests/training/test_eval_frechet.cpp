// The Fréchet distance between feature sets: hand-computable one- and two-dimensional cases, a shift that
// moves only the means, zero for a set against itself, and the shape errors.
#include <doctest/doctest.h>

#include "engine/ops.h"
#include "gradcheck.h"
#include "training/eval/frechet.h"

using namespace vireo;
using vireo::testing::check_error;

TEST_CASE("frechet distance of one-dimensional sets by hand") {
  // a = {0, 2}: mean 1, variance 2; b = {3, 7}: mean 5, variance 8.
  // d² = (1 − 5)² + 2 + 8 − 2·√(2·8) = 16 + 10 − 8 = 18.
  const Tensor a = Tensor::from_vector({0, 2}, {2, 1}), b = Tensor::from_vector({3, 7}, {2, 1});
  CHECK(eval::frechet_distance(a, b) == doctest::Approx(18.0).epsilon(1e-9));
  CHECK(eval::frechet_distance(b, a) == doctest::Approx(18.0).epsilon(1e-9));
}

TEST_CASE("frechet distance of axis-aligned sets is the sum of squared differences of means and deviations") {
  // Four points (±1, ±2) around (0, 0) and (±3, ±1) around (1, −1): per axis the unbiased variance is
  // 4/3·s² for half-widths s, so d² = 1 + 1 + (4/3)·((1 − 3)² + (2 − 1)²) = 2 + 20/3.
  const Tensor a = Tensor::from_vector({1, 2, 1, -2, -1, 2, -1, -2}, {4, 2});
  const Tensor b = Tensor::from_vector({4, 0, 4, -2, -2, 0, -2, -2}, {4, 2});
  CHECK(eval::frechet_distance(a, b) == doctest::Approx(2.0 + 20.0 / 3.0).epsilon(1e-9));
}

TEST_CASE("frechet distance of a set and its shifted copy is the squared shift") {
  Generator generator(3);
  const Tensor a = randn({50, 6}, {.dtype = DType::f64}, &generator);
  const Tensor shift = Tensor::from_vector({1, -2, 0, 0.5, 0, 3}, {1, 6}, {.dtype = DType::f64});
  CHECK(eval::frechet_distance(a, a) == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(eval::frechet_distance(a, a + shift) == doctest::Approx(1 + 4 + 0.25 + 9).epsilon(1e-6));
  check_error([&] { eval::frechet_distance(a, zeros({5, 3})); }, {"frechet_distance", "[50, 6]", "[5, 3]"});
}
