// Two-dimensional pictures of a set of feature vectors — what a report's embedding plot shows.
//
// PCA: the projection on the two leading eigenvectors of the covariance of the centred features,
//   C = (1/N) Σ_n (x_n − μ)(x_n − μ)ᵀ,   y_n = [u₁ u₂]ᵀ (x_n − μ),
// each axis's sign chosen so that its largest-magnitude loading is positive (a deterministic picture).
//
// t-SNE (van der Maaten & Hinton 2008), exact O(N²) per iteration, for N up to a few thousand:
//   p_{j|i} = exp(−‖x_i − x_j‖² / 2σ_i²) / Σ_{k≠i} exp(−‖x_i − x_k‖² / 2σ_i²), σ_i set by binary search so
//   that the perplexity 2^{H(P_i)} is `perplexity`;  p_ij = (p_{j|i} + p_{i|j}) / 2N;
//   q_ij = (1 + ‖y_i − y_j‖²)⁻¹ / Σ_{k≠l} (1 + ‖y_k − y_l‖²)⁻¹;
//   ∂KL(P‖Q)/∂y_i = 4 Σ_j (p_ij − q_ij)(y_i − y_j)(1 + ‖y_i − y_j‖²)⁻¹,
// minimized by gradient descent with momentum (0.5, then 0.8) and per-coordinate gains, P multiplied by
// `early_exaggeration` for the first quarter of the iterations — the paper's (and scikit-learn's) recipe.
// The start is N(0, 10⁻⁴) from a seeded generator, so the same features and seed give the same picture.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace vireo::report {

using Points2d = std::vector<std::array<double, 2>>;

// features [N, D] (N ≥ 2) -> N points.
Points2d pca_2d(const Tensor& features);

struct TsneOptions {
  double perplexity = 30.0;  // lowered to (N − 1) / 3 for small N
  int64_t iterations = 500;
  double learning_rate = 200.0;
  double early_exaggeration = 12.0;
  uint64_t seed = 0;
};

// features [N, D] (N ≥ 4) -> N points.
Points2d tsne_2d(const Tensor& features, const TsneOptions& options = {});

}  // namespace vireo::report
