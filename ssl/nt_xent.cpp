// NT-Xent: the equation is in nt_xent.h.
#include "ssl/nt_xent.h"

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops.h"
#include "training/dist/collectives.h"

namespace vireo::ssl {

Tensor nt_xent_loss(const Tensor& z1, const Tensor& z2, double temperature) {
  VIREO_CHECK(z1.dim() == 2 && z1.shape() == z2.shape(), "nt_xent_loss: the views' projections ", z1.shape(), " and ",
              z2.shape(), " must both be [N, D] of one shape");
  VIREO_CHECK(z1.size(0) >= 2, "nt_xent_loss: needs at least 2 images for a negative, got N = ", z1.size(0));
  VIREO_CHECK(std::isfinite(temperature) && temperature > 0, "nt_xent_loss: temperature must be positive, got ",
              temperature);
  // In a data-parallel job the negatives come from the whole global batch: every rank's projections are
  // gathered (the gradient flows back to their ranks) and each rank computes the global batch's loss.
  const Tensor first = training::dist::gather_across_ranks(z1), second = training::dist::gather_across_ranks(z2);
  const int64_t n = first.size(0);
  const Tensor z = normalize(cat({first, second}, 0), 2.0, 1);       // [2N, D]
  Tensor similarity = matmul(z, z.t()) / temperature;            // s_ij, [2N, 2N]
  // A view is not its own negative: s_ii → −∞ drops it from the denominator.
  similarity = masked_fill(similarity, eye(2 * n, {.dtype = z.dtype(), .device = z.device()}),
                           -std::numeric_limits<double>::infinity());
  // pos(i) = i + N for the first view, i − N for the second.
  std::vector<double> positives(2 * n);
  for (int64_t i = 0; i < 2 * n; ++i) positives[i] = static_cast<double>(i < n ? i + n : i - n);
  const Tensor positive_index = Tensor::from_vector(positives, {2 * n, 1}, {.dtype = DType::i64, .device = z.device()});
  // ℓ_i = −log softmax_i(s_i·)[pos(i)]
  const Tensor log_probabilities = log_softmax(similarity, 1);
  return neg(mean(gather(log_probabilities, 1, positive_index)));
}

}  // namespace vireo::ssl
