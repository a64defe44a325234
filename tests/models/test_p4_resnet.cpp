// The p4 group-equivariant layers (models/p4_conv.h) and P4ResNet (models/p4_resnet.h): rotating the
// input by 90° rotates every spatial map and cyclically shifts the group axis exactly (f64) — for the
// lifting conv, the group conv, the batch norm and the whole network — while the non-equivariant ablation
// does not; f64 gradient checks through the rotated, weight-shared filter banks.
#include <algorithm>
#include <cmath>

#include "gradcheck.h"
#include "models/p4_resnet.h"
#include "models/registry.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;

namespace {

double max_abs_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

double max_abs(const Tensor& a) {
  double worst = 0;
  for (double value : a.to_vector()) worst = std::max(worst, std::abs(value));
  return worst;
}

Tensor random_f64(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, {.dtype = DType::f64}, &g);
}

}  // namespace

TEST_CASE("p4: quarter turns rotate counterclockwise like numpy rot90") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(models::rotate_quarter_turns(x, 1), {3, 6, 2, 5, 1, 4});
  CHECK(models::rotate_quarter_turns(x, 1).shape() == Shape{3, 2});
  check_close(models::rotate_quarter_turns(x, 2), {6, 5, 4, 3, 2, 1});
  check_close(models::rotate_quarter_turns(x, -1), models::rotate_quarter_turns(x, 3).to_vector());
  check_close(models::rotate_quarter_turns(x, 4), x.to_vector());
  // The group action on a p4 map: orientation s of the result is orientation s − 1 of the input, rotated.
  const Tensor f = random_f64({1, 8, 3, 3}, 1);
  const Tensor rotated = models::p4_rotate(f, 1);
  CHECK(max_abs_difference(rotated.select(1, 1), models::rotate_quarter_turns(f.select(1, 0), 1)) == 0.0);
  CHECK(max_abs_difference(rotated.select(1, 4), models::rotate_quarter_turns(f.select(1, 7), 1)) == 0.0);
  CHECK(max_abs_difference(models::p4_rotate(models::p4_rotate(f, 3), 1), f) == 0.0);
}

TEST_CASE("p4: the lifting conv is exactly rotation-equivariant") {
  manual_seed(3);
  models::P4LiftingConv2d lift(2, 3, 3);
  lift.to(DType::f64);
  for (int64_t side : {7, 8}) {
    const Tensor x = random_f64({2, 2, side, side}, 10 + side);
    const Tensor y = lift(x);
    CHECK(y.shape() == Shape{2, 12, side, side});
    for (int64_t k = 1; k < 4; ++k) {
      INFO("side ", side, ", k ", k);
      CHECK(max_abs_difference(lift(models::rotate_quarter_turns(x, k)), models::p4_rotate(y, k)) < 1e-12);
    }
    // Not trivially: the rotated input's output differs from the unshifted one.
    CHECK(max_abs_difference(lift(models::rotate_quarter_turns(x, 1)), y) > 0.1);
  }
}

TEST_CASE("p4: the group conv and the p4 batch norm are exactly rotation-equivariant") {
  manual_seed(4);
  models::P4GroupConv2d conv(2, 3, 3);
  models::P4BatchNorm2d norm(3);
  conv.to(DType::f64);
  norm.to(DType::f64);
  const Tensor f = random_f64({2, 8, 6, 6}, 5);
  const Tensor y = norm(conv(f));
  CHECK(y.shape() == Shape{2, 12, 6, 6});
  for (int64_t k = 1; k < 4; ++k) {
    INFO("k ", k);
    CHECK(max_abs_difference(norm(conv(models::p4_rotate(f, k))), models::p4_rotate(y, k)) < 1e-12);
  }
  // The batch norm's statistics are per feature, shared by its 4 orientations: each feature's 4 maps
  // together have mean 0 and variance 1, and the running mean has C = 3 entries.
  CHECK(norm.running_mean.numel() == 3);
  const Tensor grouped = reshape(y, {2, 3, 4, 6, 6});
  check_close(mean(grouped, {0, 2, 3, 4}), {0, 0, 0}, 1e-9);
  check_close(var(grouped, {0, 2, 3, 4}, 0), {1, 1, 1}, 1e-4);
  // A 1×1 group conv only mixes the group axis by cyclic shifts; an even kernel is refused.
  models::P4GroupConv2d pointwise(2, 2, 1);
  pointwise.to(DType::f64);
  CHECK(max_abs_difference(pointwise(models::p4_rotate(f, 1)), models::p4_rotate(pointwise(f), 1)) < 1e-12);
  check_error([] { models::P4GroupConv2d(2, 2, 2); }, {"P4GroupConv2d", "kernel_size", "odd"});
  check_error([&] { conv(random_f64({1, 3, 6, 6}, 6)); }, {"P4GroupConv2d", "[N, 8, H, W]", "[1, 3, 6, 6]"});
}

