// BYOL's loss, NT-Xent and the MLP heads: values computed by hand on tiny batches, f64 gradient checks.
#include <cmath>
#include <vector>

#include "gradcheck.h"
#include "ssl/byol_loss.h"
#include "ssl/heads.h"
#include "ssl/nt_xent.h"

using namespace vireo;
using vireo::testing::check_error;
using vireo::testing::random_input;
using Rows = std::vector<std::vector<double>>;

namespace {
Tensor matrix(const Rows& rows, bool requires_grad = false) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  Tensor t = Tensor::from_vector(flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())},
                                 {.dtype = DType::f64});
  if (requires_grad) t.requires_grad_();
  return t;
}
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  return dot(a, b) / std::sqrt(dot(a, a) * dot(b, b));
}
}  // namespace

TEST_CASE("byol loss: hand-computed value on a tiny batch") {
  const Rows p1 = {{1, 0, 2}, {0, 3, -1}}, p2 = {{2, 2, 1}, {-1, 0, 1}};
  const Rows t1 = {{0, 1, 1}, {1, 1, 1}}, t2 = {{1, 0, 0}, {2, -1, 3}};
  double expected = 0;
  for (int i = 0; i < 2; ++i) expected += ((2 - 2 * cosine(p1[i], t2[i])) + (2 - 2 * cosine(p2[i], t1[i]))) / 2;
  const Tensor loss = ssl::byol_loss(matrix(p1), matrix(p2), matrix(t1), matrix(t2));
  CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-12));
  // Identical directions give 0, opposite ones 4 per pair.
  CHECK(ssl::byol_pair_loss(matrix({{1, 2}}), matrix({{2, 4}})).item() == doctest::Approx(0.0));
  CHECK(ssl::byol_pair_loss(matrix({{1, 2}}), matrix({{-2, -4}})).item() == doctest::Approx(4.0));
  check_error([] { ssl::byol_pair_loss(matrix({{1, 2}}), matrix({{1, 2, 3}})); }, {"byol_pair_loss", "[1, 3]"});
}

TEST_CASE("byol loss: no gradient reaches the target projections") {
  Tensor p = matrix({{1, 0, 2}, {0, 3, -1}}, true);
  Tensor t = matrix({{0, 1, 1}, {1, 1, 1}}, true);
  ssl::byol_pair_loss(p, t).backward();
  CHECK(p.grad().defined());
  CHECK_FALSE(t.grad().defined());
}

TEST_CASE("gradcheck: ssl byol loss") {
  const Tensor t1 = random_input({3, 4}, 3).detach(), t2 = random_input({3, 4}, 4).detach();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return ssl::byol_loss(in[0], in[1], t1, t2); },
                  (std::vector<Tensor>{random_input({3, 4}, 1), random_input({3, 4}, 2)}));
}

TEST_CASE("nt-xent: hand-computed value on a tiny batch") {
  const Rows z1 = {{1, 0}, {0, 1}, {1, 1}}, z2 = {{1, 0.5}, {-1, 1}, {0.5, 2}};
  const double temperature = 0.5;
  Rows all = z1;
  all.insert(all.end(), z2.begin(), z2.end());
  const int n = 3;
  double expected = 0;
  for (int i = 0; i < 2 * n; ++i) {
    const int positive = i < n ? i + n : i - n;
    double denominator = 0;
    for (int j = 0; j < 2 * n; ++j)
      if (j != i) denominator += std::exp(cosine(all[i], all[j]) / temperature);
    expected += -std::log(std::exp(cosine(all[i], all[positive]) / temperature) / denominator);
  }
  expected /= 2 * n;
  CHECK(ssl::nt_xent_loss(matrix(z1), matrix(z2), temperature).item() == doctest::Approx(expected).epsilon(1e-12));
  check_error([] { ssl::nt_xent_loss(matrix({{1, 0}}), matrix({{0, 1}})); }, {"at least 2"});
  check_error([&] { ssl::nt_xent_loss(matrix(z1), matrix(z2), 0.0); }, {"temperature"});
}

TEST_CASE("gradcheck: ssl nt-xent loss") {
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return ssl::nt_xent_loss(in[0], in[1], 0.2); },
                  (std::vector<Tensor>{random_input({4, 3}, 5), random_input({4, 3}, 6)}));
}

TEST_CASE("ssl heads: Linear-BN-ReLU-Linear with the configured widths") {
  auto head = ssl::mlp_head(8, {.hidden_features = 16, .out_features = 4});
  const auto params = head->named_parameters();
  // Linear(8, 16), BatchNorm1d(16), Linear(16, 4): torchvision's MLP keys.
  REQUIRE(params.size() == 6);
  CHECK(params[0].first == "0.weight");
  CHECK(params[0].second.shape() == Shape{16, 8});
  CHECK(params[2].first == "1.weight");
  CHECK(params[4].first == "4.weight");
  CHECK(params[4].second.shape() == Shape{4, 16});
  Generator g(7);
  const Tensor out = (*head)(randn({5, 8}, {}, &g));
  CHECK(out.shape() == Shape{5, 4});
  check_error([] { ssl::mlp_head(0); }, {"in_features"});
}
