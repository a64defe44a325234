// BYOL as a Method: the equations are in byol.h, the loss itself in byol_loss.cpp.
#include "ssl/byol.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "ssl/byol_loss.h"
#include "ssl/er_bound.h"
#include "ssl/heads.h"

namespace vireo::ssl {

Byol::Byol(const BackboneFactory& make_backbone, ByolOptions options, training::ScalingRule rule) : options(options) {
  VIREO_CHECK(options.total_samples > 0, "Byol: total_samples (the cosine momentum schedule's length) must be "
              "positive, got ", options.total_samples);
  const MlpHeadOptions head{.hidden_features = options.hidden_features, .out_features = options.projection_features};
  auto make_encoder = [&] {
    std::shared_ptr<models::Backbone> backbone = make_backbone();
    VIREO_CHECK(backbone, "Byol: the backbone factory returned null");
    return std::make_shared<ProjectedEncoder>(backbone, mlp_head(backbone->num_features(), head));
  };
  online = register_module("online", make_encoder());
  predictor = register_module("predictor", mlp_head(options.projection_features, head));
  target = register_module("target", make_encoder());
  for (Tensor parameter : target->parameters()) parameter.requires_grad_(false);  // trained only by the EMA
  target_ema_ = std::make_unique<training::ParameterEma>(
      online, target, std::make_shared<training::CosineMomentum>(options.base_momentum, options.total_samples), rule);
  target_ema_->reset_to_online();  // the target starts as a copy of the online network
}

StepOutput Byol::forward(const Views& views, int64_t samples_seen) {
  VIREO_CHECK(views.images.size() == 2, "Byol: takes exactly 2 views, got ", views.images.size());
  const Tensor z1 = (*online)(views.images[0]), z2 = (*online)(views.images[1]);
  const Tensor p1 = (*predictor)(z1), p2 = (*predictor)(z2);
  Tensor t1, t2;
  {
    NoGrad no_grad;  // stop-gradient: the target learns only through the EMA
    t1 = (*target)(views.images[0]);
    t2 = (*target)(views.images[1]);
  }
  StepOutput out;
  if (options.entropy_reconstruction) {
    const ERLoss er = byol_er_loss(p1, p2, t1, t2, z1, z2, options.er, options.entropy_weight);
    out.loss = er.loss;
    out.metrics = er.metrics();
  } else {
    out.loss = byol_loss(p1, p2, t1, t2);
    out.metrics["loss"] = out.loss.item();
  }
  out.metrics["momentum"] = target_ema_->momentum(samples_seen);  // τ of the target update after this step
  return out;
}

std::vector<std::pair<std::string, Tensor>> Byol::trainable_parameters() const {
  std::vector<std::pair<std::string, Tensor>> parameters;
  for (auto& [name, tensor] : online->named_parameters()) parameters.emplace_back("online." + name, tensor);
  for (auto& [name, tensor] : predictor->named_parameters()) parameters.emplace_back("predictor." + name, tensor);
  return parameters;
}

void Byol::after_optimizer_step(int64_t samples_seen) { target_ema_->update(samples_seen); }

void Byol::set_scaling_rule(training::ScalingRule rule) { target_ema_->set_rule(rule); }

}  // namespace vireo::ssl
