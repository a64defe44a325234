// ResNet-18/34/50: parameter counts against torchvision's published numbers and a count by formula,
// torchvision's state-dict keys and shapes, output shapes for both stems, features without the head,
// hooks that observe and replace, train/eval propagation, torchvision's initialization, fitting a small
// batch, and f64 gradient checks of both residual blocks.
#include <array>
#include <cmath>
#include <set>

#include "model_test_helpers.h"
#include "engine/nn/linear.h"
#include "models/resnet.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::conv_parameters;
using vireo::testing::has_key;
using vireo::testing::linear_parameters;
using vireo::testing::max_abs_difference;
using vireo::testing::mean_and_std;
using vireo::testing::norm_parameters;
using vireo::testing::random_input;

namespace {

// torchvision's layer arithmetic written out: stem conv + BN, each block's convs and BNs, the projection
// shortcut where the stride or width changes, and fc.
int64_t resnet_parameter_count(bool bottleneck, std::array<int64_t, 4> blocks, int64_t in_channels, double width,
                               bool imagenet_stem, int64_t num_classes) {
  const std::array<int64_t, 4> planes_of = {std::llround(64 * width), std::llround(128 * width),
                                            std::llround(256 * width), std::llround(512 * width)};
  int64_t count = conv_parameters(in_channels, planes_of[0], imagenet_stem ? 7 : 3, false) + norm_parameters(planes_of[0]);
  int64_t channels = planes_of[0];
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = planes_of[stage];
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const bool strided = stage > 0 && b == 0;
      int64_t out;
      if (bottleneck) {
        out = 4 * planes;
        count += conv_parameters(channels, planes, 1, false) + norm_parameters(planes) +
                 conv_parameters(planes, planes, 3, false) + norm_parameters(planes) +
                 conv_parameters(planes, out, 1, false) + norm_parameters(out);
      } else {
        out = planes;
        count += conv_parameters(channels, planes, 3, false) + norm_parameters(planes) +
                 conv_parameters(planes, planes, 3, false) + norm_parameters(planes);
      }
      if (strided || channels != out) count += conv_parameters(channels, out, 1, false) + norm_parameters(out);
      channels = out;
    }
  }
  return count + (num_classes > 0 ? linear_parameters(channels, num_classes) : 0);
}

Tensor random_images(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return randn(shape, {}, &generator);
}

}  // namespace

TEST_CASE("ResNet-18 with the CIFAR stem and 10 classes has torchvision's 11173962 parameters") {
  auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar});
  CHECK(model->num_parameters() == 11173962);
  CHECK(model->num_parameters() == resnet_parameter_count(false, {2, 2, 2, 2}, 3, 1.0, false, 10));
}

TEST_CASE("ResNet-18 on ImageNet has torchvision's 11689512 parameters") {
  auto model = models::resnet18();
  CHECK(model->num_parameters() == 11689512);
  CHECK(model->num_parameters() == resnet_parameter_count(false, {2, 2, 2, 2}, 3, 1.0, true, 1000));
}

TEST_CASE("ResNet-34 on ImageNet has torchvision's 21797672 parameters") {
  auto model = models::resnet34();
  CHECK(model->num_parameters() == 21797672);
  CHECK(model->num_parameters() == resnet_parameter_count(false, {3, 4, 6, 3}, 3, 1.0, true, 1000));
}

TEST_CASE("ResNet-50 on ImageNet has torchvision's 25557032 parameters") {
  auto model = models::resnet50();
  CHECK(model->num_parameters() == 25557032);
  CHECK(model->num_parameters() == resnet_parameter_count(true, {3, 4, 6, 3}, 3, 1.0, true, 1000));
}

TEST_CASE("width multiplier in_channels and num_classes 0 change the count as the formula says") {
  auto narrow = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.5});
  CHECK(narrow->num_parameters() == resnet_parameter_count(false, {2, 2, 2, 2}, 1, 0.5, false, 10));
  auto headless = models::resnet50({.num_classes = 0, .width = 0.25});
  CHECK(headless->num_parameters() == resnet_parameter_count(true, {3, 4, 6, 3}, 3, 0.25, true, 0));
  CHECK(headless->num_features() == 4 * 128);
  CHECK(narrow->num_features() == 256);
}

