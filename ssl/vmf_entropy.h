// The entropy of embeddings on the unit sphere, estimated with a von Mises–Fisher kernel density — the
// entropy term of the ER bound for BYOL-ER and SimCLR-ER (Rodríguez-Gálvez et al. 2023, "The Role of
// Entropy and Reconstruction in Multi-View Self-Supervised Learning").
//
// For k embeddings z_1 … z_k ∈ S^{d−1} (normalized here) and concentration κ, the kernel density at z_i is
//   p̂(z_i) = (1/k)·Σ_j C_d(κ)·exp(κ·z_iᵀz_j)          (every j, z_i's own kernel included)
//   −log p̂(z_i) = −logsumexp_j(κ·z_iᵀz_j) + log k − log C_d(κ)
// with log C_d(κ) from log_bessel.h. Two estimates of H(Z) from the −log p̂(z_i):
//   plug-in (default):  Ĥ = Σ_i w_i·(−log p̂(z_i)),  w = softmax_i(log p̂(z_i))   (the density's own weights)
//   average:            Ĥ = mean_i(−log p̂(z_i))
// A collapsed batch (all z_i equal) has −log p̂ = −κ − log C_d(κ) everywhere: the smallest value either
// estimate can take.
#pragma once

#include "engine/tensor.h"

namespace vireo::ssl {

enum class EntropyEstimator { plug_in, average };

struct VmfKdeOptions {
  double concentration = 10.0;  // κ
  EntropyEstimator estimator = EntropyEstimator::plug_in;
};

// −log p̂(z_i) for each row of z [k, d]: a [k] tensor.
Tensor vmf_kde_negative_log_density(const Tensor& z, double concentration);

// Ĥ (a scalar tensor, differentiable in z).
Tensor vmf_kde_entropy(const Tensor& z, VmfKdeOptions options = {});

}  // namespace vireo::ssl
