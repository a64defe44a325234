// BYOL (Grill et al. 2020, "Bootstrap Your Own Latent") as a Method, and BYOL-ER.
//
//   online:  z = g(f(x)),  p = q(z)            f backbone, g projector, q predictor (trained)
//   target:  z' = g'(f'(x'))                   f', g' an EMA of f, g (not trained, no predictor)
//   loss:    L = ℓ(p₁, z'₂) + ℓ(p₂, z'₁),  ℓ(p, z') = 2 − 2·cos(p, stopgrad(z'))      (byol_loss.h)
//   target update after every optimizer step, parameters only (the target's BatchNorm statistics are its
//   own): ξ ← τ·ξ + (1 − τ)·θ,  τ(s) = 1 − (1 − τ_base)·(cos(π·s/S) + 1)/2 over the S samples of the run,
//   τ → τ^κ at κ times the base batch (training/ema_scaling.h).
// Defaults: H = 4096 (1024–4096 at CIFAR scale), projection 256, τ_base 0.99 (CIFAR) / 0.996 (ImageNet).
// BYOL-ER replaces the loss by reconstruction − entropy (er_bound.h).
#pragma once

#include <functional>
#include <memory>

#include "engine/nn/mlp.h"
#include "ssl/method.h"
#include "ssl/vmf_entropy.h"

namespace vireo::ssl {

// Builds a fresh backbone (called twice: online and target get the same architecture).
using BackboneFactory = std::function<std::shared_ptr<models::Backbone>()>;

struct ByolOptions {
  int64_t hidden_features = 4096;     // H of the projector and the predictor
  int64_t projection_features = 256;
  double base_momentum = 0.99;        // τ_base
  int64_t total_samples = 0;          // S: the samples of the whole run (the cosine schedule's length); > 0
  bool entropy_reconstruction = false;  // BYOL-ER
  VmfKdeOptions er = {};                     // κ and the entropy estimator of BYOL-ER
  double entropy_weight = 1.0;               // w in BYOL-ER's reconstruction − w·entropy (er_bound.h)
};

class Byol : public Method {
 public:
  Byol(const BackboneFactory& make_backbone, ByolOptions options, training::ScalingRule rule = {});

  StepOutput forward(const Views& views, int64_t samples_seen) override;  // exactly 2 views
  std::vector<std::pair<std::string, Tensor>> trainable_parameters() const override;  // "online.…", "predictor.…"
  void after_optimizer_step(int64_t samples_seen) override;  // the target's EMA update
  void set_scaling_rule(training::ScalingRule rule) override;
  models::Backbone& backbone() override { return *online->backbone; }

  const ByolOptions options;
  std::shared_ptr<ProjectedEncoder> online, target;
  std::shared_ptr<nn::MLP> predictor;

 private:
  std::unique_ptr<training::ParameterEma> target_ema_;
};

}  // namespace vireo::ssl