TEST_CASE("ResNet state dict keys and shapes are torchvision's") {
  // Names do not depend on the width; a narrow model keeps the test fast.
  auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .width = 0.125});
  const StateDict state = model->state_dict();
  for (const char* key : {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                          "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
                          "layer1.1.conv2.weight", "layer1.1.bn2.num_batches_tracked", "layer2.0.downsample.0.weight",
                          "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias", "fc.weight", "fc.bias"}) {
    INFO(key);
    CHECK(has_key(state, key));
  }
  CHECK_FALSE(has_key(state, "layer1.0.downsample.0.weight"));  // layer1 keeps the shape: identity shortcut
  CHECK_FALSE(has_key(state, "conv1.bias"));
  CHECK(state.at("conv1.weight").shape() == Shape{8, 3, 3, 3});
  CHECK(state.at("layer2.0.downsample.0.weight").shape() == Shape{16, 8, 1, 1});
  CHECK(state.at("fc.weight").shape() == Shape{10, 64});
  CHECK(state.at("bn1.num_batches_tracked").dtype() == DType::i64);
  // 20 conv/BN pairs (17 convs + 3 projections in ResNet-18): each BN holds 5 entries, each conv 1; fc 2.
  CHECK(state.size() == 20 * 5 + 20 + 2);

  const StateDict imagenet50 = models::resnet50({.width = 0.25})->state_dict();
  CHECK(imagenet50.at("conv1.weight").shape() == Shape{16, 3, 7, 7});
  CHECK(imagenet50.at("layer1.0.conv3.weight").shape() == Shape{64, 16, 1, 1});
  CHECK(imagenet50.at("layer1.0.downsample.0.weight").shape() == Shape{64, 16, 1, 1});
  CHECK(imagenet50.at("layer4.2.bn3.weight").shape() == Shape{512});
}

TEST_CASE("ResNet module tree names match torchvision's") {
  auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .width = 0.125});
  std::vector<std::string> top;
  for (const auto& [name, child] : model->named_children()) top.push_back(name);
  CHECK(top == std::vector<std::string>{"conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
                                        "avgpool", "fc"});
  CHECK(model->find("maxpool").type_name() == "Identity");
  auto imagenet = models::resnet18({.width = 0.125});
  auto maxpool = std::dynamic_pointer_cast<nn::MaxPool2d>(imagenet->find_shared("maxpool"));
  REQUIRE(maxpool);
  CHECK(maxpool->kernel_size == nn::IntPair(3));
  CHECK(maxpool->stride == nn::IntPair(2));
  CHECK(maxpool->padding == nn::IntPair(1));
  CHECK(model->avgpool->output_size == nn::IntPair(1));
  CHECK(model->find("layer3.0").type_name() == "BasicBlock");
  CHECK(models::resnet50({.width = 0.125})->find("layer3.5").type_name() == "Bottleneck");
}

