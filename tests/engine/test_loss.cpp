// Softmax family and losses: forward values against the formulas computed by plain loops, gradient checks
// for every configuration, argument errors.
#include <cmath>
#include <limits>

#include <omp.h>

#include "engine/cpu/vector_exp.h"
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::indices;
using vireo::testing::with_threads;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {

// log_softmax over dimension 1 of logits [N, C, S...] (S flattened), by plain loops: result[n][c][s].
std::vector<double> reference_log_softmax(const Tensor& logits) {
  const std::vector<double> x = logits.to_vector();
  const int64_t n = logits.shape()[0], c = logits.shape()[1], s = logits.numel() / (n * c);
  std::vector<double> out(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < s; ++p) {
      double total = 0;
      for (int64_t k = 0; k < c; ++k) total += std::exp(x[(i * c + k) * s + p]);
      for (int64_t k = 0; k < c; ++k) out[(i * c + k) * s + p] = x[(i * c + k) * s + p] - std::log(total);
    }
  return out;
}

// −Σ_c q_c log p_c per position, with q = (1 − ε)·onehot(t) + ε/C; ignored positions give 0.
std::vector<double> reference_cross_entropy(const Tensor& logits, const std::vector<int64_t>& target, double eps,
                                            int64_t ignore = -100) {
  const std::vector<double> logp = reference_log_softmax(logits);
  const int64_t n = logits.shape()[0], c = logits.shape()[1], s = logits.numel() / (n * c);
  std::vector<double> loss(n * s, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t p = 0; p < s; ++p) {
      const int64_t t = target[i * s + p];
      if (t == ignore) continue;
      for (int64_t k = 0; k < c; ++k)
        loss[i * s + p] -= ((k == t ? 1.0 - eps : 0.0) + eps / static_cast<double>(c)) * logp[(i * c + k) * s + p];
    }
  return loss;
}

double total(const std::vector<double>& v) {
  double t = 0;
  for (double x : v) t += x;
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------- softmax

TEST_CASE("the vectorizable f32 exp matches std::exp over the whole range") {
  // Every 1/64 step across f32's finite exp range, plus the edges: within 2 ulp of the f64 value.
  double worst = 0;
  for (float x = -87.0f; x <= 88.5f; x += 1.0f / 64) {
    const double reference = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(cpu::exp_approx(x) - reference) / reference);
  }
  CHECK(worst < 2 * 5.97e-8);
  CHECK(cpu::exp_approx(0.0f) == 1.0f);
  CHECK(cpu::exp_approx(-std::numeric_limits<float>::infinity()) == 0.0f);
  CHECK(cpu::exp_approx(-100.0f) == 0.0f);
  CHECK(cpu::exp_approx(100.0f) == std::numeric_limits<float>::infinity());
  CHECK(std::isnan(cpu::exp_approx(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("softmax and log_softmax over every dimension match plain loops") {
  Tensor x = mul(random_input({3, 4, 5}, 1).detach(), 4.0).transpose(0, 2);  // [5, 4, 3], non-contiguous
  for (int64_t dim = 0; dim < 3; ++dim) {
    // Move `dim` to position 1 of a [outer, dim, inner] reading by permuting the reference input.
    std::vector<int64_t> order;
    for (int64_t d = 0; d < dim; ++d) order.push_back(d);
    order.push_back(dim);
    for (int64_t d = dim + 1; d < 3; ++d) order.push_back(d);
    Shape as3{1, x.shape()[dim], 1};
    for (int64_t d = 0; d < dim; ++d) as3[0] *= x.shape()[d];
    for (int64_t d = dim + 1; d < 3; ++d) as3[2] *= x.shape()[d];
    const std::vector<double> logp = reference_log_softmax(x.contiguous().reshape(as3));
    std::vector<double> p(logp.size());
    for (size_t k = 0; k < p.size(); ++k) p[k] = std::exp(logp[k]);
    check_close(log_softmax(x, dim), logp, 1e-12);
    check_close(softmax(x, dim), p, 1e-12);
  }
}

TEST_CASE("softmax in f32 over long rows and wide blocks matches the f64 reference") {
  Tensor x = mul(random_input({40, 300}, 2).detach(), 10.0);
  Tensor x32 = x.to(DType::f32);
  // dim 0: [1, 40, 300] with inner 300, several row blocks; dim 1: rows of 300.
  check_close(softmax(x32, 0), softmax(x, 0).to_vector(), 1e-5);
  check_close(log_softmax(x32, 1), log_softmax(x, 1).to_vector(), 1e-5);
  std::vector<double> p = reference_log_softmax(x.reshape({40, 300, 1}));
  for (double& v : p) v = std::exp(v);
  check_close(softmax(x32, 1), p, 1e-5);
}

TEST_CASE("softmax does not overflow - −inf entries get exactly zero probability") {
  check_close(softmax(tensor({1000, 1000, -1000}), 0), {0.5, 0.5, 0});
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dtype : {DType::f32, DType::f64}) {
    // Rows along dim 0 (inner > 1) and along the last dimension.
    const std::vector<double> by_column = softmax(Tensor::from_vector({0.5, -inf, -inf, 1.5}, {2, 2}, {.dtype = dtype}), 0).to_vector();
    CHECK(by_column == std::vector<double>{1, 0, 0, 1});
    const std::vector<double> by_row = softmax(Tensor::from_vector({0.5, -inf, 1.5}, {3}, {.dtype = dtype}), 0).to_vector();
    CHECK(by_row[1] == 0.0);
    CHECK(by_row[0] == doctest::Approx(1 / (1 + std::exp(1.0))).epsilon(1e-6));
  }
  check_close(log_softmax(tensor({1000, 0}, {.dtype = DType::f64}), 0), {0, -1000});
}

TEST_CASE("gradcheck: softmax dim 0") {
  CHECK_GRADCHECK([](const Inputs& in) { return softmax(in[0], 0); }, Inputs({transposed_input({4, 3}, 1)}));
  CHECK_GRADCHECK([](const Inputs& in) { return softmax(in[0], 1); }, Inputs({random_input({2, 4, 3}, 2)}));
}

TEST_CASE("gradcheck: softmax last") {
  CHECK_GRADCHECK([](const Inputs& in) { return softmax(in[0], -1); }, Inputs({transposed_input({3, 5}, 3)}));
}

TEST_CASE("gradcheck: log_softmax") {
  CHECK_GRADCHECK([](const Inputs& in) { return log_softmax(in[0], -1); }, Inputs({random_input({3, 5}, 4)}));
  CHECK_GRADCHECK([](const Inputs& in) { return log_softmax(in[0], 0); }, Inputs({transposed_input({4, 3}, 5)}));
}

// ---------------------------------------------------------------------------------------------- cross_entropy

TEST_CASE("cross_entropy with class indices - every reduction") {
  Tensor logits = mul(random_input({3, 4}, 6).detach(), 3.0);
  const std::vector<int64_t> t{1, 3, 0};
  Tensor target = indices({1, 3, 0}, {3});
  const std::vector<double> expected = reference_cross_entropy(logits, t, 0.0);
  check_close(cross_entropy(logits, target, {.reduction = Reduction::none}), expected, 1e-12);
  check_close(cross_entropy(logits, target, {.reduction = Reduction::sum}), {total(expected)}, 1e-12);
  check_close(cross_entropy(logits, target), {total(expected) / 3}, 1e-12);
  // f32 through the same kernel.
  check_close(cross_entropy(logits.to(DType::f32), target), {total(expected) / 3}, 1e-6);
  // One unbatched sample.
  check_close(cross_entropy(logits.select(0, 1), indices({3}, {1}).reshape({})), {expected[1]}, 1e-12);
}

TEST_CASE("cross_entropy with label smoothing is (1 − ε)·nll + ε·mean_c(−log p_c)") {
  Tensor logits = mul(random_input({3, 5}, 7).detach(), 3.0);
  const std::vector<int64_t> t{4, 0, 2};
  Tensor target = indices({4, 0, 2}, {3});
  const double eps = 0.2;
  const std::vector<double> expected = reference_cross_entropy(logits, t, eps);
  check_close(cross_entropy(logits, target, {.reduction = Reduction::none, .label_smoothing = eps}), expected, 1e-12);
  check_close(cross_entropy(logits, target, {.label_smoothing = eps}), {total(expected) / 3}, 1e-12);
  // The same number from the two-term form.
  const std::vector<double> logp = reference_log_softmax(logits);
  double mixed = 0;
  for (int64_t n = 0; n < 3; ++n) {
    double uniform = 0;
    for (int64_t c = 0; c < 5; ++c) uniform -= logp[n * 5 + c] / 5.0;
    mixed += (1 - eps) * -logp[n * 5 + t[n]] + eps * uniform;
  }
  check_close(cross_entropy(logits, target, {.reduction = Reduction::sum, .label_smoothing = eps}), {mixed}, 1e-12);
}

TEST_CASE("cross_entropy ignore_index: no loss - and out of the mean's denominator") {
  Tensor logits = random_input({4, 3}, 8).detach();
  Tensor target = indices({1, -100, 2, -100}, {4});
  const std::vector<double> expected = reference_cross_entropy(logits, {1, -100, 2, -100}, 0.0);
  CHECK(expected[1] == 0.0);
  check_close(cross_entropy(logits, target, {.reduction = Reduction::none}), expected, 1e-12);
  check_close(cross_entropy(logits, target), {total(expected) / 2}, 1e-12);
  // A custom ignore_index that is also a valid class, with smoothing.
  const std::vector<double> custom = reference_cross_entropy(logits, {1, 0, 2, 0}, 0.1, 2);
  check_close(cross_entropy(logits, indices({1, 0, 2, 0}, {4}), {.label_smoothing = 0.1, .ignore_index = 2}),
              {total(custom) / 3}, 1e-12);
  // Everything ignored: the mean is 0/0, as torch.
  CHECK(std::isnan(cross_entropy(logits, indices({-100, -100, -100, -100}, {4})).item()));
}

TEST_CASE("cross_entropy with probability targets") {
  Tensor logits = mul(random_input({3, 4}, 9).detach(), 2.0);
  Tensor q = softmax(random_input({3, 4}, 10).detach(), 1);
  const std::vector<double> logp = reference_log_softmax(logits), qv = q.to_vector();
  for (double eps : {0.0, 0.3}) {
    std::vector<double> expected(3, 0.0);
    for (int64_t n = 0; n < 3; ++n)
      for (int64_t c = 0; c < 4; ++c) expected[n] -= ((1 - eps) * qv[n * 4 + c] + eps / 4) * logp[n * 4 + c];
    check_close(cross_entropy(logits, q, {.reduction = Reduction::none, .label_smoothing = eps}), expected, 1e-12);
    check_close(cross_entropy(logits, q, {.label_smoothing = eps}), {total(expected) / 3}, 1e-12);
    check_close(cross_entropy(logits, q, {.reduction = Reduction::sum, .label_smoothing = eps}), {total(expected)},
                1e-12);
  }
}

TEST_CASE("cross_entropy over spatial positions [N C H W]") {
  Tensor logits = mul(random_input({2, 3, 2, 2}, 11).detach(), 3.0);
  const std::vector<int64_t> t{0, 2, 1, -100, 2, 2, 0, 1};
  Tensor target = indices({0, 2, 1, -100, 2, 2, 0, 1}, {2, 2, 2});
  for (double eps : {0.0, 0.25}) {
    const std::vector<double> expected = reference_cross_entropy(logits, t, eps);
    Tensor none = cross_entropy(logits, target, {.reduction = Reduction::none, .label_smoothing = eps});
    CHECK(none.shape() == Shape{2, 2, 2});
    check_close(none, expected, 1e-12);
    check_close(cross_entropy(logits, target, {.label_smoothing = eps}), {total(expected) / 7}, 1e-12);
  }
  // Soft targets over the same layout: the mean is over all N·H·W positions.
  Tensor q = softmax(random_input({2, 3, 2, 2}, 12).detach(), 1);
  const std::vector<double> logp = reference_log_softmax(logits), qv = q.to_vector();
  double sum = 0;
  for (size_t k = 0; k < qv.size(); ++k) sum -= qv[k] * logp[k];
  check_close(cross_entropy(logits, q), {sum / 8}, 1e-12);
}

TEST_CASE("gradcheck: cross_entropy indices") {
  Tensor target = indices({1, 3, 0}, {3});
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none})
    CHECK_GRADCHECK([target, r](const Inputs& in) { return cross_entropy(in[0], target, {.reduction = r}); },
                    Inputs({transposed_input({3, 4}, 1)}));
}

TEST_CASE("gradcheck: cross_entropy label smoothing") {
  Tensor target = indices({2, 0, 1}, {3});
  CHECK_GRADCHECK([target](const Inputs& in) { return cross_entropy(in[0], target, {.label_smoothing = 0.15}); },
                  Inputs({random_input({3, 4}, 2)}));
}

TEST_CASE("gradcheck: cross_entropy ignore_index") {
  Tensor target = indices({2, -1, 1, 0}, {4});
  CHECK_GRADCHECK(
      [target](const Inputs& in) { return cross_entropy(in[0], target, {.label_smoothing = 0.1, .ignore_index = -1}); },
      Inputs({random_input({4, 3}, 3)}));
}

TEST_CASE("gradcheck: cross_entropy soft targets") {
  // Gradients reach both the logits and the target distribution.
  CHECK_GRADCHECK([](const Inputs& in) { return cross_entropy(in[0], in[1], {.label_smoothing = 0.2}); },
                  Inputs({transposed_input({3, 4}, 4), random_input({3, 4}, 5, 0.0, 1.0)}));
}

TEST_CASE("gradcheck: cross_entropy spatial") {
  Tensor target = indices({0, 2, 1, -100, 2, 2, 0, 1, 1, 0, 2, 2}, {2, 2, 3});
  CHECK_GRADCHECK([target](const Inputs& in) { return cross_entropy(in[0], target, {.label_smoothing = 0.1}); },
                  Inputs({transposed_input({2, 3, 2, 3}, 6)}));
  CHECK_GRADCHECK([](const Inputs& in) { return cross_entropy(in[0], in[1], {.reduction = Reduction::sum}); },
                  Inputs({random_input({2, 3, 2, 2}, 7), random_input({2, 3, 2, 2}, 8, 0.0, 1.0)}));
}

TEST_CASE("cross_entropy errors name the op - the class index and both shapes") {
  Tensor logits = zeros({2, 5});
  check_error([&] { cross_entropy(logits, indices({1, 7}, {2})); }, {"cross_entropy", "7", "5 classes"});
  check_error([&] { cross_entropy(logits, indices({-3, 0}, {2})); }, {"cross_entropy", "-3", "5 classes"});
  check_error([&] { cross_entropy(logits, indices({1, 2, 3}, {3})); }, {"cross_entropy", "[3]", "[2, 5]"});
  check_error([&] { cross_entropy(logits, zeros({2, 4})); }, {"cross_entropy", "[2, 4]", "[2, 5]"});
  check_error([&] { cross_entropy(logits, indices({1, 2}, {2}), {.label_smoothing = 1.5}); },
              {"cross_entropy", "label_smoothing", "1.5"});
}

// ---------------------------------------------------------------------------------------------- mse, cosine, normalize

TEST_CASE("mse_loss - every reduction") {
  Tensor input = tensor({1, 2, 3}), target = tensor({0, 4, 3});
  check_close(mse_loss(input, target, Reduction::none), {1, 4, 0});
  check_close(mse_loss(input, target, Reduction::sum), {5});
  check_close(mse_loss(input, target), {5.0 / 3});
  check_error([] { mse_loss(zeros({2, 3}), zeros({3})); }, {"mse_loss", "[2, 3]", "[3]"});
}

TEST_CASE("gradcheck: mse_loss") {
  for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none})
    CHECK_GRADCHECK([r](const Inputs& in) { return mse_loss(in[0], in[1], r); },
                    Inputs({transposed_input({3, 4}, 1), random_input({3, 4}, 2)}));
}

