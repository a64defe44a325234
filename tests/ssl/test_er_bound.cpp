// The ER bound's pieces: log I_ν against a long-double series and closed forms, the vMF normalizer, the
// vMF-KDE entropy against a hand computation, and the BYOL-ER / SimCLR-ER / DINO-ER losses with their
// gradient checks.
#include <cmath>
#include <numbers>
#include <vector>

#include "gradcheck.h"
#include "ssl/er_bound.h"
#include "ssl/log_bessel.h"
#include "ssl/vmf_entropy.h"

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

// log I_ν(x) from the power series in long double, every term's logarithm through lgammal: an independent
// reference valid for any order and moderate arguments.
double reference_log_bessel(long double nu, long double x) {
  std::vector<long double> log_terms;
  long double largest = -INFINITY;
  for (int k = 0; k < 100000; ++k) {
    const long double log_term = (2 * k + nu) * logl(x / 2) - lgammal(k + 1.0L) - lgammal(k + nu + 1.0L);
    log_terms.push_back(log_term);
    largest = std::max(largest, log_term);
    if ((x / 2) * (x / 2) < (k + 1) * (k + nu + 1) && log_term < largest - 60) break;
  }
  long double sum = 0;
  for (long double t : log_terms) sum += expl(t - largest);
  return static_cast<double>(largest + logl(sum));
}
}  // namespace

TEST_CASE("log bessel: against a long-double series across orders and arguments") {
  // Orders on both sides of the switch to Debye's expansion (ν = 30), up to d = 2048 (ν = 1023), where
  // I_ν(10) ≈ 1e-1925 is far outside a double.
  for (double order : {0.0, 0.5, 4.0, 29.5, 30.0, 31.0, 127.0, 255.0, 1023.0})
    for (double x : {0.05, 1.0, 10.0, 100.0, 900.0}) {
      const double expected = reference_log_bessel(order, x);
      INFO("order ", order, " x ", x);
      CHECK(ssl::log_bessel_i(order, x) == doctest::Approx(expected).epsilon(1e-10));
    }
  // Large arguments at small order (Hankel's expansion) against the series and the closed form.
  CHECK(ssl::log_bessel_i(2.0, 1500.0) == doctest::Approx(reference_log_bessel(2.0, 1500.0)).epsilon(1e-12));
  for (double x : {1200.0, 5000.0})  // I_{1/2}(x) = √(2/(πx))·sinh x
    CHECK(ssl::log_bessel_i(0.5, x) == doctest::Approx(0.5 * std::log(2 / (std::numbers::pi * x)) + x - std::log(2.0)));
  // Tabulated values (Abramowitz & Stegun, table 9.8): I_0(1) = 1.266065878, I_1(1) = 0.565159104.
  CHECK(ssl::log_bessel_i(0.0, 1.0) == doctest::Approx(std::log(1.2660658777520082)).epsilon(1e-12));
  CHECK(ssl::log_bessel_i(1.0, 1.0) == doctest::Approx(std::log(0.5651591039924851)).epsilon(1e-12));
  check_error([] { ssl::log_bessel_i(1.0, 0.0); }, {"argument", "> 0"});
  check_error([] { ssl::log_bessel_i(-1.0, 1.0); }, {"order"});
}

TEST_CASE("vmf normalizer: closed forms in d = 2 and d = 3") {
  for (double kappa : {0.5, 10.0, 60.0}) {
    // S²: C_3(κ) = κ / (4π·sinh κ); S¹: C_2(κ) = 1 / (2π·I_0(κ)).
    CHECK(ssl::vmf_log_normalizer(3, kappa) ==
          doctest::Approx(std::log(kappa / (4 * std::numbers::pi * std::sinh(kappa)))).epsilon(1e-12));
    CHECK(ssl::vmf_log_normalizer(2, kappa) ==
          doctest::Approx(-std::log(2 * std::numbers::pi * std::cyl_bessel_i(0.0, kappa))).epsilon(1e-12));
  }
  // Large d stays finite where I_ν itself underflows.
  CHECK(std::isfinite(ssl::vmf_log_normalizer(2048, 10.0)));
  check_error([] { ssl::vmf_log_normalizer(1, 10.0); }, {"dimension"});
}

TEST_CASE("vmf entropy: hand-computed kernel density on a tiny batch") {
  const Rows z = {{1, 0}, {0.6, 0.8}, {-1, 1}};
  const double kappa = 2.0;
  const double log_c = -std::log(2 * std::numbers::pi * std::cyl_bessel_i(0.0, kappa));
  std::vector<double> unit[3];
  for (int i = 0; i < 3; ++i) {
    const double n = std::hypot(z[i][0], z[i][1]);
    unit[i] = {z[i][0] / n, z[i][1] / n};
  }
  std::vector<double> negative_log_density;
  for (int i = 0; i < 3; ++i) {
    double density = 0;
    for (int j = 0; j < 3; ++j)
      density += std::exp(log_c + kappa * (unit[i][0] * unit[j][0] + unit[i][1] * unit[j][1])) / 3;
    negative_log_density.push_back(-std::log(density));
  }
  vireo::testing::check_close(ssl::vmf_kde_negative_log_density(matrix(z), kappa), negative_log_density, 1e-12);
  double average = 0, weight_total = 0, plug_in = 0;
  for (double v : negative_log_density) {
    average += v / 3;
    weight_total += std::exp(-v);
  }
  for (double v : negative_log_density) plug_in += std::exp(-v) / weight_total * v;
  CHECK(ssl::vmf_kde_entropy(matrix(z), {.concentration = kappa, .estimator = ssl::EntropyEstimator::average}).item() ==
        doctest::Approx(average).epsilon(1e-12));
  CHECK(ssl::vmf_kde_entropy(matrix(z), {.concentration = kappa}).item() == doctest::Approx(plug_in).epsilon(1e-12));
}

