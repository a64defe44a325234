// AurA (Suau et al. 2024, "Whispering Experts"): dampen the units that detect a concept, each in proportion
// to how well it detects it.
//
// For every unit j at the chosen points, its pooled response (max over tokens, steering/points.h) scores
// each sample; AUROC_j is how well that score separates the concept's samples (positive) from the others:
//
//   AUROC_j = P(score of a positive > score of a negative), ties counted half (the Mann–Whitney U / (n₊n₋))
//   α_j     = 1 − Gini_j = 1 − 2·(AUROC_j − 0.5)   when AUROC_j > 0.5,   else 1
//
// Attached at strength λ, the output becomes (1 − λ)·h + λ·(α ⊙ h) at every position (per channel for
// maps): h + λ·(α ⊙ h − h), the per-unit affine map of steering/intervention.h with a = α, b = 0. Units
// that do not detect the concept (AUROC ≤ 0.5) keep α = 1 and are untouched. AurA has no hyperparameter.
//
// Baselines on the same path: Det0 sets the top-k units by AUROC (per point) to 0, Damp multiplies them by
// 0.5; every other unit keeps scale 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "steering/intervention.h"
#include "steering/points.h"

namespace vireo::steering {

// The area under the ROC curve of `scores` for telling positives from negatives, ties counted half, by
// ranks (average ranks for ties): AUROC = (R₊ − n₊(n₊ + 1)/2) / (n₊·n₋), R₊ the positives' rank sum.
// O(n log n). Both sets must be non-empty.
double auroc(const std::vector<double>& positive_scores, const std::vector<double>& negative_scores);
// Per unit of [N₊, U] and [N₋, U] response tables: U values.
std::vector<double> unit_auroc(const Tensor& positive_responses, const Tensor& negative_responses);

enum class AuraVariant { aura, det0, damp };

struct AuraOptions {
  AuraVariant variant = AuraVariant::aura;
  int64_t top_k = 0;          // Det0 and Damp: the units per point with the highest AUROC (required > 0)
  double damp_factor = 0.5;   // Damp's multiplier
  Pooling pooling = Pooling::max;
};

// Per-unit scales from per-unit AUROCs: α = 1 − 2·(AUROC − 0.5) above 0.5, else 1 (aura); the top-k by
// AUROC set to 0 (det0) or to damp_factor (damp), ties broken by the lower unit index.
std::vector<double> aura_scales(const std::vector<double>& aurocs, const AuraOptions& options = {});

// Fits AurA (or a baseline) at `points`: responses of the positive (concept) and negative batches, AUROC and
// scales per unit. method is "aura", "det0" or "damp"; spatial form per_position.
Intervention fit_aura(nn::Module& model, const std::vector<std::string>& points,
                      const std::vector<Tensor>& positive_batches, const std::vector<Tensor>& negative_batches,
                      const AuraOptions& options = {});

}  // namespace vireo::steering
