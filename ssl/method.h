// Method: what a trainer sees of a self-supervised method. The trainer hands it the augmented views of a
// batch (and each view's transformation parameters, for the methods that predict them) and gets back a
// loss to minimize and named metrics to log; everything method-specific — teachers, their EMA, centers,
// temperatures, frozen layers — lives behind this interface.
//
// One training step, as the trainer runs it:
//   StepOutput out = method.forward(views, samples_seen);   // samples_seen before this batch
//   out.loss.backward();
//   method.before_optimizer_step(samples_seen);              // e.g. DINO's frozen last layer
//   optimizer.step();
//   method.after_optimizer_step(samples_seen);               // e.g. the EMA teacher update
// A Method is an nn::Module: its state dict holds everything to checkpoint (online and target networks,
// DINO's center), while trainable_parameters() lists only what the optimizer updates.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/module.h"
#include "models/backbone.h"
#include "training/ema_scaling.h"

namespace vireo::ssl {

struct Views {
  std::vector<Tensor> images = {};  // one [N, C, H, W] batch per view (DINO: the 2 global crops first)
  // Optional, one [N, P] tensor per view: the parameters of the transformation that made it (DUET).
  std::vector<Tensor> transformation_parameters = {};
};

struct StepOutput {
  Tensor loss = {};                        // a scalar to minimize
  std::map<std::string, double> metrics = {};  // "loss" always; e.g. "entropy", "reconstruction", "momentum"
};

class Method : public nn::Module {
 public:
  virtual StepOutput forward(const Views& views, int64_t samples_seen) = 0;
  // The parameters the optimizer trains, with their dotted names (for parameter groups: LARS and weight
  // decay exclude biases and norm parameters by name).
  virtual std::vector<std::pair<std::string, Tensor>> trainable_parameters() const = 0;
  virtual void before_optimizer_step(int64_t samples_seen) {}
  virtual void after_optimizer_step(int64_t samples_seen) {}
  // Progressive scaling: the κ (and EMA-rule switch) in force from now on.
  virtual void set_scaling_rule(training::ScalingRule rule) {}
  // The backbone evaluated by the kNN monitor and the linear probe (the online one).
  virtual models::Backbone& backbone() = 0;

  using nn::Module::forward;
};

// backbone.forward_features followed by a head: the encoder f then g of BYOL and SimCLR, one module so
// that an EMA can average the pair.
class ProjectedEncoder : public nn::Module {
 public:
  ProjectedEncoder(std::shared_ptr<models::Backbone> backbone, std::shared_ptr<nn::Module> projector);
  using nn::Module::forward;
  Tensor forward(const Tensor& images) override;  // g(f(x))

  std::shared_ptr<models::Backbone> backbone;
  std::shared_ptr<nn::Module> projector;
};

}  // namespace vireo::ssl
