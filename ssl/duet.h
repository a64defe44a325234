// DUET (Suau et al. 2025, "DUET: 2D Structured and Approximately Equivariant Representations") as a Method:
// SimCLR whose backbone features are read as a G × C matrix — G group bins that should predict the
// transformation a view went through, and C content columns that should not (METHODS.md §1, DUET).
//
// For each of the two views v, with backbone features y_v = f(x_v) ∈ R^D and D = G·C:
//   Y_v      = reshape(y_v, [G, C])                 (row-major: y[g·C + c] = Y[g, c])
//   content  = Σ_g Y_v[g, :]            ∈ R^C  →  projector g(·) → z_v
//   group    = mean_c Y_v[:, c]         ∈ R^G  (logits)
//   θ_v      = the view's transformation parameter normalized to [0, 1]:
//                rotation:    θ = (angle° + 180)/360, wrapped into [0, 1) (the rotation circle)
//                crop_scale:  θ = 1 − crop_width / image_size
//                flip:        θ = 0.25 unflipped, 0.75 flipped
//   t_v      = the target distribution over the G bins [k/G, (k+1)/G) of [0, 1], centred on θ_v and
//              normalized to sum to 1:
//                rotation:    von Mises on the circle, density ∝ exp(κ·cos 2π(u − θ)), κ = 3
//                crop_scale, flip:  Gaussian on [0, 1], density ∝ exp(−(u − θ)²/2σ²), σ = 0.2
//              (the choice per transformation is ours: METHODS.md allows either; a circular parameter
//              gets the circular density)
//   L = NT-Xent(z_1, z_2; τ) + λ · ½ Σ_v mean_batch JSD(softmax(group_v) ‖ t_v)
//   JSD(p ‖ t) = ½ KL(p ‖ m) + ½ KL(t ‖ m),  m = (p + t)/2   (natural log; 0 ≤ JSD ≤ log 2)
// Defaults: G = 8, τ = 0.1, λ = 10. With G = 0 the features are the content as they are and there is no
// group term: DUET is exactly SimCLR (as it is with G = 1, where the one-bin JSD is 0).
//
// Metrics: "loss", "content_loss", "group_loss" (the mean JSD, before λ) and "group_accuracy" (the
// fraction of views whose argmax group bin is the target's argmax bin).
#pragma once

#include <memory>

#include "ssl/byol.h"
#include "ssl/method.h"
#include "ssl/nt_xent.h"

namespace vireo::ssl {

enum class DuetTransformation { rotation, crop_scale, flip };

struct DuetOptions {
  int64_t groups = 8;  // G; 0 drops the group term (SimCLR)
  int64_t hidden_features = 2048;
  int64_t projection_features = 128;
  double temperature = kSimclrTemperature;
  double group_weight = 10.0;  // λ
  DuetTransformation transformation = DuetTransformation::rotation;
  // The column of each view's [N, P] transformation parameters that holds the raw value: the angle in
  // degrees (rotation), the crop width in pixels (crop_scale) or 0/1 (flip).
  int64_t parameter_column = 0;
  int64_t image_size = 0;                // crop_scale only: the side of the image the crop was taken from
  double von_mises_concentration = 3.0;  // κ, rotation
  double gaussian_sigma = 0.2;           // σ, crop_scale and flip
};

// θ ∈ [0, 1] for each raw parameter value (see above), [N] → [N] (f64).
Tensor duet_normalized_parameter(const Tensor& raw, const DuetOptions& options);
// The target distributions t, [N] normalized θ → [N, G] (f64), each row summing to 1.
Tensor duet_target(const Tensor& theta, const DuetOptions& options);
// mean over the batch of JSD(softmax(logits_i) ‖ target_i); logits and target [N, G], target rows are
// probability vectors (no gradient flows into the target).
Tensor jensen_shannon_divergence(const Tensor& logits, const Tensor& target);

class Duet : public Method {
 public:
  Duet(const BackboneFactory& make_backbone, DuetOptions options);

  // Exactly 2 views, and (when G > 0) their transformation parameters.
  StepOutput forward(const Views& views, int64_t samples_seen) override;
  std::vector<std::pair<std::string, Tensor>> trainable_parameters() const override;  // "backbone.…", "projector.…"
  models::Backbone& backbone() override { return *backbone_module; }

  // The content vector [N, C] and group logits [N, G] of a batch of images (group undefined when G = 0).
  struct Representation {
    Tensor content, group_logits;
  };
  Representation represent(const Tensor& images);

  const DuetOptions options;
  std::shared_ptr<models::Backbone> backbone_module;
  std::shared_ptr<nn::Module> projector;
};

}  // namespace vireo::ssl
