// ResNet-18/34/50 (He et al. 2016, "Deep Residual Learning for Image Recognition"), as torchvision's
// resnet18/34/50: the same module tree and so the same state-dict keys ("layer1.0.conv1.weight",
// "layer2.0.downsample.0.weight", "bn1.num_batches_tracked", "fc.bias"), and torchvision's initialization.
//
//   stem:    conv1 -> bn1 -> relu -> maxpool
//            imagenet: 7×7 stride-2 conv + 3×3 stride-2 max-pool (224 px inputs, /4)
//            cifar:    3×3 stride-1 conv, maxpool an Identity (28–32 px inputs keep their resolution)
//   stages:  layer1..layer4 of width 64, 128, 256, 512 (× width multiplier), layers 2–4 halving H and W
//   head:    avgpool (global mean) -> flatten -> fc (an Identity when num_classes = 0)
//
// options.activation swaps every ReLU for SiLU or GELU (the child keeps torchvision's name "relu"), the
// variants whose activations the Approx-BP switch (models/memory.h) compresses.
//
// Residual blocks, out = relu(F(x) + shortcut(x)), shortcut = downsample (1×1 conv + BN) when the shape
// changes, else x:
//   BasicBlock (18, 34):  F = bn2(conv2_3×3(relu(bn1(conv1_3×3(x)))))                       expansion 1
//   Bottleneck (50):      F = bn3(conv3_1×1(relu(bn2(conv2_3×3(relu(bn1(conv1_1×1(x))))))))   expansion 4
//                         (the stride on the 3×3 conv: torchvision's "ResNet v1.5")
#pragma once

#include <array>
#include <memory>

#include "engine/nn/activation.h"
#include "engine/nn/container.h"
#include "engine/nn/conv.h"
#include "engine/nn/normalization.h"
#include "engine/nn/pooling.h"
#include "models/backbone.h"

namespace vireo::models {

enum class Stem { imagenet, cifar };
enum class Activation { relu, silu, gelu };

struct ResNetOptions {
  int64_t num_classes = 1000;  // 0: no classifier, forward returns the pooled features
  Stem stem = Stem::imagenet;
  int64_t in_channels = 3;     // 1 for Fashion-MNIST
  double width = 1.0;          // scales the stage widths 64/128/256/512 (rounded, at least 1)
  // Zero the last BN weight of every block, so each residual branch starts as the identity (Goyal et al.
  // 2017); torchvision's zero_init_residual.
  bool zero_init_residual = false;
  Activation activation = Activation::relu;
};

class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t in_channels, int64_t planes, int64_t stride, Activation activation = Activation::relu);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Module> relu;  // ReLU, SiLU or GELU
  std::shared_ptr<nn::Sequential> downsample;  // null when the shortcut is the identity
};

class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in_channels, int64_t planes, int64_t stride, Activation activation = Activation::relu);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Module> relu;  // ReLU, SiLU or GELU
  std::shared_ptr<nn::Sequential> downsample;
};

enum class ResNetBlock { basic, bottleneck };

class ResNet : public Backbone {
 public:
  // blocks_per_stage: {2, 2, 2, 2} for ResNet-18, {3, 4, 6, 3} for ResNet-34 and -50.
  ResNet(ResNetBlock block, std::array<int64_t, 4> blocks_per_stage, ResNetOptions options = {});

  using nn::Module::forward;
  Tensor forward(const Tensor& images) override;           // [N, in_channels, H, W] -> [N, num_classes]
  Tensor forward_features(const Tensor& images) override;  // -> [N, num_features()]
  int64_t num_features() const override { return num_features_; }
  int64_t num_classes() const override { return options.num_classes; }

  const ResNetBlock block;
  const std::array<int64_t, 4> blocks_per_stage;
  const ResNetOptions options;

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Module> relu;     // ReLU, SiLU or GELU
  std::shared_ptr<nn::Module> maxpool;  // MaxPool2d, or Identity with the CIFAR stem
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<nn::Module> fc;  // Linear, or Identity when num_classes = 0

 private:
  std::shared_ptr<nn::Sequential> make_stage(int64_t& in_channels, int64_t planes, int64_t blocks, int64_t stride);
  void initialize();
  int64_t num_features_ = 0;
};

// The activation module of options.activation.
std::shared_ptr<nn::Module> make_activation(Activation activation);

std::shared_ptr<ResNet> resnet18(ResNetOptions options = {});
std::shared_ptr<ResNet> resnet34(ResNetOptions options = {});
std::shared_ptr<ResNet> resnet50(ResNetOptions options = {});

}  // namespace vireo::models
