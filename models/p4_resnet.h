// Group-equivariant convolution for the rotation group p4 (Cohen & Welling 2016, "Group Equivariant
// Convolutional Networks") and a small ResNet built from it — the extractor whose rotation fibers
// homomorphic SSL takes as positives (ssl/hssl.h; METHODS.md §1, Homomorphic SSL).
//
// Layout of a p4 feature map: [N, C·4, H, W], channel c·4 + s holding orientation s ∈ {0, 1, 2, 3} of
// feature c (the group axis fastest), i.e. a free view of [N, C, 4, H, W]. Ordinary 4-D ops (conv2d,
// pooling) apply unchanged.
//
// r = rotation by 90° counterclockwise, on an image map: (r x)[i, j] = x[j, W−1−i] (numpy.rot90).
// The group acts on a p4 feature map by rotating every spatial map and shifting the group axis:
//   (r^k f)(c, s) = rot^k( f(c, s − k mod 4) )                                  (p4_rotate)
// Layers (⋆ = cross-correlation with zero padding, as conv2d; ψ the learned weights):
//   lifting conv  image → p4:  out(o, r) = Σ_i x_i ⋆ rot^r(ψ_{o,i})                     ψ [out, in, k, k]
//   group conv    p4 → p4:     out(o, r) = Σ_{i,s} f(i, s) ⋆ rot^r(ψ_{o,i,(s−r) mod 4})  ψ [out, in, 4, k, k]
// Both build the expanded filter bank [out·4, in(·4), k, k] from ψ on every call (so gradients of the
// shared weights sum over the 4 copies) and run one conv2d. With odd k and padding (k−1)/2 they are
// exactly equivariant: layer(r^k x) = r^k layer(x), r^k acting on the output by p4_rotate.
//   p4 batch norm: one mean/variance/affine per feature c, shared over its 4 orientations (a BatchNorm2d
//   over the view [N, C, 4·H, W]) — equivariant, since a rotation only permutes what it averages.
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
#include "engine/nn/normalization.h"
#include "models/backbone.h"

namespace vireo::models {

constexpr int64_t kP4GroupSize = 4;

// x [..., H, W] rotated by k quarter turns counterclockwise (any integer k; differentiable).
Tensor rotate_quarter_turns(const Tensor& x, int64_t k);
// The group action r^k on a p4 feature map [N, C·4, H, W] (see above).
Tensor p4_rotate(const Tensor& features, int64_t k);

class P4LiftingConv2d : public nn::Module {
 public:
  P4LiftingConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size);  // padding (k − 1)/2, no bias
  using nn::Module::forward;
  Tensor forward(const Tensor& images) override;  // [N, in, H, W] -> [N, out·4, H, W]
  Tensor expanded_weight() const;                  // [out·4, in, k, k]
  std::string extra_repr() const override;

  const int64_t in_channels, out_channels, kernel_size;
  Tensor weight;  // ψ [out, in, k, k]
};

class P4GroupConv2d : public nn::Module {
 public:
  P4GroupConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size);  // padding (k − 1)/2, no bias
  using nn::Module::forward;
  Tensor forward(const Tensor& features) override;  // [N, in·4, H, W] -> [N, out·4, H, W]
  Tensor expanded_weight() const;                    // [out·4, in·4, k, k]
  std::string extra_repr() const override;

  const int64_t in_channels, out_channels, kernel_size;
  Tensor weight;  // ψ [out, in, 4, k, k]
};

// BatchNorm2d(C) whose statistics and affine parameters are shared over the group axis of [N, C·4, H, W].
class P4BatchNorm2d : public nn::BatchNorm2d {
 public:
  explicit P4BatchNorm2d(int64_t num_features);
  using nn::Module::forward;
  Tensor forward(const Tensor& features) override;
};

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
