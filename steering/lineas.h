// LinEAS (Rodriguez et al. 2025, "End-to-end Learning of Sparse Interventions on Activations to Steer
// Generation"): per-unit scales and shifts at every intervened point, trained together through the frozen
// model so that the steered source distribution matches the target one at the loss points.
//
// Parameters per intervened point: ω ∈ R^d (init 1), b ∈ R^d (init 0); the map h ← λ(ω ⊙ h + b) + (1 − λ)h
// is the affine form of steering/intervention.h at every position (trained at λ = 1).
//
// Loss. Target responses at every loss point (default: the intervened points and the model's final
// output, path "") are computed once, without gradient. A step draws a batch of ≥ 4 source samples, runs
// it with every map attached, and an equal-size random sample of target responses; per loss point and
// unit, the 1-D Wasserstein-2 distance of the two pooled response sets is
//
//   W₂²(x, y) = mean_i (sort(x)_i − sort(y)_i)²
//
// and the loss is the mean over units, then over loss points. Backward reaches ω and b through every layer
// downstream of their point: that is the "end to end".
//
// Optimizer: Adam, lr 1e-3, betas (0.9, 0.9), 1000 steps, cosine decay to lr·1e-3. Sparsity (off by
// default): after each step a proximal step with τ = the current lr, ST(x, t) = sign(x)·max(|x| − t, 0),
// one group per point:
//   L1:            ω ← 1 + ST(ω − 1, τλ₁);  b ← ST(b, τλ₁)
//   sparse group:  u = ST(ω − 1, τλ₁);  ω ← 1 + max(0, 1 − τλ₂√d/‖u‖₂)·u  (0 when u = 0); likewise b
// A unit is active if |ω − 1| > 1e-5 or |b| > 1e-5; optionally only the active units are trained again.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "steering/intervention.h"
#include "steering/points.h"

namespace vireo::steering {

// mean over units of W₂² between the columns of two [n, U] response tables (same n): a 0-d tensor,
// differentiable in both.
Tensor wasserstein_loss(const Tensor& source_responses, const Tensor& target_responses);

// ST(x, t) = sign(x)·max(|x| − t, 0), elementwise.
Tensor soft_threshold(const Tensor& x, double threshold);
// The proximal steps above, in place on one point's scale ω and shift b (thresholds already multiplied by τ).
void proximal_l1(Tensor& scale, Tensor& shift, double l1_threshold);
void proximal_sparse_group(Tensor& scale, Tensor& shift, double l1_threshold, double group_threshold);

// Units with |ω − 1| > 1e-5 or |b| > 1e-5.
int64_t count_active_units(const UnitMap& map);

// The LinEAS loss of `source_batch` with whatever is attached to `model`, against `target_responses`
// (per loss point, [n, U] with n = the batch size): mean over loss points of wasserstein_loss. The model
// runs with gradient (the caller decides what requires it).
Tensor lineas_loss(nn::Module& model, const std::vector<std::string>& loss_points, const Tensor& source_batch,
                   const std::map<std::string, Tensor>& target_responses, Pooling pooling = Pooling::mean);

struct LineasOptions {
  int64_t steps = 1000;
  int64_t batch_size = 32;  // source samples per step (≥ 4; at most the set sizes)
  double learning_rate = 1e-3;
  std::array<double, 2> betas = {0.9, 0.9};
  double final_learning_rate_factor = 1e-3;  // the cosine decay ends at learning_rate · this
  double l1 = 0.0;                            // λ₁
  double group = 0.0;                         // λ₂ (> 0: the sparse-group step)
  int64_t retrain_steps = 0;                  // then re-train only the active units, without sparsity
  std::optional<std::vector<std::string>> loss_points = std::nullopt;  // default: the points and ""
  Pooling pooling = Pooling::mean;
  uint64_t seed = 0;  // batch and target sampling
};

struct LineasFit {
  Intervention intervention;  // method "lineas", per_position
  std::vector<double> losses;  // one per step (the re-training steps included)
  int64_t active_units = 0;
  int64_t active_points = 0;   // points with at least one active unit
};

// Trains LinEAS maps at `points` from source and target samples ([N, …] each, inputs of the model).
LineasFit fit_lineas(nn::Module& model, const std::vector<std::string>& points, const Tensor& source_samples,
                     const Tensor& target_samples, const LineasOptions& options = {});

}  // namespace vireo::steering
