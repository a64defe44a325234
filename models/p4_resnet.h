// P4ResNet: a small ResNet of p4 group-equivariant layers (models/p4_conv.h) — the extractor whose
// rotation fibers homomorphic SSL takes as positives (ssl/hssl.h; METHODS.md §1, Homomorphic SSL) — and
// its non-equivariant ablation.
//
// P4ResNet (CIFAR stem, no max-pool): lifting conv 3×3 → p4 BN → ReLU, then stages of P4BasicBlocks of
// width w, 2w, 4w, … (channels per orientation; 4× that many feature maps), every stage after the first
// halving H and W. Downsampling is a 2×2 average pool at the start of the block (main path and shortcut),
// not a stride-2 conv: a stride-2 grid on an even-sized map is not symmetric under rotation, the 2×2
// blocks are — so the whole network is exactly equivariant when H and W are divisible by 2^(stages−1)
// (28 px: 3 stages; 32 px: up to 4), and it says so when they are not.
//   block: out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = 1×1 group conv + BN when
//   the width changes, else x.
// forward_features: the spatial mean [N, C·4] (group axis kept, so the rotation fibers are readable).
//
// The non-equivariant ablation (equivariant = false): the same network with ordinary convolutions and
// BatchNorm2d over the same number of feature maps (C·4 channels, read as [C, 4] "fibers" that no rotation
// permutes). Feature maps are matched, not parameters: its 3×3 convs hold 4× the group convs' weights, so
// the comparison favours the ablation if anything.
#pragma once

#include <memory>
#include <vector>

#include "engine/nn/container.h"
#include "models/backbone.h"
#include "models/p4_conv.h"

namespace vireo::models {

class P4BasicBlock : public nn::Module {
 public:
  // `equivariant` false: the ablation's block (ordinary layers over in·4 → planes·4 channels).
  P4BasicBlock(int64_t in_channels, int64_t planes, bool downsample, bool equivariant);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;

  const bool downsample;
  std::shared_ptr<nn::Module> conv1, bn1, conv2, bn2;
  std::shared_ptr<nn::Sequential> shortcut;  // null when it is the identity
};

struct P4ResNetOptions {
  int64_t in_channels = 1;
  int64_t width = 16;                                 // w: channels per orientation in the first stage
  std::vector<int64_t> blocks_per_stage = {2, 2, 2};  // stage i has width w·2^i
  bool equivariant = true;                            // false: the non-equivariant ablation
};

class P4ResNet : public Backbone {
 public:
  explicit P4ResNet(P4ResNetOptions options = {});

  using nn::Module::forward;
  Tensor forward(const Tensor& images) override { return forward_features(images); }
  Tensor forward_features(const Tensor& images) override;  // [N, C·4], the spatial mean of the feature map
  Tensor forward_feature_map(const Tensor& images);        // [N, C·4, h, w], C = feature_channels()
  int64_t num_features() const override { return feature_channels() * kP4GroupSize; }
  int64_t num_classes() const override { return 0; }
  int64_t feature_channels() const;  // C: channels per orientation of the last stage

  const P4ResNetOptions options;
  std::shared_ptr<nn::Module> conv1, bn1;
  std::shared_ptr<nn::Sequential> stages;  // "stages.0", "stages.1", …: one Sequential of blocks each
};

// For the registry (model name "p4_resnet", keys in_channels, width, blocks_per_stage, equivariant).
std::shared_ptr<P4ResNet> p4_resnet(P4ResNetOptions options = {});

}  // namespace vireo::models
