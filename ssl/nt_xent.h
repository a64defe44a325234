// NT-Xent, SimCLR's loss (Chen et al. 2020, "A Simple Framework for Contrastive Learning").
//
// The 2N projections of N images under two views, L2-normalized, z_1 … z_2N (view 1 first, then view 2);
// s_ij = z_i·z_j / τ. Each view's positive is the other view of its image, pos(i) = i ± N; the other 2N − 2
// projections are its negatives (itself excluded):
//   ℓ_i = −log( exp(s_{i,pos(i)}) / Σ_{j ≠ i} exp(s_ij) )
//   L = mean over the 2N views of ℓ_i.
// In a data-parallel job (training/dist) the N images are those of the global batch: every rank's
// projections are gathered first, so the negatives are the same as one process's with the whole batch.
// τ = 0.1–0.2 on small images (0.5 in the paper at ImageNet scale with large batches).
#pragma once

#include "engine/tensor.h"

namespace vireo::ssl {

constexpr double kSimclrTemperature = 0.1;

// z1, z2: [N, D] projections of the two views (N ≥ 2); not required to be normalized.
Tensor nt_xent_loss(const Tensor& z1, const Tensor& z2, double temperature = kSimclrTemperature);

}  // namespace vireo::ssl
