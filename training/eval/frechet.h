// The Fréchet distance between two sets of feature vectors (Heusel et al. 2017, the "FID" when the
// features are an Inception network's): each set summarized by a Gaussian — mean μ and covariance Σ — and
// the 2-Wasserstein distance between the two Gaussians, squared:
//
//   d² = ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^{1/2})
//
// Vireo computes it in a classifier's feature space (its pooled pre-logits features,
// models::Backbone::forward_features) to compare generated images with real ones. The trace of the matrix
// square root is taken as Tr((Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2}) — the same eigenvalues, but of a symmetric
// positive semi-definite matrix, so two symmetric eigendecompositions (Eigen, in f64) suffice and tiny
// negative eigenvalues from rounding are clipped to 0. Covariances are unbiased (divided by n − 1).
//
// With fewer samples than dimensions the covariances are singular and the estimate is biased upward (as
// every FID on few samples): compare distances computed from equal sample counts only.
#pragma once

#include "engine/tensor.h"

namespace vireo::eval {

// features_a [N, D], features_b [M, D], N, M ≥ 2: d² above, in f64.
double frechet_distance(const Tensor& features_a, const Tensor& features_b);

}  // namespace vireo::eval
