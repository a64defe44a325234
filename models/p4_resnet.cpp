// P4ResNet and its ablation: the architecture is described in p4_resnet.h.
#include "models/p4_resnet.h"

#include "engine/error.h"
#include "engine/nn/conv.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace vireo::models {

namespace {

std::shared_ptr<nn::Module> make_conv(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                                      bool equivariant) {
  if (equivariant) return std::make_shared<P4GroupConv2d>(in_channels, out_channels, kernel_size);
  auto conv = std::make_shared<nn::Conv2d>(in_channels * kP4GroupSize, out_channels * kP4GroupSize, kernel_size,
                                           nn::Conv2dOptions{.padding = (kernel_size - 1) / 2, .bias = false});
  nn::init::kaiming_normal_(conv->weight, 0.0, nn::init::FanMode::fan_out, nn::init::Nonlinearity::relu);
  return conv;
}

std::shared_ptr<nn::Module> make_norm(int64_t channels, bool equivariant) {
  if (equivariant) return std::make_shared<P4BatchNorm2d>(channels);
  return std::make_shared<nn::BatchNorm2d>(channels * kP4GroupSize);
}

}  // namespace

P4BasicBlock::P4BasicBlock(int64_t in_channels, int64_t planes, bool downsample, bool equivariant)
    : downsample(downsample) {
  conv1 = register_module("conv1", make_conv(in_channels, planes, 3, equivariant));
  bn1 = register_module("bn1", make_norm(planes, equivariant));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, equivariant));
  bn2 = register_module("bn2", make_norm(planes, equivariant));
  if (in_channels != planes) {
    auto projection = std::make_shared<nn::Sequential>(make_conv(in_channels, planes, 1, equivariant),
                                                       make_norm(planes, equivariant));
    shortcut = register_module("shortcut", projection);
  }
}

Tensor P4BasicBlock::forward(const Tensor& input) {
  Tensor x = input;
  if (downsample) {
    VIREO_CHECK(x.size(2) % 2 == 0 && x.size(3) % 2 == 0, "P4BasicBlock: downsampling needs an even height and width "
                "(a 2×2 average pool keeps the network exactly rotation-equivariant), got a feature map ", describe(x),
                "; use inputs divisible by 2^(stages − 1)");
    x = avg_pool2d(x, {.kernel = {2, 2}});
  }
  const Tensor residual = shortcut ? (*shortcut)(x) : x;
  const Tensor out = (*bn2)((*conv2)(relu((*bn1)((*conv1)(x)))));
  return relu(add(out, residual));
}

P4ResNet::P4ResNet(P4ResNetOptions options) : options(options) {
  VIREO_CHECK(options.in_channels > 0, "P4ResNet: in_channels must be positive, got ", options.in_channels);
  VIREO_CHECK(options.width > 0, "P4ResNet: width must be positive, got ", options.width);
  VIREO_CHECK(!options.blocks_per_stage.empty(), "P4ResNet: blocks_per_stage needs at least one stage");
  if (options.equivariant) {
    conv1 = register_module("conv1", std::make_shared<P4LiftingConv2d>(options.in_channels, options.width, 3));
  } else {
    auto conv = std::make_shared<nn::Conv2d>(options.in_channels, options.width * kP4GroupSize, 3,
                                             nn::Conv2dOptions{.padding = 1, .bias = false});
    nn::init::kaiming_normal_(conv->weight, 0.0, nn::init::FanMode::fan_out, nn::init::Nonlinearity::relu);
    conv1 = register_module("conv1", conv);
  }
  bn1 = register_module("bn1", make_norm(options.width, options.equivariant));
  stages = register_module("stages", std::make_shared<nn::Sequential>());
  int64_t channels = options.width;
  for (size_t stage = 0; stage < options.blocks_per_stage.size(); ++stage) {
    VIREO_CHECK(options.blocks_per_stage[stage] > 0, "P4ResNet: every stage needs at least one block, stage ", stage,
                " has ", options.blocks_per_stage[stage]);
    const int64_t planes = options.width << stage;
    auto blocks = std::make_shared<nn::Sequential>();
    for (int64_t block = 0; block < options.blocks_per_stage[stage]; ++block) {
      blocks->push_back(std::make_shared<P4BasicBlock>(channels, planes, block == 0 && stage > 0, options.equivariant));
      channels = planes;
    }
    stages->push_back(blocks);
  }
}

int64_t P4ResNet::feature_channels() const {
  return options.width << (static_cast<int64_t>(options.blocks_per_stage.size()) - 1);
}

Tensor P4ResNet::forward_feature_map(const Tensor& images) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(1) == options.in_channels,
              "P4ResNet: expects images [N, ", options.in_channels, ", H, W], got ", describe(images));
  return (*stages)(relu((*bn1)((*conv1)(images))));
}

Tensor P4ResNet::forward_features(const Tensor& images) { return mean(forward_feature_map(images), {2, 3}); }

std::shared_ptr<P4ResNet> p4_resnet(P4ResNetOptions options) { return std::make_shared<P4ResNet>(options); }

}  // namespace vireo::models
