// SimCLR (Chen et al. 2020) as a Method, and SimCLR-ER — the baseline for DUET and H-SSL.
//
//   z = g(f(x)) for both views;  L = NT-Xent(z₁, z₂; τ)   (nt_xent.h: each view's positive is its pair, the
//   other 2N − 2 projections of the batch are its negatives)
// Defaults: projector Linear → BN → ReLU → Linear(…, 128), τ = 0.1–0.2 on small images.
// SimCLR-ER replaces the loss by reconstruction − entropy (er_bound.h).
#pragma once

#include <memory>

#include "ssl/byol.h"
#include "ssl/method.h"
#include "ssl/nt_xent.h"
#include "ssl/vmf_entropy.h"

namespace vireo::ssl {

struct SimclrOptions {
  int64_t hidden_features = 2048;
  int64_t projection_features = 128;
  double temperature = kSimclrTemperature;
  bool entropy_reconstruction = false;  // SimCLR-ER
  VmfKdeOptions er = {};
  double entropy_weight = 1.0;          // w in SimCLR-ER's reconstruction − w·entropy (er_bound.h)
};

class Simclr : public Method {
 public:
  Simclr(const BackboneFactory& make_backbone, SimclrOptions options);

  StepOutput forward(const Views& views, int64_t samples_seen) override;  // exactly 2 views
  std::vector<std::pair<std::string, Tensor>> trainable_parameters() const override;  // "encoder.…"
  models::Backbone& backbone() override { return *encoder->backbone; }

  const SimclrOptions options;
  std::shared_ptr<ProjectedEncoder> encoder;
};

}  // namespace vireo::ssl