TEST_CASE("vmf entropy: a collapsed batch sits at the minimum") {
  const double kappa = 10.0;
  const Tensor collapsed = matrix({{1, 2, 2, 0}, {1, 2, 2, 0}, {1, 2, 2, 0}, {1, 2, 2, 0}});
  const double minimum = -kappa - ssl::vmf_log_normalizer(4, kappa);
  CHECK(ssl::vmf_kde_entropy(collapsed, {.concentration = kappa}).item() == doctest::Approx(minimum).epsilon(1e-12));
  const Tensor spread = matrix({{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}});
  CHECK(ssl::vmf_kde_entropy(spread, {.concentration = kappa}).item() > minimum + 1.0);
}

TEST_CASE("gradcheck: ssl vmf entropy") {
  for (auto estimator : {ssl::EntropyEstimator::plug_in, ssl::EntropyEstimator::average})
    CHECK_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return ssl::vmf_kde_entropy(in[0], {.concentration = 3.0, .estimator = estimator});
        },
        (std::vector<Tensor>{random_input({5, 3}, 21)}));
}

TEST_CASE("byol-er and simclr-er: terms by hand and the loss as their difference") {
  const Rows p1 = {{1, 0, 2}, {0, 3, -1}, {1, 1, 1}}, p2 = {{2, 2, 1}, {-1, 0, 1}, {0, 1, 0}};
  const Rows t1 = {{0, 1, 1}, {1, 1, 1}, {2, 0, 1}}, t2 = {{1, 0, 0}, {2, -1, 3}, {0, 0, 1}};
  const Rows o1 = {{1, 1, 0}, {0, 1, 2}, {3, 0, 1}}, o2 = {{1, -1, 0}, {2, 1, 0}, {0, 1, 1}};
  const double kappa = 5.0;
  auto cosine = [](const std::vector<double>& a, const std::vector<double>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    return ab / std::sqrt(aa * bb);
  };
  double reconstruction = 0;
  for (int i = 0; i < 3; ++i) reconstruction += -kappa * (cosine(p1[i], t2[i]) + cosine(p2[i], t1[i])) / 2 / 3;
  const ssl::VmfKdeOptions options{.concentration = kappa};
  const double entropy =
      (ssl::vmf_kde_entropy(matrix(o1), options).item() + ssl::vmf_kde_entropy(matrix(o2), options).item()) / 2;
  const ssl::ERLoss byol =
      ssl::byol_er_loss(matrix(p1), matrix(p2), matrix(t1), matrix(t2), matrix(o1), matrix(o2), options);
  CHECK(byol.reconstruction.item() == doctest::Approx(reconstruction).epsilon(1e-12));
  CHECK(byol.entropy.item() == doctest::Approx(entropy).epsilon(1e-12));
  CHECK(byol.loss.item() == doctest::Approx(reconstruction - entropy).epsilon(1e-12));
  const auto metrics = byol.metrics();
  CHECK(metrics.at("entropy") == doctest::Approx(entropy));
  CHECK(metrics.at("reconstruction") == doctest::Approx(reconstruction));

  double simclr_reconstruction = 0;
  for (int i = 0; i < 3; ++i) simclr_reconstruction += -kappa * cosine(o1[i], o2[i]) / 3;
  const ssl::ERLoss simclr = ssl::simclr_er_loss(matrix(o1), matrix(o2), options);
  CHECK(simclr.reconstruction.item() == doctest::Approx(simclr_reconstruction).epsilon(1e-12));
  CHECK(simclr.loss.item() == doctest::Approx(simclr_reconstruction - entropy).epsilon(1e-12));

  // entropy_weight w: L = reconstruction − w·entropy, the logged terms unweighted; w = 0 is the reconstruction.
  for (const double w : {0.0, 0.25, 3.0}) {
    INFO("entropy_weight ", w);
    const ssl::ERLoss weighted =
        ssl::byol_er_loss(matrix(p1), matrix(p2), matrix(t1), matrix(t2), matrix(o1), matrix(o2), options, w);
    CHECK(weighted.loss.item() == doctest::Approx(reconstruction - w * entropy).epsilon(1e-12));
    CHECK(weighted.entropy.item() == doctest::Approx(entropy).epsilon(1e-12));
    CHECK(ssl::simclr_er_loss(matrix(o1), matrix(o2), options, w).loss.item() ==
          doctest::Approx(simclr_reconstruction - w * entropy).epsilon(1e-12));
  }
  check_error([&] { ssl::simclr_er_loss(matrix(o1), matrix(o2), options, -0.5); }, {"entropy_weight", "-0.5"});
}

