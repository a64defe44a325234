// ResNet (models/resnet.h): torchvision's construction, step for step, so that the module tree, the
// parameter order and the initialization are the ones a PyTorch user expects.
#include "models/resnet.h"

#include <algorithm>
#include <cmath>

#include "engine/nn/init.h"
#include "engine/nn/linear.h"
#include "engine/ops/elementwise.h"

namespace vireo::models {
namespace {

std::shared_ptr<nn::Conv2d> conv3x3(int64_t in_channels, int64_t out_channels, int64_t stride) {
  return std::make_shared<nn::Conv2d>(in_channels, out_channels, 3,
                                      nn::Conv2dOptions{.stride = stride, .padding = 1, .bias = false});
}

std::shared_ptr<nn::Conv2d> conv1x1(int64_t in_channels, int64_t out_channels, int64_t stride) {
  return std::make_shared<nn::Conv2d>(in_channels, out_channels, 1, nn::Conv2dOptions{.stride = stride, .bias = false});
}

// The projection shortcut: a strided 1×1 conv and a BN, torchvision's "downsample" (children "0", "1").
std::shared_ptr<nn::Sequential> projection(int64_t in_channels, int64_t out_channels, int64_t stride) {
  if (stride == 1 && in_channels == out_channels) return nullptr;
  return std::make_shared<nn::Sequential>(conv1x1(in_channels, out_channels, stride),
                                          std::make_shared<nn::BatchNorm2d>(out_channels));
}

}  // namespace

// ---- blocks ----

std::shared_ptr<nn::Module> make_activation(Activation activation) {
  switch (activation) {
    case Activation::silu: return std::make_shared<nn::SiLU>();
    case Activation::gelu: return std::make_shared<nn::GELU>();
    case Activation::relu: break;
  }
  return std::make_shared<nn::ReLU>();
}

BasicBlock::BasicBlock(int64_t in_channels, int64_t planes, int64_t stride, Activation activation) {
  conv1 = register_module("conv1", conv3x3(in_channels, planes, stride));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  relu = register_module("relu", make_activation(activation));
  conv2 = register_module("conv2", conv3x3(planes, planes, 1));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  if (auto shortcut = projection(in_channels, planes * expansion, stride))
    downsample = register_module("downsample", shortcut);
}

Tensor BasicBlock::forward(const Tensor& x) {
  Tensor out = (*relu)((*bn1)((*conv1)(x)));
  out = (*bn2)((*conv2)(out));
  const Tensor identity = downsample ? (*downsample)(x) : x;
  return (*relu)(add(out, identity));
}

Bottleneck::Bottleneck(int64_t in_channels, int64_t planes, int64_t stride, Activation activation) {
  conv1 = register_module("conv1", conv1x1(in_channels, planes, 1));
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes, stride));
  bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
  conv3 = register_module("conv3", conv1x1(planes, planes * expansion, 1));
  bn3 = register_module("bn3", std::make_shared<nn::BatchNorm2d>(planes * expansion));
  relu = register_module("relu", make_activation(activation));
  if (auto shortcut = projection(in_channels, planes * expansion, stride))
    downsample = register_module("downsample", shortcut);
}

Tensor Bottleneck::forward(const Tensor& x) {
  Tensor out = (*relu)((*bn1)((*conv1)(x)));
  out = (*relu)((*bn2)((*conv2)(out)));
  out = (*bn3)((*conv3)(out));
  const Tensor identity = downsample ? (*downsample)(x) : x;
  return (*relu)(add(out, identity));
}

// ---- the network ----

