// Small models the nn suites share: a ResNet-style network with PyTorch's torchvision naming (conv1, bn1,
// layer1.0.conv1, layer2.0.downsample.0, fc), built only from nn layers, so that names, counts, state
// dicts and hooks are tested on the shape of model the users will build.
#pragma once

#include <memory>

#include "engine/nn.h"

namespace vireo::testing {

// torchvision's BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, plus a 1x1 conv-BN shortcut when the shape changes.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in_channels, int64_t out_channels, int64_t stride) {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(in_channels, out_channels, 3,
                                                                  nn::Conv2dOptions{.stride = stride, .padding = 1, .bias = false}));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out_channels));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(out_channels, out_channels, 3,
                                                                  nn::Conv2dOptions{.padding = 1, .bias = false}));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out_channels));
    if (stride != 1 || in_channels != out_channels)
      downsample = register_module(
          "downsample",
          std::make_shared<nn::Sequential>(
              std::make_shared<nn::Conv2d>(in_channels, out_channels, 1, nn::Conv2dOptions{.stride = stride, .bias = false}),
              std::make_shared<nn::BatchNorm2d>(out_channels)));
  }

  using nn::Module::forward;
  Tensor forward(const Tensor& x) override {
    Tensor out = relu((*bn1)((*conv1)(x)));
    out = (*bn2)((*conv2)(out));
    return relu(add(out, downsample ? (*downsample)(x) : x));
  }

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;
};

// stem conv1-bn1-relu, layer1 = two 8-channel blocks, layer2 = one 16-channel block of stride 2,
// global average pooling, fc to 10 classes.
class TinyResNet : public nn::Module {
 public:
  TinyResNet() {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(3, 8, 3, nn::Conv2dOptions{.padding = 1, .bias = false}));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(8));
    layer1 = register_module("layer1", std::make_shared<nn::Sequential>(std::make_shared<BasicBlock>(8, 8, 1),
                                                                        std::make_shared<BasicBlock>(8, 8, 1)));
    layer2 = register_module("layer2", std::make_shared<nn::Sequential>(std::make_shared<BasicBlock>(8, 16, 2)));
    fc = register_module("fc", std::make_shared<nn::Linear>(16, 10));
  }

  using nn::Module::forward;
  Tensor forward(const Tensor& x) override {
    Tensor h = relu((*bn1)((*conv1)(x)));
    h = (*layer2)((*layer1)(h));
    return (*fc)(adaptive_avg_pool2d(h, {1, 1}).flatten(1));
  }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::Sequential> layer1, layer2;
  std::shared_ptr<nn::Linear> fc;
};

}  // namespace vireo::testing