TEST_CASE("p4: the whole P4ResNet is exactly equivariant and its ablation is not") {
  manual_seed(5);
  models::P4ResNet network({.in_channels = 1, .width = 2, .blocks_per_stage = {1, 2, 1}});
  network.to(DType::f64);
  const Tensor x = random_f64({3, 1, 8, 8}, 7);
  const Tensor map = network.forward_feature_map(x);
  CHECK(map.shape() == Shape{3, 8 * 4, 2, 2});
  CHECK(network.num_features() == 32);
  const Tensor pooled = network.forward_features(x);
  for (int64_t k = 1; k < 4; ++k) {
    INFO("k ", k);
    const Tensor rotated = models::rotate_quarter_turns(x, k);
    CHECK(max_abs_difference(network.forward_feature_map(rotated), models::p4_rotate(map, k)) < 1e-10);
    // The pooled fibers [N, C, 4] are cyclically shifted along the group axis.
    const Tensor shifted = models::p4_rotate(reshape(pooled, {3, 32, 1, 1}), k);
    CHECK(max_abs_difference(network.forward_features(rotated), reshape(shifted, {3, 32})) < 1e-10);
  }
  CHECK(max_abs(pooled) > 1e-3);
  // Evaluation mode (running statistics) too.
  network.eval();
  CHECK(max_abs_difference(network.forward_feature_map(models::rotate_quarter_turns(x, 1)),
                           models::p4_rotate(network.forward_feature_map(x), 1)) < 1e-10);

  models::P4ResNet ablation({.in_channels = 1, .width = 2, .blocks_per_stage = {1, 2, 1}, .equivariant = false});
  ablation.to(DType::f64);
  const Tensor ablation_map = ablation.forward_feature_map(x);
  CHECK(ablation_map.shape() == map.shape());
  CHECK(max_abs_difference(ablation.forward_feature_map(models::rotate_quarter_turns(x, 1)),
                           models::p4_rotate(ablation_map, 1)) > 1e-3);
  // Same feature maps; the ablation's ordinary convs hold 4× the weights of the group convs.
  const int64_t conv_weights = network.num_parameters() - 2 * (2 + 2 + 4 + 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8);
  INFO("equivariant ", network.num_parameters(), ", ablation ", ablation.num_parameters());
  CHECK(ablation.num_parameters() > 3 * conv_weights);

  // An odd map cannot be halved symmetrically: the network says so instead of silently losing equivariance.
  models::P4ResNet deep({.in_channels = 1, .width = 2, .blocks_per_stage = {1, 1, 1, 1}});
  check_error([&] { deep.forward_features(randn({1, 1, 28, 28})); }, {"P4BasicBlock", "even", "2^(stages − 1)"});
}

TEST_CASE("p4: gradient check in f64 through the weight-shared filter banks") {
  manual_seed(6);
  models::P4LiftingConv2d lift(2, 2, 3);
  models::P4GroupConv2d conv(2, 2, 3);
  lift.to(DType::f64);
  conv.to(DType::f64);
  std::vector<Tensor> inputs = {random_input({1, 2, 5, 5}, 8), lift.weight, conv.weight};
  // lift then group conv: every entry of ψ reaches the output through its 4 rotated copies.
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return conv(lift(in[0])); }, inputs);
  // The gradient of a shared weight is the sum over its copies in the expanded bank.
  conv.zero_grad();
  Tensor bank = conv.expanded_weight();
  const Tensor upstream = random_f64(bank.shape(), 9);
  sum(mul(bank, upstream)).backward();
  // ψ[0, 0, 0] appears (rotated by r) at bank[r, r]: shift index (s − r) mod 4 = 0 ⇒ s = r.
  Tensor expected = zeros({3, 3}, {.dtype = DType::f64});
  for (int64_t r = 0; r < 4; ++r) {
    const Tensor block = upstream.select(0, r).select(0, r);  // [3, 3] at output r, input orientation r
    expected = add(expected, models::rotate_quarter_turns(block, -r));
  }
  CHECK(max_abs_difference(conv.weight.grad().select(0, 0).select(0, 0).select(0, 0), expected) < 1e-12);
}

TEST_CASE("p4: the registry builds p4_resnet and its ablation by name") {
  manual_seed(8);
  auto model = std::dynamic_pointer_cast<models::P4ResNet>(models::create_model(
      "p4_resnet", {{"in_channels", 1}, {"width", 3}, {"blocks_per_stage", std::vector<int64_t>{1, 1}},
                    {"equivariant", false}}));
  REQUIRE(model);
  CHECK_FALSE(model->options.equivariant);
  CHECK(model->num_features() == 6 * 4);
  CHECK(model->forward_features(randn({2, 1, 8, 8})).shape() == Shape{2, 24});
  CHECK(models::model_option_names("p4_resnet") ==
        std::vector<std::string>{"in_channels", "width", "blocks_per_stage", "equivariant"});
}
