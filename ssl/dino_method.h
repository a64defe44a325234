// DINO as a Method, and DINO-ER: the student (backbone → DinoHead, trained) and the teacher (its EMA) of
// dino.h, with multi-crop views.
//
//   views:    the 2 global crops first (teacher and student), then M local crops (student only)
//   loss:     DinoLoss (dino.h): cross-entropy between the centered, sharpened teacher distribution of each
//             global crop and the student's on every other crop; then the center update
//   teacher:  ξ ← τ·ξ + (1 − τ)·θ after every optimizer step, τ cosine from τ_base (0.996; 0.9995 at batch
//             256 on CIFAR) to 1 over the run, τ → τ^κ with the EMA scaling rule (as the center momentum)
//   first epoch: the last layer's gradients are dropped (set freeze_last_layer_samples to one epoch)
// DINO-ER replaces the loss by cross-entropy − H(p̄), p̄ the batch-mean student distribution (er_bound.h).
#pragma once

#include <memory>

#include "ssl/byol.h"
#include "ssl/dino.h"
#include "ssl/method.h"

namespace vireo::ssl {

struct DinoOptions {
  DinoHeadOptions head = {};
  DinoLossOptions loss = {};  // loss.out_features is taken from head.out_features
  double base_momentum = 0.996;
  int64_t total_samples = 0;              // the teacher's cosine schedule length; > 0
  int64_t freeze_last_layer_samples = 0;  // one epoch in DINO
  bool entropy_reconstruction = false;    // DINO-ER
  double entropy_weight = 1.0;            // w in DINO-ER's reconstruction − w·entropy (er_bound.h)
};

class Dino : public Method {
 public:
  Dino(const BackboneFactory& make_backbone, DinoOptions options, training::ScalingRule rule = {});

  StepOutput forward(const Views& views, int64_t samples_seen) override;  // ≥ 2 views, globals first
  std::vector<std::pair<std::string, Tensor>> trainable_parameters() const override;  // "student.…"
  void before_optimizer_step(int64_t samples_seen) override;  // drops the last layer's gradients early on
  void after_optimizer_step(int64_t samples_seen) override;   // the teacher's EMA update
  void set_scaling_rule(training::ScalingRule rule) override;
  models::Backbone& backbone() override { return *student->backbone; }

  const DinoOptions options;
  std::shared_ptr<ProjectedEncoder> student, teacher;
  std::shared_ptr<DinoHead> student_head;
  std::shared_ptr<DinoLoss> loss;

 private:
  std::unique_ptr<training::ParameterEma> teacher_ema_;
};

}  // namespace vireo::ssl
