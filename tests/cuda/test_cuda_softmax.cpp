// The CUDA softmax family: softmax and log_softmax forward and backward, cross-entropy forward and backward.
// Host tests: the online max-sum state (engine/cuda/reduce_math.h), merged in any tree, reproduces the CPU's
// two-pass softmax, log_softmax and cross-entropy, including rows with NaN, +inf and −inf. GPU parity tests:
// every kernel on CUDA against the CPU for row (inner = 1) and column layouts, short and long lines, every
// floating dtype, label smoothing and ignored targets, and the refusal of a target out of range.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/parity_pairs.h"
#include "engine/cuda/reduce_math.h"
#include "engine/kernels/softmax.h"
#include "engine/ops/creation.h"

using namespace vireo;
using namespace vireo::test;
using cuda::SoftmaxState;

namespace {

// The line's state merged as the GPU merges it: per-thread strided shares, then a pairwise tree.
SoftmaxState<double> fold_softmax(const std::vector<double>& x, int group) {
  std::vector<SoftmaxState<double>> partial(group, cuda::softmax_identity<double>());
  for (int lane = 0; lane < group; ++lane)
    for (size_t r = lane; r < x.size(); r += group)
      partial[lane] = cuda::softmax_combine(partial[lane], cuda::softmax_element(x[r]));
  for (int half = group / 2; half > 0; half /= 2)
    for (int lane = 0; lane < half; ++lane) partial[lane] = cuda::softmax_combine(partial[lane], partial[lane + half]);
  return cuda::softmax_finish(partial[0]);
}

void check_same(double got, double want, double rtol, const std::string& what) {
  if (got == want) return;  // also equal infinities
  if (std::isnan(want) || std::isnan(got)) {
    CHECK_MESSAGE((std::isnan(want) && std::isnan(got)), what, ": ", got, " vs the CPU's ", want);
    return;
  }
  CHECK_MESSAGE(std::abs(got - want) <= rtol * (1 + std::abs(want)), what, ": ", got, " vs the CPU's ", want);
}

std::vector<std::vector<double>> test_rows() {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> uniform(-30, 30);
  std::vector<std::vector<double>> rows;
  for (int n : {1, 2, 5, 33, 300, 1000}) {
    std::vector<double> row(n);
    for (double& v : row) v = uniform(rng);
    rows.push_back(row);
  }
  rows.push_back({1.0, -inf, 2.0, -inf});  // some −inf: zero probability
  rows.push_back({-inf, -inf, -inf});      // all −inf: NaN on the CPU
  rows.push_back({1.0, nan, 3.0});         // a NaN: NaN everywhere
  rows.push_back({1.0, inf, 3.0});         // +inf: NaN everywhere on the CPU
  return rows;
}

}  // namespace

TEST_CASE("the online softmax state merged as a tree gives the CPU's softmax and log_softmax with special rows") {
  for (const auto& row : test_rows()) {
    const int64_t n = static_cast<int64_t>(row.size());
    const Tensor x = Tensor::from_vector(row, {1, n, 1}, {.dtype = DType::f64});
    for (bool log : {false, true}) {
      Tensor y = Tensor::empty({1, n, 1}, {.dtype = DType::f64});
      kernels::softmax(Device::cpu(), x, 1, n, 1, log, y);
      const std::vector<double> want = y.to_vector();
      for (int group : {1, 4, 32, 256}) {
        const SoftmaxState<double> state = fold_softmax(row, group);
        const double lse = cuda::softmax_log_sum(state), scale = 1.0 / state.sum;
        for (int64_t r = 0; r < n; ++r) {
          const double got = log ? row[r] - lse : std::exp(row[r] - state.max) * scale;
          check_same(got, want[r], 1e-13,
                     std::string(log ? "log_softmax" : "softmax") + " n = " + std::to_string(n) + " group " +
                         std::to_string(group) + " element " + std::to_string(r));
        }
      }
    }
  }
}

TEST_CASE("the online state with Σx gives the CPU's cross-entropy with label smoothing") {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> uniform(-5, 5);
  const int64_t classes = 37, rows = 6, ignore = -100;
  std::vector<double> logits(rows * classes);
  for (double& v : logits) v = uniform(rng);
  const std::vector<double> targets = {0, 36, 5, -100, 12, 20};
  const Tensor x = Tensor::from_vector(logits, {rows, classes, 1}, {.dtype = DType::f64});
  const Tensor t = Tensor::from_vector(targets, {rows, 1}, {.dtype = DType::i64});
  const double smoothing = 0.1;
  Tensor loss = Tensor::empty({rows, 1}, {.dtype = DType::f64}), lse = Tensor::empty({rows, 1}, {.dtype = DType::f64});
  kernels::cross_entropy(Device::cpu(), x, t, rows, classes, 1, smoothing, ignore, loss, lse);
  const auto want_loss = loss.to_vector(), want_lse = lse.to_vector();
  for (int64_t o = 0; o < rows; ++o) {
    const std::vector<double> row(logits.begin() + o * classes, logits.begin() + (o + 1) * classes);
    const double log_sum = cuda::softmax_log_sum(fold_softmax(row, 8));
    double sum_x = 0;
    for (double v : row) sum_x += v;
    const int64_t k = static_cast<int64_t>(targets[o]);
    const double got = k == ignore ? 0.0 : log_sum - (1 - smoothing) * row[k] - smoothing / classes * sum_x;
    check_same(log_sum, want_lse[o], 1e-13, "lse row " + std::to_string(o));
    check_same(got, want_loss[o], 1e-13, "loss row " + std::to_string(o));
  }
}

// ---- GPU parity ----