TEST_CASE("ResNet output shapes for both stems and the stage resolutions") {
  SUBCASE("cifar stem keeps 32 px through layer1 and ends at 4 x 4") {
    auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .width = 0.125});
    Shape layer1_shape, layer4_shape;
    model->register_forward_hook("layer1", [&](const Tensor& out) { layer1_shape = out.shape(); });
    model->register_forward_hook("layer4", [&](const Tensor& out) { layer4_shape = out.shape(); });
    CHECK(model->forward(random_images({2, 3, 32, 32}, 1)).shape() == Shape{2, 10});
    CHECK(layer1_shape == Shape{2, 8, 32, 32});
    CHECK(layer4_shape == Shape{2, 64, 4, 4});
  }
  SUBCASE("imagenet stem divides by 4 before layer1 and by 32 overall") {
    auto model = models::resnet50({.num_classes = 7, .width = 0.125});
    Shape layer1_shape, layer4_shape;
    model->register_forward_hook("layer1", [&](const Tensor& out) { layer1_shape = out.shape(); });
    model->register_forward_hook("layer4", [&](const Tensor& out) { layer4_shape = out.shape(); });
    CHECK((*model)(random_images({1, 3, 64, 64}, 2)).shape() == Shape{1, 7});
    CHECK(layer1_shape == Shape{1, 32, 16, 16});
    CHECK(layer4_shape == Shape{1, 256, 2, 2});
  }
  SUBCASE("one input channel for Fashion-MNIST at 28 px") {
    auto model = models::resnet34({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
    CHECK(model->forward(random_images({3, 1, 28, 28}, 3)).shape() == Shape{3, 10});
  }
}

TEST_CASE("ResNet features without the head") {
  auto classifier = models::resnet18({.num_classes = 5, .stem = models::Stem::cifar, .width = 0.125});
  classifier->eval();
  const Tensor images = random_images({2, 3, 16, 16}, 4);
  const Tensor features = classifier->forward_features(images);
  CHECK(features.shape() == Shape{2, 64});
  CHECK(max_abs_difference(classifier->forward(images), classifier->fc->forward(features)) < 1e-6);

  auto backbone = models::resnet18({.num_classes = 0, .stem = models::Stem::cifar, .width = 0.125});
  backbone->eval();
  CHECK(backbone->num_classes() == 0);
  CHECK(backbone->find("fc").type_name() == "Identity");
  CHECK(backbone->forward(images).shape() == Shape{2, 64});
  CHECK(max_abs_difference(backbone->forward(images), backbone->forward_features(images)) == 0.0);
  // Global average pooling after a final ReLU: features are non-negative.
  for (double v : features.to_vector()) CHECK(v >= 0.0);
}

TEST_CASE("a forward hook on layer4 fires once per forward and its replacement changes the output") {
  auto model = models::resnet18({.num_classes = 3, .stem = models::Stem::cifar, .width = 0.125});
  model->eval();
  const Tensor images = random_images({2, 3, 8, 8}, 5);
  const Tensor original = model->forward(images);
  int calls = 0;
  auto handle = model->register_forward_hook("layer4", [&](const Tensor& out) {
    ++calls;
    return zeros_like(out);
  });
  const Tensor steered = model->forward(images);
  CHECK(calls == 1);
  // Zero features pooled to zero: the logits are fc's bias alone, for every image.
  auto linear = std::dynamic_pointer_cast<nn::Linear>(model->fc);
  REQUIRE(linear);
  const std::vector<double> bias = linear->bias.to_vector();
  check_close(steered, {bias[0], bias[1], bias[2], bias[0], bias[1], bias[2]}, 1e-6);
  CHECK(max_abs_difference(steered, original) > 1e-4);
  handle.remove();
  CHECK(max_abs_difference(model->forward(images), original) == 0.0);
}

TEST_CASE("a block's shared relu module fires for each of its uses as in torchvision") {
  auto model = models::resnet18({.num_classes = 2, .stem = models::Stem::cifar, .width = 0.125});
  int basic_calls = 0;
  model->register_forward_hook("layer2.0.relu", [&](const Tensor&) { ++basic_calls; });
  model->forward(random_images({2, 3, 8, 8}, 6));
  CHECK(basic_calls == 2);
  auto bottleneck = models::resnet50({.num_classes = 2, .stem = models::Stem::cifar, .width = 0.0625});
  int bottleneck_calls = 0;
  bottleneck->register_forward_hook("layer1.0.relu", [&](const Tensor&) { ++bottleneck_calls; });
  bottleneck->forward(random_images({2, 3, 8, 8}, 7));
  CHECK(bottleneck_calls == 3);
}

TEST_CASE("ResNet train and eval reach every module and decide how BN normalizes") {
  auto model = models::resnet18({.num_classes = 4, .stem = models::Stem::cifar, .width = 0.125});
  const Tensor images = random_images({4, 3, 8, 8}, 8);
  auto bn = std::dynamic_pointer_cast<nn::BatchNorm2d>(model->find_shared("layer3.1.bn2"));
  REQUIRE(bn);

  model->eval();
  for (const auto& [name, module] : model->named_modules()) {
    INFO(name);
    CHECK_FALSE(module->is_training());
  }
  const std::vector<double> running_before = bn->running_mean.to_vector();
  const Tensor first = model->forward(images);
  CHECK(bn->running_mean.to_vector() == running_before);
  CHECK(bn->num_batches_tracked.item() == 0.0);
  // In evaluation each image is processed alone: a batch of one gives the same logits as its row.
  check_close(model->forward(images.slice(0, 1, 2)), first.slice(0, 1, 2).to_vector(), 1e-4);

  model->train();
  for (const auto& [name, module] : model->named_modules()) {
    INFO(name);
    CHECK(module->is_training());
  }
  model->forward(images);
  CHECK(bn->num_batches_tracked.item() == 1.0);
  CHECK(bn->running_mean.to_vector() != running_before);
}

TEST_CASE("ResNet initialization is torchvision's") {
  manual_seed(11);
  auto model = models::resnet18({.width = 0.5});
  const StateDict state = model->state_dict();
  const double fan_out_std = std::sqrt(2.0 / (256.0 * 9.0));  // kaiming_normal, fan_out, relu gain √2
  const auto [mean, std_dev] = mean_and_std(state.at("layer4.1.conv2.weight"));
  CHECK(std::abs(mean) < 0.02 * fan_out_std);
  CHECK(std_dev == doctest::Approx(fan_out_std).epsilon(0.01));
  const auto stem = mean_and_std(state.at("conv1.weight"));
  CHECK(stem.second == doctest::Approx(std::sqrt(2.0 / (32.0 * 49.0))).epsilon(0.05));
  for (double v : state.at("layer2.0.bn1.weight").to_vector()) CHECK(v == 1.0);
  for (double v : state.at("layer2.0.downsample.1.bias").to_vector()) CHECK(v == 0.0);
  // fc keeps nn.Linear's default: U(±1/√256) for weight and bias.
  const double bound = 1.0 / std::sqrt(256.0);
  for (double v : state.at("fc.weight").to_vector()) REQUIRE(std::abs(v) <= bound);
  CHECK(mean_and_std(state.at("fc.weight")).second == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.02));
}