TEST_CASE("cosine_similarity clamps the product of norms and broadcasts") {
  Tensor a = Tensor::from_vector({1, 0, 0, 0, 3, 4}, {3, 2});
  Tensor b = tensor({1, 1});
  check_close(cosine_similarity(a, b, 1), {1 / std::sqrt(2.0), 0, 7 / (5 * std::sqrt(2.0))});
  // ‖a‖·‖b‖ = 1e-4·1e-4 = 1e-8 < eps = 1e-6: the denominator is eps.
  Tensor tiny = tensor({1e-4, 0}, {.dtype = DType::f64});
  check_close(cosine_similarity(tiny, tiny, 0, 1e-6), {1e-8 / 1e-6}, 1e-9);
  check_error([] { cosine_similarity(zeros({2, 3}), zeros({4, 3})); }, {"cosine_similarity", "[2, 3]", "[4, 3]"});
}

TEST_CASE("gradcheck: cosine_similarity broadcast") {
  CHECK_GRADCHECK([](const Inputs& in) { return cosine_similarity(in[0], in[1], -1); },
                  Inputs({random_input({2, 3, 4}, 1), transposed_input({3, 4}, 2)}));
  CHECK_GRADCHECK([](const Inputs& in) { return cosine_similarity(in[0], in[1], 1); },
                  Inputs({random_input({2, 1}, 3), random_input({2, 3}, 4)}));
}

