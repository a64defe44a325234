// p4 group-equivariant convolutions and the P4ResNet: the equations and the layout are in p4_resnet.h.
#include "models/p4_resnet.h"

#include <cmath>

#include "engine/error.h"
#include "engine/nn/conv.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace vireo::models {
namespace {

// index = (values…) as a 1-D i64 tensor, for index_select.
Tensor index_tensor(const std::vector<double>& values) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, {.dtype = DType::i64});
}

// The index that reverses a dimension of size n.
Tensor reversed_index(int64_t n) {
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<double>(n - 1 - i);
  return index_tensor(values);
}

// The index that shifts the group axis by k: out(s) = in((s − k) mod 4).
Tensor group_shift_index(int64_t k) {
  std::vector<double> values(kP4GroupSize);
  for (int64_t s = 0; s < kP4GroupSize; ++s)
    values[s] = static_cast<double>(((s - k) % kP4GroupSize + kP4GroupSize) % kP4GroupSize);
  return index_tensor(values);
}

void check_kernel(const char* layer, int64_t in_channels, int64_t out_channels, int64_t kernel_size) {
  VIREO_CHECK(in_channels > 0 && out_channels > 0, layer, ": channel counts must be positive, got in_channels ",
              in_channels, " and out_channels ", out_channels);
  VIREO_CHECK(kernel_size > 0 && kernel_size % 2 == 1, layer,
              ": kernel_size must be odd (a centred filter keeps the layer exactly equivariant), got ", kernel_size);
}

// He-normal for the ReLU that follows, std = √2/√fan_out with fan_out = out·4·k² the expanded bank's, as
// ResNet initializes its convolutions.
void initialize_p4_weight(const Tensor& weight, int64_t out_channels, int64_t kernel_size) {
  const double fan_out = static_cast<double>(out_channels * kP4GroupSize * kernel_size * kernel_size);
  nn::init::normal_(weight, 0.0, std::sqrt(2.0 / fan_out));
}

std::string conv_repr(int64_t in_channels, int64_t out_channels, int64_t kernel_size) {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels) +
         ", kernel_size=" + std::to_string(kernel_size) + ", group=p4";
}

}  // namespace

Tensor rotate_quarter_turns(const Tensor& x, int64_t k) {
  VIREO_CHECK(x.defined() && x.dim() >= 2, "rotate_quarter_turns: expects [..., H, W], got ", describe(x));
  Tensor out = x;
  // rot(x)[i, j] = x[j, W−1−i]: transpose the last two axes, then reverse the rows.
  for (int64_t turn = 0; turn < ((k % 4) + 4) % 4; ++turn) {
    out = transpose(out, -2, -1);
    out = index_select(out, out.dim() - 2, reversed_index(out.size(-2)));
  }
  return out;
}

Tensor p4_rotate(const Tensor& features, int64_t k) {
  VIREO_CHECK(features.defined() && features.dim() == 4 && features.size(1) % kP4GroupSize == 0,
              "p4_rotate: expects a p4 feature map [N, C·4, H, W], got ", describe(features));
  const int64_t n = features.size(0), channels = features.size(1) / kP4GroupSize;
  const int64_t height = features.size(2), width = features.size(3);
  Tensor grouped = reshape(features, {n, channels, kP4GroupSize, height, width});
  grouped = index_select(rotate_quarter_turns(grouped, k), 2, group_shift_index(k));
  return reshape(grouped, {n, channels * kP4GroupSize, grouped.size(3), grouped.size(4)});
}

// ---- lifting convolution ----

P4LiftingConv2d::P4LiftingConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size) {
  check_kernel("P4LiftingConv2d", in_channels, out_channels, kernel_size);
  weight = register_parameter("weight", empty({out_channels, in_channels, kernel_size, kernel_size}));
  initialize_p4_weight(weight, out_channels, kernel_size);
}

Tensor P4LiftingConv2d::expanded_weight() const {
  // bank[o·4 + r] = rot^r(ψ_o)
  std::vector<Tensor> copies;
  for (int64_t r = 0; r < kP4GroupSize; ++r) copies.push_back(rotate_quarter_turns(weight, r));
  return reshape(stack(copies, 1), {out_channels * kP4GroupSize, in_channels, kernel_size, kernel_size});
}

Tensor P4LiftingConv2d::forward(const Tensor& images) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(1) == in_channels,
              "P4LiftingConv2d: expects images [N, ", in_channels, ", H, W], got ", describe(images));
  const int64_t padding = (kernel_size - 1) / 2;
  return conv2d(images, expanded_weight(), {}, {.padding = {padding, padding}});
}

std::string P4LiftingConv2d::extra_repr() const { return conv_repr(in_channels, out_channels, kernel_size); }

// ---- group convolution ----

P4GroupConv2d::P4GroupConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size) {
  check_kernel("P4GroupConv2d", in_channels, out_channels, kernel_size);
  weight = register_parameter("weight", empty({out_channels, in_channels, kP4GroupSize, kernel_size, kernel_size}));
  initialize_p4_weight(weight, out_channels, kernel_size);
}

Tensor P4GroupConv2d::expanded_weight() const {
  // bank[o·4 + r, i·4 + s] = rot^r(ψ_{o, i, (s − r) mod 4})
  std::vector<Tensor> copies;
  for (int64_t r = 0; r < kP4GroupSize; ++r)
    copies.push_back(rotate_quarter_turns(index_select(weight, 2, group_shift_index(r)), r));
  return reshape(stack(copies, 1), {out_channels * kP4GroupSize, in_channels * kP4GroupSize, kernel_size, kernel_size});
}

Tensor P4GroupConv2d::forward(const Tensor& features) {
  VIREO_CHECK(features.defined() && features.dim() == 4 && features.size(1) == in_channels * kP4GroupSize,
              "P4GroupConv2d: expects a p4 feature map [N, ", in_channels * kP4GroupSize, ", H, W] (", in_channels,
              " channels × 4 orientations), got ", describe(features));
  const int64_t padding = (kernel_size - 1) / 2;
  return conv2d(features, expanded_weight(), {}, {.padding = {padding, padding}});
}

std::string P4GroupConv2d::extra_repr() const { return conv_repr(in_channels, out_channels, kernel_size); }

// ---- batch norm ----

P4BatchNorm2d::P4BatchNorm2d(int64_t num_features) : nn::BatchNorm2d(num_features) {}

Tensor P4BatchNorm2d::forward(const Tensor& features) {
  VIREO_CHECK(features.defined() && features.dim() == 4 && features.size(1) == num_features * kP4GroupSize,
              "P4BatchNorm2d: expects a p4 feature map [N, ", num_features * kP4GroupSize, ", H, W], got ",
              describe(features));
  const Shape shape = features.shape();
  const Tensor folded = reshape(features, {shape[0], num_features, kP4GroupSize * shape[2], shape[3]});
  return reshape(nn::BatchNorm2d::forward(folded), shape);
}

// ---- ResNet ----

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
