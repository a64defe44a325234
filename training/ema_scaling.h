// The EMA scaling rule (Busbridge et al. 2023, "How to Scale Your EMA"), and the exponential moving average
// of a model's parameters that every teacher (BYOL, DINO), DINO's center and a supervised model EMA use.
//
// Scaling the batch B → κ·B (κ = batch_size / base_batch_size, fractional allowed) takes κ× fewer steps
// over the same samples. To follow the same trajectory per sample seen:
//   SGD, LARS:    lr η → κ·η                                       (linear rule)
//   Adam, AdamW:  lr η → √κ·η,  (1 − β_i) → κ·(1 − β_i),  ε → ε/√κ  (square-root rule)
//   every EMA:    momentum ρ → ρ^κ                                  (the EMA rule)
// An EMA with momentum ρ updated once per step forgets a fraction (1 − ρ) per step; κ small steps of
// momentum ρ forget 1 − ρ^κ, so one big step must use ρ^κ to forget the same amount per sample. For a
// scheduled momentum ρ(s) (s = samples seen) the rule is applied pointwise: ρ(s) → ρ(s)^κ, the schedule
// itself staying defined in samples. When the batch size changes mid-run (progressive scaling) the rules
// are applied again with the new κ. `ema_rule = false` switches off only the EMA rule, for comparison.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/nn/module.h"

namespace vireo::training {

// κ = batch_size / base_batch_size; both must be positive.
double batch_scale(double batch_size, double base_batch_size);

// ρ^κ: the momentum a κ-times larger step must use; ρ in [0, 1], κ > 0.
double scale_ema_momentum(double momentum, double kappa);

enum class OptimizerFamily { sgd, lars, adam, adamw };
// "sgd", "lars", "adam", "adamw"; anything else throws, naming the value.
OptimizerFamily optimizer_family(const std::string& name);
const char* optimizer_family_name(OptimizerFamily family);

// The hyperparameters the optimizer rules touch; betas and eps matter only to Adam and AdamW.
struct OptimizerHyperparameters {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
};

// The hyperparameters for a batch κ times the base batch (the rules above).
OptimizerHyperparameters scale_optimizer(OptimizerFamily family, const OptimizerHyperparameters& base, double kappa);

// How one run scales: κ, and whether the EMA rule is on. Rebuilt with a new κ at each batch-size change.
struct ScalingRule {
  double kappa = 1.0;
  bool ema_rule = true;
  // The momentum to use at this batch size for a base-batch momentum ρ: ρ^κ, or ρ itself when the EMA
  // rule is off.
  double momentum(double base_momentum) const;
};

// A momentum as a function of the samples seen, at the base batch size.
class MomentumSchedule {
 public:
  virtual ~MomentumSchedule() = default;
  virtual double momentum(int64_t samples_seen) const = 0;
};

class ConstantMomentum final : public MomentumSchedule {
 public:
  explicit ConstantMomentum(double momentum);
  double momentum(int64_t samples_seen) const override { return momentum_; }

 private:
  double momentum_;
};

// BYOL's schedule: ρ(s) = 1 − (1 − ρ_base)·(cos(π·s/S) + 1)/2, rising from ρ_base at s = 0 to ρ_final
// (1 in BYOL) at s = S (the total samples of the run), constant after. DINO uses it from 0.996 to 1.
class CosineMomentum final : public MomentumSchedule {
 public:
  CosineMomentum(double base_momentum, int64_t total_samples, double final_momentum = 1.0);
  double momentum(int64_t samples_seen) const override;

 private:
  double base_, final_;
  int64_t total_samples_;
};

// What the average does with buffers (BatchNorm running statistics). BYOL's target keeps its own running
// statistics (it runs its own forward passes); a supervised model EMA copies the online model's.
enum class EmaBuffers { keep_own, copy_from_online };

// ξ ← ρ·ξ + (1 − ρ)·θ over the parameters of `average` (ξ) and `online` (θ), matched by name, with
// ρ = rule.momentum(schedule(samples_seen)). Both modules must have the same parameter names and shapes.
class ParameterEma {
 public:
  ParameterEma(std::shared_ptr<nn::Module> online, std::shared_ptr<nn::Module> average,
               std::shared_ptr<const MomentumSchedule> schedule, ScalingRule rule = {},
               EmaBuffers buffers = EmaBuffers::keep_own);

  // Call after every optimizer step; `samples_seen` counts the samples up to the start of that step (so
  // the first update reads the schedule at 0). Returns the momentum used.
  double update(int64_t samples_seen);
  // The momentum update(samples_seen) uses: rule.momentum(schedule(samples_seen)).
  double momentum(int64_t samples_seen) const { return rule_.momentum(schedule_->momentum(samples_seen)); }
  // Progressive scaling: a new κ (and the same EMA-rule switch) from the next update on.
  void set_rule(ScalingRule rule) { rule_ = rule; }
  const ScalingRule& rule() const { return rule_; }
  // Copies the online parameters (and buffers) into the average: the teacher's initialization.
  void reset_to_online();

 private:
  std::shared_ptr<nn::Module> online_, average_;
  std::shared_ptr<const MomentumSchedule> schedule_;
  ScalingRule rule_;
  EmaBuffers buffers_;
};

}  // namespace vireo::training
