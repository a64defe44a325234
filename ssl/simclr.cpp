// SimCLR as a Method: the equations are in simclr.h, the loss itself in nt_xent.cpp.
#include "ssl/simclr.h"

#include "engine/error.h"
#include "ssl/er_bound.h"
#include "ssl/heads.h"

namespace vireo::ssl {

Simclr::Simclr(const BackboneFactory& make_backbone, SimclrOptions options) : options(options) {
  std::shared_ptr<models::Backbone> backbone = make_backbone();
  VIREO_CHECK(backbone, "Simclr: the backbone factory returned null");
  encoder = register_module(
      "encoder", std::make_shared<ProjectedEncoder>(
                     backbone, mlp_head(backbone->num_features(), {.hidden_features = options.hidden_features,
                                                                    .out_features = options.projection_features})));
}

StepOutput Simclr::forward(const Views& views, int64_t samples_seen) {
  VIREO_CHECK(views.images.size() == 2, "Simclr: takes exactly 2 views, got ", views.images.size());
  const Tensor z1 = (*encoder)(views.images[0]), z2 = (*encoder)(views.images[1]);
  StepOutput out;
  if (options.entropy_reconstruction) {
    const ERLoss er = simclr_er_loss(z1, z2, options.er, options.entropy_weight);
    out.loss = er.loss;
    out.metrics = er.metrics();
  } else {
    out.loss = nt_xent_loss(z1, z2, options.temperature);
    out.metrics["loss"] = out.loss.item();
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Simclr::trainable_parameters() const {
  std::vector<std::pair<std::string, Tensor>> parameters;
  for (auto& [name, tensor] : encoder->named_parameters()) parameters.emplace_back("encoder." + name, tensor);
  return parameters;
}

}  // namespace vireo::ssl