namespace {

struct Layout {
  int64_t outer, extent, inner;
};
const std::vector<Layout>& layouts() {
  static const std::vector<Layout> all = {{5, 10, 1}, {3, 3000, 1}, {64, 7, 1}, {4, 10, 6},
                                          {2, 1000, 3}, {1, 1, 1},   {3, 40, 70}};
  return all;
}
std::string describe_layout(const Layout& l, DType dtype) {
  return dtype_name(dtype) + " [" + std::to_string(l.outer) + ", " + std::to_string(l.extent) + ", " +
         std::to_string(l.inner) + "]";
}

}  // namespace

TEST_CASE("CUDA softmax and log_softmax match the CPU forward and backward over rows and columns") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : floating_dtypes()) {
    for (const Layout& l : layouts()) {
      const Shape shape = {l.outer, l.extent, l.inner};
      for (bool log : {false, true}) {
        const std::string what = std::string(log ? "log_softmax " : "softmax ") + describe_layout(l, dtype);
        Pair x = random_pair(shape, dtype, -8, 8, 1);
        Pair y = empty_pair(shape, dtype);
        kernels::softmax(Device::cpu(), x.cpu, l.outer, l.extent, l.inner, log, y.cpu);
        kernels::softmax(Device::cuda(), x.cuda, l.outer, l.extent, l.inner, log, y.cuda);
        expect_pair_close(y, dtype, what + " forward");
        // The backward from the same y (the GPU's, rounded to the CPU's dtype, so both see one y).
        Pair y_in = {y.cuda.to(Device::cpu()).to(reference_dtype(dtype)), y.cuda};
        Pair g = random_pair(shape, dtype, -1, 1, 2);
        Pair dx = empty_pair(shape, dtype);
        kernels::softmax_backward(Device::cpu(), y_in.cpu, g.cpu, l.outer, l.extent, l.inner, log, dx.cpu);
        kernels::softmax_backward(Device::cuda(), y_in.cuda, g.cuda, l.outer, l.extent, l.inner, log, dx.cuda);
        Tolerance tol = tolerance_for(dtype);
        tol.atol *= 1 + std::sqrt(static_cast<double>(l.extent)) / 8;  // dx is a difference of sums
        expect_close(dx.cuda, dx.cpu, tol, what + " backward");
      }
    }
  }
}

TEST_CASE("CUDA cross-entropy matches the CPU forward and backward with smoothing and ignored targets") {
  VIREO_REQUIRE_GPU();
  const int64_t ignore = -100;
  for (DType dtype : floating_dtypes()) {
    for (const Layout& l : layouts()) {
      for (double smoothing : {0.0, 0.1}) {
        const std::string what = "cross_entropy " + describe_layout(l, dtype) + " smoothing " + std::to_string(smoothing);
        const Shape shape = {l.outer, l.extent, l.inner};
        Pair logits = random_pair(shape, dtype, -6, 6, 3);
        std::mt19937_64 rng(4);
        std::vector<double> targets(static_cast<size_t>(l.outer * l.inner));
        for (double& t : targets)
          t = std::uniform_int_distribution<int>(0, 6)(rng) == 0
                  ? static_cast<double>(ignore)
                  : std::uniform_int_distribution<int64_t>(0, l.extent - 1)(rng);
        Pair target = pair_from_values(targets, {l.outer, l.inner}, DType::i64);
        Pair loss = empty_pair({l.outer, l.inner}, dtype), lse = empty_pair({l.outer, l.inner}, dtype);
        kernels::cross_entropy(Device::cpu(), logits.cpu, target.cpu, l.outer, l.extent, l.inner, smoothing, ignore,
                               loss.cpu, lse.cpu);
        kernels::cross_entropy(Device::cuda(), logits.cuda, target.cuda, l.outer, l.extent, l.inner, smoothing,
                               ignore, loss.cuda, lse.cuda);
        expect_pair_close(lse, dtype, what + " lse");
        Tolerance tol = tolerance_for(dtype);
        tol.atol *= 1 + smoothing * std::sqrt(static_cast<double>(l.extent));  // the Σx term
        expect_close(loss.cuda, loss.cpu, tol, what + " loss");

        Pair lse_in = {lse.cuda.to(Device::cpu()).to(reference_dtype(dtype)), lse.cuda};
        Pair grad_loss = random_pair({l.outer, l.inner}, dtype, -1, 1, 5);
        Pair grad = empty_pair(shape, dtype);
        kernels::cross_entropy_backward(Device::cpu(), logits.cpu, target.cpu, lse_in.cpu, grad_loss.cpu, l.outer,
                                        l.extent, l.inner, smoothing, ignore, grad.cpu);
        kernels::cross_entropy_backward(Device::cuda(), logits.cuda, target.cuda, lse_in.cuda, grad_loss.cuda,
                                        l.outer, l.extent, l.inner, smoothing, ignore, grad.cuda);
        expect_pair_close(grad, dtype, what + " backward");
      }
    }
  }
}

TEST_CASE("CUDA cross-entropy refuses a target out of range and names it") {
  VIREO_REQUIRE_GPU();
  Tensor logits = zeros({4, 5}, {.device = Device::cuda()});
  Tensor target = Tensor::from_vector({0, 7, 2, 1}, {4}, {.dtype = DType::i64, .device = Device::cuda()});
  Tensor loss = Tensor::empty({4}, {.device = Device::cuda()}), lse = Tensor::empty({4}, {.device = Device::cuda()});
  CHECK_THROWS_WITH(kernels::cross_entropy(Device::cuda(), logits, target, 4, 5, 1, 0.0, -100, loss, lse),
                    doctest::Contains("target class index 7 is out of range for 5 classes"));
}
