// Homomorphic self-supervised learning (Keller, Suau & Zappella 2023, "Homomorphic Self-Supervised
// Learning") as a Method (METHODS.md §1, Homomorphic SSL).
//
// When the extractor is homomorphic to a group of augmentations, f(T_g x) = ρ(g) f(x), augmenting the input
// is the same as moving along the group axis of the features; so a positive pair needs no second forward
// pass: it is two fibers f(x)(g₁), f(x)(g₂) of one image's lifted features, from one forward pass.
//
// For each view's batch (the loss is the mean over the views the trainer passes; one is enough):
//   F_n ∈ R^{D × K}   image n's K fibers of D features:
//     rotation     (a P4ResNet, models/p4_resnet.h): its feature map [N, C·4, h, w], averaged over space
//                  → [N, C, 4]: K = 4 fibers of D = C, one per orientation; a 90° rotation of the input
//                  cyclically shifts them exactly. With the non-equivariant ablation (P4ResNet with
//                  equivariant = false) the same reshape gives 4 "fibers" that no rotation permutes.
//     translation  (a ResNet or a P4ResNet): the last feature map [N, D, h, w] → K = h·w fibers, one per
//                  spatial position, each a location's feature vector (its receptive field plays the crop).
//   g₁ ≠ g₂      for every image, drawn uniformly from the K fibers by a generator keyed on (seed,
//                samples_seen) — a resumed run draws the same pairs
//   a_n = F_n[:, g₁(n)],  b_n = F_n[:, g₂(n)],  z = projector(·)  (Linear → BN → ReLU → Linear, as SimCLR)
//   L = NT-Xent(z_a, z_b; τ)   (nt_xent.h: the pair's other fiber is the positive, the fibers of the
//                               other images in the batch are the negatives)
// Defaults: τ = 0.1, projector 2048 → 128 (as SimCLR).
//
// pairs_across_views (recipe `method.pairs: across_views`, exactly 2 views): a_n is fiber g₁ of image n in
// the first view and b_n fiber g₂ of the same image in the second, so a pair differs by the input
// augmentations between the views as well as by the group element — the paper's combination of H-SSL with
// the usual augmentations. The default (`within_view`) takes both fibers from one view: with rotation fibers
// a pair then differs by a 90° turn alone.
#pragma once

#include <memory>

#include "ssl/byol.h"
#include "ssl/method.h"
#include "ssl/nt_xent.h"

namespace vireo::ssl {

enum class HsslFibers { rotation, translation };

struct HsslOptions {
  HsslFibers fibers = HsslFibers::rotation;
  int64_t hidden_features = 2048;
  int64_t projection_features = 128;
  double temperature = kSimclrTemperature;
  uint64_t seed = 0;  // the stream that draws the fiber pairs
  bool pairs_across_views = false;
};

// The K fibers of every image of a batch: [N, D, K] (see above). rotation needs a P4ResNet; translation
// takes a P4ResNet or a models::ResNet.
Tensor hssl_fibers(models::Backbone& backbone, const Tensor& images, HsslFibers fibers);
// NT-Xent between fibers first[n] and second[n] of each image, after `projector` (null: none).
// fibers [N, D, K]; first, second: one fiber index per image.
Tensor hssl_fiber_loss(const Tensor& fibers, const std::vector<int64_t>& first, const std::vector<int64_t>& second,
                       nn::Module* projector, double temperature);
// The same with fiber first[n] taken from first_fibers and second[n] from second_fibers (two views of the
// same images, both [N, D, K]).
Tensor hssl_fiber_loss(const Tensor& first_fibers, const Tensor& second_fibers, const std::vector<int64_t>& first,
                       const std::vector<int64_t>& second, nn::Module* projector, double temperature);

class Hssl : public Method {
 public:
  Hssl(const BackboneFactory& make_backbone, HsslOptions options);

  // One or more views; exactly two with pairs_across_views.
  StepOutput forward(const Views& views, int64_t samples_seen) override;
  std::vector<std::pair<std::string, Tensor>> trainable_parameters() const override;  // "backbone.…", "projector.…"
  models::Backbone& backbone() override { return *backbone_module; }

  const HsslOptions options;
  std::shared_ptr<models::Backbone> backbone_module;
  std::shared_ptr<nn::Module> projector;

 private:
  int64_t fiber_features_ = 0;  // D
};

}  // namespace vireo::ssl
