// The encoder shared by the methods (see method.h).
#include "ssl/method.h"

#include "engine/error.h"

namespace vireo::ssl {

ProjectedEncoder::ProjectedEncoder(std::shared_ptr<models::Backbone> backbone_module,
                                   std::shared_ptr<nn::Module> projector_module) {
  VIREO_CHECK(backbone_module && projector_module, "ProjectedEncoder: a backbone and a projector are required");
  backbone = register_module("backbone", std::move(backbone_module));
  projector = register_module("projector", std::move(projector_module));
}

Tensor ProjectedEncoder::forward(const Tensor& images) { return (*projector)(backbone->forward_features(images)); }

}  // namespace vireo::ssl
