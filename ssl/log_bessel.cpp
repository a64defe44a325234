// log I_ν(x) in three regimes and the vMF log normalizer: the formulas are in log_bessel.h.
#include "ssl/log_bessel.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "engine/error.h"

namespace vireo::ssl {
namespace {

constexpr double kDebyeMinimumOrder = 30.0;
constexpr double kSeriesMaximumArgument = 1000.0;

// Debye's uniform expansion, A&S 9.7.7 with the polynomials u_1..u_4 of A&S 9.3.9.
double log_bessel_i_debye(double nu, double x) {
  const double z = x / nu;
  const double root = std::sqrt(1.0 + z * z);
  const double t = 1.0 / root;
  const double eta = root + std::log(z / (1.0 + root));
  const double t2 = t * t;
  const double u1 = t * (3.0 - 5.0 * t2) / 24.0;
  const double u2 = t2 * (81.0 + t2 * (-462.0 + t2 * 385.0)) / 1152.0;
  const double u3 = t * t2 * (30375.0 + t2 * (-369603.0 + t2 * (765765.0 - t2 * 425425.0))) / 414720.0;
  const double u4 =
      t2 * t2 * (4465125.0 + t2 * (-94121676.0 + t2 * (349922430.0 + t2 * (-446185740.0 + t2 * 185910725.0)))) /
      39813120.0;
  const double correction = 1.0 + u1 / nu + u2 / (nu * nu) + u3 / (nu * nu * nu) + u4 / (nu * nu * nu * nu);
  return nu * eta - 0.5 * std::log(2.0 * std::numbers::pi * nu) - 0.25 * std::log1p(z * z) + std::log(correction);
}

// The power series, each term as its logarithm (2k + ν)·log(x/2) − log k! − log Γ(k + ν + 1).
double log_bessel_i_series(double nu, double x) {
  const double log_half_x = std::log(x / 2.0);
  std::vector<double> log_terms;
  double largest = -INFINITY;
  for (int64_t k = 0;; ++k) {
    const double kd = static_cast<double>(k);
    const double log_term = (2.0 * kd + nu) * log_half_x - std::lgamma(kd + 1.0) - std::lgamma(kd + nu + 1.0);
    log_terms.push_back(log_term);
    largest = std::max(largest, log_term);
    // Past the peak (the ratio of successive terms (x/2)²/((k+1)(k+ν+1)) below 1) and 40 e-folds under
    // the largest term, the rest of the series adds less than 1e-17 relative.
    const bool past_peak = (x / 2.0) * (x / 2.0) < (kd + 1.0) * (kd + nu + 1.0);
    if (past_peak && log_term < largest - 40.0) break;
  }
  double sum = 0.0;
  for (double log_term : log_terms) sum += std::exp(log_term - largest);
  return largest + std::log(sum);
}

// Hankel's large-argument expansion; its terms shrink while (2k + 1)² < 8x, ample for ν < 30 and x > 1000.
double log_bessel_i_large_argument(double nu, double x) {
  const double mu = 4.0 * nu * nu;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k <= 12; ++k) {
    const double odd = 2.0 * k - 1.0;
    term *= -(mu - odd * odd) / (k * 8.0 * x);
    sum += term;
  }
  return x - 0.5 * std::log(2.0 * std::numbers::pi * x) + std::log(sum);
}

}  // namespace

double log_bessel_i(double order, double x) {
  VIREO_CHECK(std::isfinite(order) && order >= 0, "log_bessel_i: the order must be finite and >= 0, got ", order);
  VIREO_CHECK(std::isfinite(x) && x > 0, "log_bessel_i: the argument must be finite and > 0, got ", x);
  if (order >= kDebyeMinimumOrder) return log_bessel_i_debye(order, x);
  if (x <= kSeriesMaximumArgument) return log_bessel_i_series(order, x);
  return log_bessel_i_large_argument(order, x);
}

double vmf_log_normalizer(int64_t dimension, double concentration) {
  VIREO_CHECK(dimension >= 2, "vmf_log_normalizer: the dimension must be >= 2, got ", dimension);
  VIREO_CHECK(std::isfinite(concentration) && concentration > 0,
              "vmf_log_normalizer: the concentration kappa must be positive, got ", concentration);
  const double d = static_cast<double>(dimension);
  return (d / 2.0 - 1.0) * std::log(concentration) - (d / 2.0) * std::log(2.0 * std::numbers::pi) -
         log_bessel_i(d / 2.0 - 1.0, concentration);
}

}  // namespace vireo::ssl
