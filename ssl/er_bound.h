// The ER (entropy + reconstruction) versions of BYOL, SimCLR and DINO (Rodríguez-Gálvez et al. 2023).
//
// The mutual information between the views' embeddings is bounded below by
//   I(Z₁; Z₂) ≥ H(Z₂) + E[log q(Z₂ | Z₁)]
// an entropy term and a reconstruction term. An ER method maximizes both, i.e. minimizes
//   L = reconstruction − w·entropy
// with w = 1 (entropy_weight): the bound itself. w = 0 is the ablation that keeps the reconstruction alone,
// so a run can tell the entropy's share of an ER method's result from its reconstruction's.
//
// BYOL-ER: q(z₂ | z₁) a vMF with mean direction p̂₁ (the online prediction) and concentration κ, so
//   reconstruction = mean over the two ordered pairs and the batch of −κ·⟨p̂₁, ẑ'₂⟩   (target detached)
//   entropy        = the vMF-KDE entropy (vmf_entropy.h) of the online projections, mean over the views.
//   The entropy is taken on the online branch because the target branch carries no gradient.
// SimCLR-ER: the same with the two views' projections:
//   reconstruction = mean over the batch of −κ·⟨ẑ₁, ẑ₂⟩,  entropy = vMF-KDE entropy of ẑ₁ and ẑ₂.
// DINO-ER (discrete outputs): p̄ = mean over the batch and every student crop of softmax(g_s/τ_s),
//   entropy = −Σ_k p̄_k·log(p̄_k + 1e-7),  reconstruction = DINO's multi-crop cross-entropy (dino.h).
// Both terms are returned next to the loss (unweighted), for logging.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "ssl/vmf_entropy.h"

namespace vireo::ssl {

struct ERLoss {
  Tensor loss;            // reconstruction − w·entropy
  Tensor reconstruction;  // scalar
  Tensor entropy;         // scalar
  // {"loss", "reconstruction", "entropy"} as doubles, for metrics.jsonl.
  std::map<std::string, double> metrics() const;
};

ERLoss byol_er_loss(const Tensor& prediction_1, const Tensor& prediction_2, const Tensor& target_projection_1,
                    const Tensor& target_projection_2, const Tensor& online_projection_1,
                    const Tensor& online_projection_2, VmfKdeOptions options = {}, double entropy_weight = 1.0);

ERLoss simclr_er_loss(const Tensor& z1, const Tensor& z2, VmfKdeOptions options = {}, double entropy_weight = 1.0);

// −Σ_k p̄_k·log(p̄_k + 1e-7) of the batch-mean distribution of softmax(logits/temperature) over every
// [N, K] tensor in `outputs`.
Tensor batch_mean_entropy(const std::vector<Tensor>& outputs, double temperature);

ERLoss dino_er_loss(const std::vector<Tensor>& student_outputs, const std::vector<Tensor>& teacher_outputs,
                    const Tensor& center, double student_temperature, double teacher_temperature,
                    double entropy_weight = 1.0);

}  // namespace vireo::ssl
