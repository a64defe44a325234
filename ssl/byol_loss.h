// BYOL's loss (Grill et al. 2020, "Bootstrap Your Own Latent").
//
// The online network predicts the target network's projection of the other view:
//   p = q(g(f(x))),  z' = g'(f'(x'))     (g', f' an EMA of g, f; no predictor on the target side)
//   ℓ(p, z') = ‖p/‖p‖ − z'/‖z'‖‖² = 2 − 2·cos(p, stopgrad(z'))
//   L = ℓ(p₁, z'₂) + ℓ(p₂, z'₁)           (symmetric over the two views, each term a batch mean)
// No gradient reaches the target: its projections are detached here, whatever the caller passes.
#pragma once

#include "engine/tensor.h"

namespace vireo::ssl {

// mean over the batch of 2 − 2·cos(prediction_i, target_i); both [N, D].
Tensor byol_pair_loss(const Tensor& prediction, const Tensor& target_projection);

// ℓ(p₁, z'₂) + ℓ(p₂, z'₁): p₁, p₂ the online predictions of views 1 and 2, z'₁, z'₂ the target projections.
Tensor byol_loss(const Tensor& prediction_1, const Tensor& prediction_2, const Tensor& target_projection_1,
                 const Tensor& target_projection_2);

}  // namespace vireo::ssl
