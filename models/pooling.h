// Pooling layers the image models need as named modules (torchvision's ResNet has "maxpool" and
// "avgpool" children, and hooks may be attached to them): torch.nn.MaxPool2d and
// torch.nn.AdaptiveAvgPool2d over the engine's pooling ops (engine/ops/conv.h).
//
// They are generic nn layers and belong in engine/nn next to Conv2d; they live here until engine/nn has
// its own, so that models/ does not wait for it.
#pragma once

#include "engine/nn/conv.h"
#include "engine/nn/module.h"

namespace vireo::models {

struct MaxPool2dOptions {
  nn::IntPair stride = 0;  // 0: equal to the kernel, as PyTorch's default
  nn::IntPair padding = 0;
  nn::IntPair dilation = 1;
};

// max over each kernel window (padding counts as −inf).
class MaxPool2d : public nn::Module {
 public:
  explicit MaxPool2d(nn::IntPair kernel_size, MaxPool2dOptions options = {});
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, C, H', W']
  std::string extra_repr() const override;
  const nn::IntPair kernel_size, stride, padding, dilation;
};

// The mean over adaptive windows that split H×W into output_size cells (PyTorch's start/end rule).
class AdaptiveAvgPool2d : public nn::Module {
 public:
  explicit AdaptiveAvgPool2d(nn::IntPair output_size) : output_size(output_size) {}
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> [N, C, oh, ow]
  std::string extra_repr() const override;
  const nn::IntPair output_size;
};

}  // namespace vireo::models
