// The vMF kernel-density entropy: the formulas are in vmf_entropy.h.
#include "ssl/vmf_entropy.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
#include "ssl/log_bessel.h"

namespace vireo::ssl {

Tensor vmf_kde_negative_log_density(const Tensor& z, double concentration) {
  VIREO_CHECK(z.dim() == 2 && z.size(0) >= 1 && z.size(1) >= 2,
              "vmf_kde_negative_log_density: embeddings must be [k >= 1, d >= 2], got ", z.shape());
  VIREO_CHECK(std::isfinite(concentration) && concentration > 0,
              "vmf_kde_negative_log_density: the concentration kappa must be positive, got ", concentration);
  const int64_t k = z.size(0), d = z.size(1);
  const Tensor unit = normalize(z, 2.0, 1);
  const Tensor kernel_exponents = mul(matmul(unit, unit.t()), concentration);  // κ·z_iᵀz_j, [k, k]
  const double constant = std::log(static_cast<double>(k)) - vmf_log_normalizer(d, concentration);
  return add(neg(logsumexp(kernel_exponents, {1})), constant);
}

Tensor vmf_kde_entropy(const Tensor& z, VmfKdeOptions options) {
  const Tensor negative_log_density = vmf_kde_negative_log_density(z, options.concentration);
  if (options.estimator == EntropyEstimator::average) return mean(negative_log_density);
  const Tensor weights = softmax(neg(negative_log_density), 0);  // softmax_i(log p̂(z_i))
  return sum(mul(weights, negative_log_density));
}

}  // namespace vireo::ssl
