// BYOL's loss: the equations are in byol_loss.h.
#include "ssl/byol_loss.h"

#include "engine/error.h"
#include "engine/ops.h"

namespace vireo::ssl {

Tensor byol_pair_loss(const Tensor& prediction, const Tensor& target_projection) {
  VIREO_CHECK(prediction.dim() == 2 && prediction.shape() == target_projection.shape(),
              "byol_pair_loss: prediction ", prediction.shape(), " and target projection ", target_projection.shape(),
              " must both be [N, D] of one shape");
  const Tensor p = normalize(prediction, 2.0, 1);
  const Tensor z = normalize(target_projection.detach(), 2.0, 1);  // stop-gradient on the target
  const Tensor cosine = sum(mul(p, z), {1});                        // [N]
  return mean(2.0 - 2.0 * cosine);
}

Tensor byol_loss(const Tensor& prediction_1, const Tensor& prediction_2, const Tensor& target_projection_1,
                 const Tensor& target_projection_2) {
  return add(byol_pair_loss(prediction_1, target_projection_2), byol_pair_loss(prediction_2, target_projection_1));
}

}  // namespace vireo::ssl
