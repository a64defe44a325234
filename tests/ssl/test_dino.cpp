// DINO: the multi-crop cross-entropy against a hand computation, its gradient check, the center update with
// the EMA rule, the teacher-temperature warm-up, the weight-normalized head, and the teacher's collapse
// diagnostics.
#include <cmath>
#include <vector>

#include "gradcheck.h"
#include "ssl/dino.h"

using namespace vireo;
using vireo::testing::check_error;
using vireo::testing::random_input;
using Rows = std::vector<std::vector<double>>;

namespace {
Tensor matrix(const Rows& rows) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  return Tensor::from_vector(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())},
                             {.dtype = DType::f64});
}
std::vector<double> softmax_of(const std::vector<double>& x, double temperature, const std::vector<double>& shift) {
  std::vector<double> e(x.size());
  double total = 0;
  for (size_t k = 0; k < x.size(); ++k) total += e[k] = std::exp((x[k] - shift[k]) / temperature);
  for (double& v : e) v /= total;
  return e;
}
}  // namespace

TEST_CASE("dino loss: hand-computed multi-crop cross-entropy") {
  // 2 global crops (teacher and student) and 1 local crop (student only), batch 2, K = 3.
  const std::vector<Rows> student = {{{0.2, -0.1, 0.5}, {1.0, 0.3, -0.4}},
                                     {{-0.3, 0.8, 0.1}, {0.0, 0.2, 0.9}},
                                     {{0.7, 0.7, -0.2}, {-0.5, 0.1, 0.3}}};
  const std::vector<Rows> teacher = {{{0.4, 0.1, -0.3}, {0.2, 0.6, 0.0}}, {{-0.2, 0.5, 0.3}, {0.9, -0.1, 0.1}}};
  const std::vector<double> c = {0.05, -0.02, 0.1};
  const double tau_s = 0.1, tau_t = 0.04;
  double expected = 0;
  int pairs = 0;
  for (int t = 0; t < 2; ++t)
    for (int s = 0; s < 3; ++s) {
      if (s == t) continue;
      double pair = 0;
      for (int i = 0; i < 2; ++i) {
        const auto q = softmax_of(teacher[t][i], tau_t, c);
        const auto p = softmax_of(student[s][i], tau_s, {0, 0, 0});
        for (int k = 0; k < 3; ++k) pair -= q[k] * std::log(p[k]);
      }
      expected += pair / 2;
      ++pairs;
    }
  expected /= pairs;
  CHECK(pairs == 4);
  std::vector<Tensor> student_t, teacher_t;
  for (const auto& rows : student) student_t.push_back(matrix(rows));
  for (const auto& rows : teacher) teacher_t.push_back(matrix(rows));
  const Tensor center = Tensor::from_vector(c, {1, 3}, {.dtype = DType::f64});
  CHECK(ssl::dino_cross_entropy(student_t, teacher_t, center, tau_s, tau_t).item() ==
        doctest::Approx(expected).epsilon(1e-12));
  check_error([&] { ssl::dino_cross_entropy({student_t[0]}, teacher_t, center, tau_s, tau_t); }, {"student crops"});
}

TEST_CASE("gradcheck: ssl dino loss") {
  const std::vector<Tensor> teacher = {random_input({2, 5}, 11).detach(), random_input({2, 5}, 12).detach()};
  const Tensor center = random_input({1, 5}, 13).detach();
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return ssl::dino_cross_entropy(in, teacher, center, 0.1, 0.05); },
      (std::vector<Tensor>{random_input({2, 5}, 1), random_input({2, 5}, 2), random_input({2, 5}, 3),
                           random_input({2, 5}, 4)}));
}

TEST_CASE("dino loss: center update with the EMA rule and the teacher warm-up") {
  ssl::DinoLoss loss({.out_features = 2,
                      .teacher_temperature = 0.07,
                      .warmup_teacher_temperature = 0.04,
                      .warmup_teacher_temperature_samples = 300,
                      .center_momentum = 0.9},
                     training::ScalingRule{.kappa = 2.0});
  CHECK(loss.teacher_temperature(0) == doctest::Approx(0.04));
  CHECK(loss.teacher_temperature(100) == doctest::Approx(0.05));
  CHECK(loss.teacher_temperature(300) == doctest::Approx(0.07));
  CHECK(loss.teacher_temperature(10000) == doctest::Approx(0.07));
  CHECK(loss.center_momentum() == doctest::Approx(0.81));
  const std::vector<Tensor> teacher = {matrix({{1, 2}, {3, 4}}), matrix({{5, 6}, {7, 8}})};
  const std::vector<Tensor> student = {matrix({{0, 1}, {1, 0}}), matrix({{1, 1}, {0, 0}})};
  loss.loss(student, teacher, 0);
  // mean over batch and views: (4, 5); c = 0.81·0 + 0.19·(4, 5).
  vireo::testing::check_close(loss.center, {0.19 * 4, 0.19 * 5});
  const auto state = loss.state_dict();
  CHECK(state.count("center") == 1);
  loss.set_rule(training::ScalingRule{.kappa = 2.0, .ema_rule = false});
  CHECK(loss.center_momentum() == doctest::Approx(0.9));
}

