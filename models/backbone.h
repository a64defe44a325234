// Backbone: what the image models (ResNet, ViT) share with the code that builds on them. SSL methods,
// kNN evaluation and linear probes need the pooled feature vector a classifier head would read, without
// knowing which architecture produced it; they reach it through this interface:
//
//   forward(x)            = head(forward_features(x))   (the head is an Identity when num_classes = 0)
//   forward_features(x)   -> [N, num_features()]         (the pooled, pre-logits features)
//
// Note for timm users: timm's forward_features returns the unpooled feature map or token sequence; here
// it returns the pooled vector (timm's forward_head(..., pre_logits=True)), because that is what every
// consumer in this framework wants. ViT's token sequence is VisionTransformer::forward_tokens.
#pragma once

#include <cstdint>

#include "engine/nn/module.h"

namespace vireo::models {

class Backbone : public nn::Module {
 public:
  // The pooled features of a batch of images [N, C, H, W] -> [N, num_features()]. Called directly (not
  // through operator()), so hooks on the model itself do not fire; hooks on its submodules do.
  virtual Tensor forward_features(const Tensor& images) = 0;
  virtual int64_t num_features() const = 0;  // the width of forward_features' output
  virtual int64_t num_classes() const = 0;   // 0 when the model has no classifier head
};

}  // namespace vireo::models