TEST_CASE("er loss: at entropy_weight 0 the gradient is the reconstruction's alone") {
  // BYOL-ER's online projections enter only the entropy: at w = 0 they get no gradient, at w = 1 they do.
  const Tensor p1 = random_input({4, 3}, 61), p2 = random_input({4, 3}, 62);
  const Tensor t1 = random_input({4, 3}, 63).detach(), t2 = random_input({4, 3}, 64).detach();
  for (const double w : {0.0, 1.0}) {
    INFO("entropy_weight ", w);
    const Tensor o1 = random_input({4, 3}, 65), o2 = random_input({4, 3}, 66);
    ssl::byol_er_loss(p1, p2, t1, t2, o1, o2, {.concentration = 2.0}, w).loss.backward();
    const double projection_gradient = o1.grad().defined() ? sum(abs(o1.grad())).item() : 0.0;
    if (w == 0.0) CHECK(projection_gradient == 0.0);
    else CHECK(projection_gradient > 1e-6);
  }
  // DINO-ER at w = 0 is DINO's cross-entropy alone, while its entropy is still logged.
  const std::vector<Tensor> teacher = {random_input({2, 4}, 67).detach(), random_input({2, 4}, 68).detach()};
  const Tensor center = random_input({1, 4}, 69).detach();
  const Tensor s1 = random_input({2, 4}, 70), s2 = random_input({2, 4}, 71);
  const ssl::ERLoss er = ssl::dino_er_loss({s1, s2}, teacher, center, 0.1, 0.05, 0.0);
  CHECK(er.loss.item() == doctest::Approx(er.reconstruction.item()).epsilon(1e-12));
  CHECK(er.entropy.item() > 0.0);
}

TEST_CASE("gradcheck: ssl er loss with entropy_weight") {
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ssl::simclr_er_loss(in[0], in[1], {.concentration = 2.0}, 0.3).loss;
      },
      (std::vector<Tensor>{random_input({4, 3}, 72), random_input({4, 3}, 73)}));
}

TEST_CASE("gradcheck: ssl byol-er loss") {
  const Tensor t1 = random_input({4, 3}, 31).detach(), t2 = random_input({4, 3}, 32).detach();
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return ssl::byol_er_loss(in[0], in[1], t1, t2, in[2], in[3], {.concentration = 2.0}).loss;
      },
      (std::vector<Tensor>{random_input({4, 3}, 33), random_input({4, 3}, 34), random_input({4, 3}, 35),
                           random_input({4, 3}, 36)}));
}

TEST_CASE("gradcheck: ssl simclr-er loss") {
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) { return ssl::simclr_er_loss(in[0], in[1], {.concentration = 2.0}).loss; },
      (std::vector<Tensor>{random_input({4, 3}, 41), random_input({4, 3}, 42)}));
}

TEST_CASE("dino-er: batch-mean entropy by hand and a collapsed batch near zero") {
  const Rows a = {{0.0, 1.0, 2.0}, {1.0, 0.0, -1.0}}, b = {{0.5, 0.5, 0.0}, {2.0, 1.0, 0.0}};
  const double temperature = 0.5;
  std::vector<double> p_bar(3, 0.0);
  for (const Rows* rows : {&a, &b})
    for (const auto& row : *rows) {
      double total = 0;
      for (double v : row) total += std::exp(v / temperature);
      for (int k = 0; k < 3; ++k) p_bar[k] += std::exp(row[k] / temperature) / total / 4;
    }
  double expected = 0;
  for (double p : p_bar) expected -= p * std::log(p + 1e-7);
  CHECK(ssl::batch_mean_entropy({matrix(a), matrix(b)}, temperature).item() == doctest::Approx(expected).epsilon(1e-12));
  // Every sample putting its mass on one prototype: H ≈ 0; spread over K = 3: H ≈ log 3.
  const Rows collapsed = {{50, 0, 0}, {50, 0, 0}};
  CHECK(ssl::batch_mean_entropy({matrix(collapsed)}, 1.0).item() == doctest::Approx(0.0).epsilon(1e-5));
  const Rows spread = {{50, 0, 0}, {0, 50, 0}, {0, 0, 50}};
  CHECK(ssl::batch_mean_entropy({matrix(spread)}, 1.0).item() == doctest::Approx(std::log(3.0)).epsilon(1e-5));
}

TEST_CASE("gradcheck: ssl dino-er loss") {
  const std::vector<Tensor> teacher = {random_input({2, 4}, 51).detach(), random_input({2, 4}, 52).detach()};
  const Tensor center = random_input({1, 4}, 53).detach();
  CHECK_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return ssl::dino_er_loss(in, teacher, center, 0.1, 0.05).loss; },
      (std::vector<Tensor>{random_input({2, 4}, 54), random_input({2, 4}, 55), random_input({2, 4}, 56)}));
}
