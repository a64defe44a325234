// Linear-AcT (Rodriguez et al. 2025, "Controlling Language and Diffusion Models by Transporting
// Activations"): per unit, the affine map that best transports the source responses onto the target ones.
//
// For one unit, with n source responses x and n target responses y (token means, steering/points.h), the
// 1-D optimal transport map pairs them by rank: sort both, x₍ᵢ₎ ↦ y₍ᵢ₎. Linear-AcT fits y₍ᵢ₎ ≈ ω·x₍ᵢ₎ + β
// by least squares in f64 over these matched quantiles:
//
//   ω = cov(x₍·₎, y₍·₎) / var(x),   β = ȳ − ω·x̄
//
// and keeps the source range [min x, max x] as the map's support: attached at strength λ, an element z with
// min x < z < max x becomes λ(ωz + β) + (1 − λ)z, any other stays as it is. On [N, C, H, W] maps only the
// channel mean m = mean_HW(z) moves: z ← z − m + [λ(ωm + β) + (1 − λ)m] (steering/intervention.h).
//
// Variants on the same path (same support):
//   mean_only   ω = 1, β = μ_target − μ_source
//   gaussian    ω = σ_target/σ_source, β = μ_target − ω·μ_source  (units with σ_source < 1e-4 untouched)
// A unit whose source responses are all equal has no slope to fit: it gets the mean shift (ω = 1).
//
// Estimation. Incremental (the default): points in model order; point i is fitted on source responses
// recomputed with the maps of points 0 … i−1 attached at λ = 1, so each map corrects what is left after
// the earlier ones. The target responses are those of the clean model (the distribution to reach). All at
// once: every point fitted on clean responses. The two agree at any point no earlier point feeds into.
#pragma once

#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "steering/intervention.h"
#include "steering/points.h"

namespace vireo::steering {

struct AffineMap {
  double scale = 1.0;  // ω
  double shift = 0.0;  // β
};

// The three estimators for one unit; source and target hold the unit's responses. linear needs equal,
// non-zero counts (an Error naming both otherwise); the others any non-empty sets.
AffineMap linear_transport_map(std::vector<double> source, std::vector<double> target);
AffineMap mean_transport_map(const std::vector<double>& source, const std::vector<double>& target);
AffineMap gaussian_transport_map(const std::vector<double>& source, const std::vector<double>& target);

enum class ActVariant { linear, mean_only, gaussian };
enum class ActEstimation { incremental, all_at_once };

struct ActOptions {
  ActVariant variant = ActVariant::linear;
  ActEstimation estimation = ActEstimation::incremental;
  Pooling pooling = Pooling::mean;
  bool source_range_support = true;  // false: edit every element (no support)
};

// The maps of every unit from [N, U] source and target response tables, as one UnitMap (with the source
// range as support when asked).
UnitMap fit_transport(const Tensor& source_responses, const Tensor& target_responses, const ActOptions& options = {});

// Fits Linear-AcT (or a variant) at `points` from source and target batches. method is "act-linear",
// "act-mean" or "act-gaussian"; spatial form mean_shift; points in model order.
Intervention fit_act(nn::Module& model, const std::vector<std::string>& points,
                     const std::vector<Tensor>& source_batches, const std::vector<Tensor>& target_batches,
                     const ActOptions& options = {});

}  // namespace vireo::steering
