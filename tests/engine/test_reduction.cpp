// Reductions: values over any set of dimensions with keepdim, index outputs, gradient checks (adjacent
// and non-adjacent dimensions, non-contiguous inputs), determinism across thread counts.
#include <omp.h>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;
using Inputs = std::vector<Tensor>;

namespace {
Tensor iota(const Shape& shape) { return arange(numel(shape), {.dtype = DType::f64}).reshape(shape); }
}  // namespace

TEST_CASE("sum and mean over any dimensions") {
  Tensor x = iota({2, 3, 4});
  check_close(sum(x), {276});
  check_close(sum(x, {1}), {12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(sum(x, {1}, true).shape() == Shape{2, 1, 4});
  check_close(sum(x, {0, 2}), {60, 92, 124});  // non-adjacent: permuted path
  check_close(sum(x, {-1}), {6, 22, 38, 54, 70, 86});
  check_close(mean(x, {0, 1}), {10, 11, 12, 13});
  check_close(sum(x.transpose(0, 2), {0}), {6, 54, 22, 70, 38, 86});  // [j][i] = Σ_k x[i][j][k]
  check_error([&] { sum(x, {3}); }, {"sum", "3"});
  check_error([&] { sum(x, {1, 1}); }, {"sum", "repeated"});
}

TEST_CASE("var std with and without Bessel's correction") {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0}, {.dtype = DType::f64});
  check_close(var(x), {5.0 / 3.0});
  check_close(var(x, {}, false), {1.25});
  check_close(vireo::std(x, {}, false), {std::sqrt(1.25)});
}

TEST_CASE("max min argmax amax logsumexp norm") {
  Tensor x = Tensor::from_vector({3, 1, 4, 1, 5, 9, 2, 6}, {2, 4}, {.dtype = DType::f64});
  auto [values, indices] = max(x, 1);
  check_close(values, {4, 9});
  check_close(indices, {2, 1});
  CHECK(indices.dtype() == DType::i64);
  check_close(min(x, 0).values, {3, 1, 2, 1});
  check_close(argmax(x, 0), {1, 1, 0, 1});
  check_close(argmin(x, 1, true), {1, 2});
  check_close(amax(x), {9});
  check_close(amin(x, {1}), {1, 2});
  const double lse0 = std::log(std::exp(3.0) + std::exp(1.0) + std::exp(4.0) + std::exp(1.0));
  check_close(logsumexp(x, {1}).slice(0, 0, 1), {lse0});
  check_close(norm(x, 2.0, {1}).slice(0, 0, 1), {std::sqrt(9.0 + 1 + 16 + 1)});
  check_close(norm(x, 1.0), {31});
  check_close(norm(x, 3.0, {1}).slice(0, 1, 2), {std::cbrt(125.0 + 729 + 8 + 216)});
  // logsumexp of −inf everywhere is −inf, not NaN.
  Tensor minus_inf = full({3}, -std::numeric_limits<double>::infinity(), {.dtype = DType::f64});
  CHECK(logsumexp(minus_inf, {0}).item() == -std::numeric_limits<double>::infinity());
  // Large values do not overflow.
  check_close(logsumexp(tensor({1000.0, 1000.0}, {.dtype = DType::f64}), {0}), {1000.0 + std::log(2.0)});
}

TEST_CASE("sums are identical for 1 and 2 threads") {
  Generator g(3);
  Tensor x = randn({1 << 20}, {}, &g);
  Tensor y = randn({512, 300}, {}, &g);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = sum(x).item();
  const auto rows_one = sum(y, {0}).to_vector();
  omp_set_num_threads(2);
  const double two = sum(x).item();
  const auto rows_two = sum(y, {0}).to_vector();
  omp_set_num_threads(threads);
  CHECK(one == two);
  CHECK(rows_one == rows_two);
}

TEST_CASE("gradcheck: sum mean") {
  CHECK_GRADCHECK([](const Inputs& in) { return sum(in[0], {1}); }, Inputs({random_input({2, 3, 4}, 1)}));
  CHECK_GRADCHECK([](const Inputs& in) { return sum(in[0], {0, 2}, true); }, Inputs({random_input({2, 3, 4}, 2)}));
  CHECK_GRADCHECK([](const Inputs& in) { return mean(in[0]); }, Inputs({transposed_input({3, 4}, 3)}));
  CHECK_GRADCHECK([](const Inputs& in) { return mean(in[0], {-1}); }, Inputs({transposed_input({3, 4}, 4)}));
}

TEST_CASE("gradcheck: var std") {
  CHECK_GRADCHECK([](const Inputs& in) { return var(in[0], {1}); }, Inputs({random_input({3, 5}, 5)}));
  CHECK_GRADCHECK([](const Inputs& in) { return vireo::std(in[0], {0, 2}, false, true); },
                  Inputs({random_input({2, 3, 4}, 6)}));
}

TEST_CASE("gradcheck: amax amin max min") {
  // Random inputs have no ties, so each reduction has one well-defined winner.
  CHECK_GRADCHECK([](const Inputs& in) { return amax(in[0], {1}); }, Inputs({random_input({3, 5}, 7)}));
  CHECK_GRADCHECK([](const Inputs& in) { return amin(in[0], {0, 2}); }, Inputs({random_input({2, 3, 4}, 8)}));
  CHECK_GRADCHECK([](const Inputs& in) { return max(in[0], 0).values; }, Inputs({transposed_input({3, 4}, 9)}));
  CHECK_GRADCHECK([](const Inputs& in) { return min(in[0], -1, true).values; }, Inputs({random_input({3, 4}, 10)}));
}

TEST_CASE("amax shares the gradient among ties") {
  Tensor x = tensor({2.0, 5.0, 5.0}, {.dtype = DType::f64, .requires_grad = true});
  amax(x).backward();
  check_close(x.grad(), {0.0, 0.5, 0.5});
}

TEST_CASE("gradcheck: logsumexp norm") {
  CHECK_GRADCHECK([](const Inputs& in) { return logsumexp(in[0], {1}); }, Inputs({random_input({3, 5}, 11)}));
  CHECK_GRADCHECK([](const Inputs& in) { return logsumexp(in[0], {0, 1}, true); }, Inputs({transposed_input({3, 4}, 12)}));
  CHECK_GRADCHECK([](const Inputs& in) { return norm(in[0], 2.0, {1}); }, Inputs({random_input({3, 5}, 13)}));
  CHECK_GRADCHECK([](const Inputs& in) { return norm(in[0], 1.0, {0}); }, Inputs({random_input({3, 5}, 14, 0.1, 1.0)}));
  CHECK_GRADCHECK([](const Inputs& in) { return norm(in[0], 3.0); }, Inputs({random_input({4}, 15, 0.1, 1.0)}));
}

TEST_CASE("norm of a zero vector has a zero gradient") {
  Tensor x = zeros({3}, {.dtype = DType::f64, .requires_grad = true});
  norm(x).backward();
  check_close(x.grad(), {0, 0, 0});
}
