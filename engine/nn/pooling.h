// Pooling and resampling layers, as torch.nn.MaxPool2d / AvgPool2d / AdaptiveAvgPool2d / Upsample.
// They own no parameters; being modules gives them a place in the printed tree and a hookable path
// ("maxpool", "avgpool"), which is what torchvision's ResNet and the UNet need.
#pragma once

#include "engine/nn/conv.h"
#include "engine/nn/module.h"

namespace vireo::nn {

struct PoolOptions {
  std::optional<IntPair> stride;  // absent: equal to the kernel, as PyTorch
  IntPair padding = 0;
  IntPair dilation = 1;           // MaxPool2d only
  bool count_include_pad = true;  // AvgPool2d only
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(IntPair kernel_size, PoolOptions options = {});
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const IntPair kernel_size, stride, padding, dilation;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(IntPair kernel_size, PoolOptions options = {});
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const IntPair kernel_size, stride, padding;
  const bool count_include_pad;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(IntPair output_size) : output_size(output_size) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, output_size.array()); }
  std::string extra_repr() const override;
  const IntPair output_size;
};

enum class UpsampleMode { nearest, bilinear };

// Resizes by a whole-number scale factor (the UNet's 2× up-sampling).
class Upsample : public Module {
 public:
  explicit Upsample(int64_t scale_factor, UpsampleMode mode = UpsampleMode::nearest, bool align_corners = false);
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const int64_t scale_factor;
  const UpsampleMode mode;
  const bool align_corners;
};

}  // namespace vireo::nn