TEST_CASE("zero_init_residual zeroes the last BN weight of every block and nothing else") {
  auto basic = models::resnet18({.stem = models::Stem::cifar, .width = 0.125, .zero_init_residual = true});
  auto bottleneck = models::resnet50({.width = 0.0625, .zero_init_residual = true});
  for (const auto& [name, tensor] : basic->named_parameters()) {
    const bool last_bn = name.find(".bn2.weight") != std::string::npos;
    const auto values = tensor.to_vector();
    INFO(name);
    if (last_bn)
      for (double v : values) CHECK(v == 0.0);
    if (name.find(".bn1.weight") != std::string::npos)
      for (double v : values) CHECK(v == 1.0);
  }
  int zeroed = 0;
  for (const auto& [name, tensor] : bottleneck->named_parameters())
    if (name.find(".bn3.weight") != std::string::npos) {
      ++zeroed;
      for (double v : tensor.to_vector()) CHECK(v == 0.0);
    }
  CHECK(zeroed == 16);
  // With every residual branch silenced a block is relu(shortcut): layer1's blocks pass a ReLU output through.
  basic->eval();
  const Tensor x = relu(random_images({1, 8, 6, 6}, 9));
  CHECK(max_abs_difference((*basic->layer1)(x), x) < 1e-6);
}

TEST_CASE("ResNet options are validated with the offending value named") {
  using vireo::testing::check_error;
  check_error([] { models::resnet18({.num_classes = -1}); }, {"ResNet", "num_classes", "-1"});
  check_error([] { models::resnet18({.in_channels = 0}); }, {"ResNet", "in_channels", "0"});
  check_error([] { models::resnet18({.width = -0.5}); }, {"ResNet", "width", "-0.5"});
  check_error([] { models::resnet18({.width = NAN}); }, {"ResNet", "width"});
  check_error([] { models::ResNet(models::ResNetBlock::basic, {2, 0, 2, 2}); }, {"ResNet", "{2, 0, 2, 2}"});
  auto model = models::resnet18({.stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
  check_error([&] { model->forward(random_images({2, 3, 8, 8}, 1)); }, {"ResNet", "[2, 3, 8, 8]", "[N, 1, H, W]"});
}

TEST_CASE("a narrow ResNet fits a small synthetic batch with plain SGD") {
  manual_seed(3);
  auto model = models::resnet18({.num_classes = 4, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
  const Tensor images = random_images({16, 1, 12, 12}, 21);
  Generator label_generator(22);
  const Tensor labels = randint(0, 4, {16}, {.dtype = DType::i64}, &label_generator);
  const auto losses = vireo::testing::fit_batch(
      *model, [&] { return cross_entropy(model->forward(images), labels); }, 30, 0.05);
  INFO("first loss ", losses.front(), ", last ", losses.back());
  CHECK(losses.back() < 0.3 * losses.front());
}

TEST_CASE("gradcheck: models BasicBlock") {
  auto block = std::make_shared<models::BasicBlock>(3, 4, 2);  // strided, with the projection shortcut
  block->to(DType::f64);
  const Tensor x = random_input({2, 3, 6, 6}, 31);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return (*block)(in[0]); }, std::vector<Tensor>{x});
  block->eval();
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return (*block)(in[0]); }, std::vector<Tensor>{x});
}

TEST_CASE("gradcheck: models Bottleneck") {
  auto block = std::make_shared<models::Bottleneck>(4, 2, 2);  // 4 -> 8 channels, strided
  block->to(DType::f64);
  const Tensor x = random_input({2, 4, 4, 4}, 32);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return (*block)(in[0]); }, std::vector<Tensor>{x});
}