TEST_CASE("normalize divides by the clamped p-norm") {
  check_close(normalize(Tensor::from_vector({3, 4, 0, 0}, {2, 2}), 2.0, 1), {0.6, 0.8, 0, 0});
  check_close(normalize(Tensor::from_vector({1, -3}, {1, 2}), 1.0, 1), {0.25, -0.75});
  check_close(normalize(tensor({1e-13, 0}, {.dtype = DType::f64}), 2.0, 0), {0.1, 0});
}

TEST_CASE("gradcheck: normalize") {
  CHECK_GRADCHECK([](const Inputs& in) { return normalize(in[0], 2.0, 1); }, Inputs({transposed_input({3, 4}, 1)}));
  CHECK_GRADCHECK([](const Inputs& in) { return normalize(in[0], 3.0, 0); }, Inputs({random_input({3, 4}, 2)}));
}

// ---------------------------------------------------------------------------------------------- threads


TEST_CASE("softmax and cross_entropy give the same bits on one thread and on all of them") {
  Tensor x = mul(randn({256, 300}), 3.0);
  Tensor spatial = randn({16, 10, 20, 20});
  Tensor target = randint(0, 300, {256});
  Tensor spatial_target = randint(0, 10, {16, 20, 20});
  auto run = [&] {
    std::vector<std::vector<double>> results;
    for (int64_t dim : {0, 1}) {
      results.push_back(softmax(x, dim).to_vector());
      results.push_back(log_softmax(x, dim).to_vector());
    }
    Tensor leaf = x.detach();
    leaf.requires_grad_();
    Tensor loss = cross_entropy(leaf, target, {.label_smoothing = 0.1});
    loss.backward();
    results.push_back(loss.to_vector());
    results.push_back(leaf.grad().to_vector());
    Tensor spatial_leaf = spatial.detach();
    spatial_leaf.requires_grad_();
    Tensor spatial_loss = cross_entropy(spatial_leaf, spatial_target);
    spatial_loss.backward();
    results.push_back(spatial_loss.to_vector());
    results.push_back(spatial_leaf.grad().to_vector());
    Tensor probabilities = softmax(leaf, 0);
    probabilities.backward(x);
    results.push_back(leaf.grad().to_vector());
    return results;
  };
  const auto one = with_threads(1, run);
  const auto all = with_threads(omp_get_max_threads(), run);
  REQUIRE(one.size() == all.size());
  for (size_t k = 0; k < one.size(); ++k) {
    INFO("result ", k);
    CHECK(one[k] == all[k]);
  }
  // Against the f64 computation.
  check_close(Tensor::from_vector(one[0], {256, 300}), softmax(x.to(DType::f64), 0).to_vector(), 1e-5);
  check_close(Tensor::from_vector(one[7], {16, 10, 20, 20}),
              [&] {
                Tensor leaf = spatial.to(DType::f64).detach();
                leaf.requires_grad_();
                cross_entropy(leaf, spatial_target).backward();
                return leaf.grad().to_vector();
              }(),
              1e-4);
}