ResNet::ResNet(ResNetBlock block, std::array<int64_t, 4> blocks_per_stage, ResNetOptions options)
    : block(block), blocks_per_stage(blocks_per_stage), options(options) {
  VIREO_CHECK(options.num_classes >= 0, "ResNet: num_classes must be non-negative (0: no classifier), got ",
              options.num_classes);
  VIREO_CHECK(options.in_channels > 0, "ResNet: in_channels must be positive, got ", options.in_channels);
  VIREO_CHECK(std::isfinite(options.width) && options.width > 0.0, "ResNet: width must be a positive multiplier, got ",
              options.width);
  for (int64_t blocks : blocks_per_stage)
    VIREO_CHECK(blocks > 0, "ResNet: every stage needs at least one block, got {", blocks_per_stage[0], ", ",
                blocks_per_stage[1], ", ", blocks_per_stage[2], ", ", blocks_per_stage[3], "}");

  auto scaled = [&](int64_t channels) {
    return std::max<int64_t>(1, std::llround(static_cast<double>(channels) * options.width));
  };
  int64_t channels = scaled(64);
  if (options.stem == Stem::imagenet) {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(options.in_channels, channels, 7,
                                                                  nn::Conv2dOptions{.stride = 2, .padding = 3, .bias = false}));
  } else {
    conv1 = register_module("conv1", conv3x3(options.in_channels, channels, 1));
  }
  bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
  relu = register_module("relu", make_activation(options.activation));
  if (options.stem == Stem::imagenet)
    maxpool = register_module("maxpool", std::make_shared<nn::MaxPool2d>(3, nn::PoolOptions{.stride = 2, .padding = 1}));
  else
    maxpool = register_module("maxpool", std::make_shared<nn::Identity>());

  layer1 = register_module("layer1", make_stage(channels, scaled(64), blocks_per_stage[0], 1));
  layer2 = register_module("layer2", make_stage(channels, scaled(128), blocks_per_stage[1], 2));
  layer3 = register_module("layer3", make_stage(channels, scaled(256), blocks_per_stage[2], 2));
  layer4 = register_module("layer4", make_stage(channels, scaled(512), blocks_per_stage[3], 2));
  num_features_ = channels;
  avgpool = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  if (options.num_classes > 0)
    fc = register_module("fc", std::make_shared<nn::Linear>(num_features_, options.num_classes));
  else
    fc = register_module("fc", std::make_shared<nn::Identity>());
  initialize();
}

// torchvision's _make_layer: the first block takes the stride and the projection shortcut, the rest keep
// the shape. `in_channels` carries the running width from stage to stage.
std::shared_ptr<nn::Sequential> ResNet::make_stage(int64_t& in_channels, int64_t planes, int64_t blocks,
                                                   int64_t stride) {
  auto stage = std::make_shared<nn::Sequential>();
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t block_stride = i == 0 ? stride : 1;
    if (block == ResNetBlock::basic) {
      stage->push_back(std::make_shared<BasicBlock>(in_channels, planes, block_stride, options.activation));
      in_channels = planes * BasicBlock::expansion;
    } else {
      stage->push_back(std::make_shared<Bottleneck>(in_channels, planes, block_stride, options.activation));
      in_channels = planes * Bottleneck::expansion;
    }
  }
  return stage;
}

// torchvision: He-normal convolutions for the ReLUs that follow them (std = √2/√fan_out), BN weight 1 and
// bias 0 (the layers' own default), fc left at nn.Linear's default.
void ResNet::initialize() {
  apply([](nn::Module& module) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(&module))
      nn::init::kaiming_normal_(conv->weight, 0.0, nn::init::FanMode::fan_out, nn::init::Nonlinearity::relu);
  });
  if (!options.zero_init_residual) return;
  apply([](nn::Module& module) {
    if (auto* basic = dynamic_cast<BasicBlock*>(&module)) nn::init::zeros_(basic->bn2->weight);
    if (auto* bottleneck = dynamic_cast<Bottleneck*>(&module)) nn::init::zeros_(bottleneck->bn3->weight);
  });
}

Tensor ResNet::forward_features(const Tensor& images) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(1) == options.in_channels,
              "ResNet: expects images [N, ", options.in_channels, ", H, W], got ", describe(images));
  Tensor x = (*maxpool)((*relu)((*bn1)((*conv1)(images))));
  x = (*layer4)((*layer3)((*layer2)((*layer1)(x))));
  return (*avgpool)(x).flatten(1);
}

Tensor ResNet::forward(const Tensor& images) { return (*fc)(forward_features(images)); }

std::shared_ptr<ResNet> resnet18(ResNetOptions options) {
  return std::make_shared<ResNet>(ResNetBlock::basic, std::array<int64_t, 4>{2, 2, 2, 2}, options);
}
std::shared_ptr<ResNet> resnet34(ResNetOptions options) {
  return std::make_shared<ResNet>(ResNetBlock::basic, std::array<int64_t, 4>{3, 4, 6, 3}, options);
}
std::shared_ptr<ResNet> resnet50(ResNetOptions options) {
  return std::make_shared<ResNet>(ResNetBlock::bottleneck, std::array<int64_t, 4>{3, 4, 6, 3}, options);
}

}  // namespace vireo::models