TEST_CASE("dino head: unit-norm prototypes and the frozen first epoch") {
  ssl::DinoHead head(6, {.hidden_features = 8, .bottleneck_features = 4, .out_features = 10});
  CHECK(head.last_layer->weight_g.requires_grad() == false);
  const std::vector<double> w = head.last_layer->weight().to_vector();
  for (int k = 0; k < 10; ++k) {
    double squared = 0;
    for (int j = 0; j < 4; ++j) squared += w[k * 4 + j] * w[k * 4 + j];
    CHECK(squared == doctest::Approx(1.0));
  }
  Generator g(3);
  const Tensor out = head(randn({3, 6}, {}, &g));
  CHECK(out.shape() == Shape{3, 10});
  // The logits are cosines between the normalized bottleneck and unit prototypes: |g| ≤ 1.
  for (double v : out.to_vector()) CHECK(std::abs(v) <= 1.0 + 1e-6);
  sum(out).backward();
  CHECK(head.last_layer->weight_v.grad().defined());
  head.cancel_last_layer_gradients();
  CHECK_FALSE(head.last_layer->weight_v.grad().defined());
  CHECK(head.mlp->named_parameters()[2].first == "2.weight");  // DINO's keys mlp.0, mlp.2, mlp.4
  ssl::DinoHead trainable_norm(6, {.hidden_features = 8, .bottleneck_features = 4, .out_features = 10,
                                   .norm_last_layer = false});
  CHECK(trainable_norm.last_layer->weight_g.requires_grad());
}

TEST_CASE("dino teacher statistics: uniform and one-prototype and healthy teachers") {
  const double ln4 = std::log(4.0);
  const Tensor no_center = Tensor::from_vector(std::vector<double>(4, 0.0), {1, 4}, {.dtype = DType::f64});
  // Uniform collapse: every row's logits equal.
  const ssl::DinoTeacherStatistics uniform =
      ssl::dino_teacher_statistics({matrix({{0.3, 0.3, 0.3, 0.3}, {-1, -1, -1, -1}})}, no_center, 0.04);
  CHECK(uniform.entropy == doctest::Approx(ln4).epsilon(1e-12));
  CHECK(uniform.batch_entropy == doctest::Approx(ln4).epsilon(1e-12));
  // Collapse onto one prototype: every row sharp on prototype 2 (the center removes nothing here).
  const ssl::DinoTeacherStatistics one =
      ssl::dino_teacher_statistics({matrix({{0, 0, 1, 0}}), matrix({{0, 0, 1, 0}})}, no_center, 0.04);
  CHECK(one.entropy < 1e-8);  // 3·e^−25·26 ≈ 1.1e-9: the other prototypes at 1/τ = 25 below
  CHECK(one.batch_entropy < 1e-8);
  // Healthy: sharp rows on 4 different prototypes — entropy ≈ 0, batch entropy ln 4.
  const ssl::DinoTeacherStatistics healthy = ssl::dino_teacher_statistics(
      {matrix({{1, 0, 0, 0}, {0, 1, 0, 0}}), matrix({{0, 0, 1, 0}, {0, 0, 0, 1}})}, no_center, 0.04);
  CHECK(healthy.entropy < 1e-8);
  CHECK(healthy.batch_entropy == doctest::Approx(ln4).epsilon(1e-9));
  // By hand at τ = 1 with a center: rows (0, ln 3) − c, c = (0, ln 3 − ln 1) → logits (0, 0): H = ln 2; and a
  // row (ln 3, 0) − c = (ln 3, −ln 3) → p = (9/10, 1/10).
  const Tensor center = Tensor::from_vector({0.0, std::log(3.0)}, {1, 2}, {.dtype = DType::f64});
  const ssl::DinoTeacherStatistics by_hand =
      ssl::dino_teacher_statistics({matrix({{0, std::log(3.0)}, {std::log(3.0), 0}})}, center, 1.0);
  const double h_second = -(0.9 * std::log(0.9) + 0.1 * std::log(0.1));
  CHECK(by_hand.entropy == doctest::Approx((std::log(2.0) + h_second) / 2).epsilon(1e-12));
  const double m0 = (0.5 + 0.9) / 2, m1 = (0.5 + 0.1) / 2;
  CHECK(by_hand.batch_entropy == doctest::Approx(-(m0 * std::log(m0) + m1 * std::log(m1))).epsilon(1e-12));
  check_error([&] { ssl::dino_teacher_statistics({matrix({{0, 1}})}, no_center, 0.04); }, {"do not match"});
}
