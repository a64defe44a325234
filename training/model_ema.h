// ModelEma: an exponential moving average of a model's weights — the "EMA model" evaluated beside the
// trained one in supervised recipes, and the teacher of BYOL and DINO.
//
//   θ_ema ← ρ·θ_ema + (1 − ρ)·θ        for every parameter
//   b_ema ← b                          for every buffer (BatchNorm running statistics, counters)
//
// The average lives in a second model of the same architecture, so it is evaluated, hooked and saved like
// any model. ρ is passed to every update rather than fixed at construction: a momentum schedule (BYOL's τ
// rising to 1) or a rule that adapts ρ to the batch size computes it per step and hands it in.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "engine/nn/module.h"

namespace vireo::training {

class ModelEma {
 public:
  // `average` is a model of the same architecture as `model` (same parameter and buffer names and
  // shapes); it starts as an exact copy of `model`'s current weights and is put in eval mode.
  ModelEma(const nn::Module& model, std::shared_ptr<nn::Module> average);

  // One step of the average towards `model`'s current weights with momentum ρ = `momentum` ∈ [0, 1].
  void update(const nn::Module& model, double momentum);

  nn::Module& model() { return *average_; }
  const std::shared_ptr<nn::Module>& shared_model() const { return average_; }

 private:
  std::shared_ptr<nn::Module> average_;
  // Matching (source, average) tensors, paired once by name so that each update is a flat loop.
  std::vector<std::pair<Tensor, Tensor>> parameter_pairs_, buffer_pairs_;
  const nn::Module* source_;
};

}  // namespace vireo::training
