// Group-equivariant layers for the rotation group p4 (Cohen & Welling 2016, "Group Equivariant
// Convolutional Networks"): the lifting and group convolutions and the batch norm P4ResNet is built from
// (models/p4_resnet.h).
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
#pragma once

#include <string>

#include "engine/nn/module.h"
#include "engine/nn/normalization.h"

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

}  // namespace vireo::models
