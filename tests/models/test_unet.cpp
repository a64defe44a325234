// DDPM UNet: the benchmark script's model (its parameter count by formula and as a number, its module
// sequence, key names and shapes), the sinusoidal time embedding against its formula, self-attention
// against a loop reference, output shapes, time and class conditioning, hooks on a multi-input model,
// argument errors, and f64 gradient checks of the blocks and of a whole small UNet.
#include <cmath>

#include "model_test_helpers.h"
#include "models/unet.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::conv_parameters;
using vireo::testing::has_key;
using vireo::testing::linear_parameters;
using vireo::testing::max_abs_difference;
using vireo::testing::norm_parameters;
using vireo::testing::random_input;

namespace {

// bench_ddpm_unet.py's UNet counted layer by layer, following its constructor loop: time MLP 32 -> 128 ->
// 128, conv_in, per level nres × (Res [+ Attn]) and a stride-2 conv between levels, the middle Res/Attn/Res,
// per level (nres + 1) × (Res on the concatenated skip [+ Attn]) and an upsampling conv, then GN + conv_out.
int64_t bench_unet_parameter_count(int64_t in_channels, const std::vector<int64_t>& level_channels, int64_t nres,
                                   const std::vector<int64_t>& attention_levels) {
  const int64_t base = level_channels[0], time = 4 * base;
  auto res = [&](int64_t in, int64_t out) {
    return norm_parameters(in) + conv_parameters(in, out, 3, true) + linear_parameters(time, out) +
           norm_parameters(out) + conv_parameters(out, out, 3, true) + (in != out ? conv_parameters(in, out, 1, true) : 0);
  };
  auto attn = [&](int64_t c) { return norm_parameters(c) + conv_parameters(c, 3 * c, 1, true) + conv_parameters(c, c, 1, true); };
  auto attends = [&](int64_t level) {
    for (int64_t l : attention_levels)
      if (l == level) return true;
    return false;
  };
  const int64_t levels = static_cast<int64_t>(level_channels.size());
  int64_t count = linear_parameters(base, time) + linear_parameters(time, time) + conv_parameters(in_channels, base, 3, true);
  std::vector<int64_t> skips{base};
  int64_t c = base;
  for (int64_t i = 0; i < levels; ++i) {
    for (int64_t r = 0; r < nres; ++r) {
      count += res(c, level_channels[i]) + (attends(i) ? attn(level_channels[i]) : 0);
      c = level_channels[i];
      skips.push_back(c);
    }
    if (i < levels - 1) {
      count += conv_parameters(c, c, 3, true);
      skips.push_back(c);
    }
  }
  count += res(c, c) + attn(c) + res(c, c);
  for (int64_t i = levels - 1; i >= 0; --i) {
    for (int64_t r = 0; r < nres + 1; ++r) {
      count += res(c + skips.back(), level_channels[i]) + (attends(i) ? attn(level_channels[i]) : 0);
      skips.pop_back();
      c = level_channels[i];
    }
    if (i > 0) count += conv_parameters(c, c, 3, true);
  }
  return count + norm_parameters(c) + conv_parameters(c, in_channels, 3, true);
}

models::UNetOptions small_options() {
  return {.in_channels = 1, .base_channels = 8, .channel_multipliers = {1, 2}, .num_res_blocks = 1,
          .attention_levels = {1}, .groups = 4};
}

Tensor random_images(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return randn(shape, {}, &generator);
}

Tensor timesteps(std::initializer_list<double> values) { return vireo::testing::indices(values, {int64_t(values.size())}); }

}  // namespace

TEST_CASE("the default UNet is the benchmark's: 3939393 parameters") {
  auto model = models::ddpm_unet();
  CHECK(model->num_parameters() == 3939393);
  CHECK(model->num_parameters() == bench_unet_parameter_count(1, {32, 64, 128}, 2, {2}));
  auto other = models::ddpm_unet({.in_channels = 3, .base_channels = 16, .channel_multipliers = {1, 2, 2, 4},
                                  .num_res_blocks = 1, .attention_levels = {1, 3}});
  CHECK(other->num_parameters() == bench_unet_parameter_count(3, {16, 32, 32, 64}, 1, {1, 3}));
}

TEST_CASE("the default UNet has the benchmark's module sequence keys and shapes") {
  auto model = models::ddpm_unet();
  std::vector<std::string> down_types, up_types;
  for (const auto& module : *model->down) down_types.push_back(module->type_name());
  for (const auto& module : *model->up) up_types.push_back(module->type_name());
  CHECK(down_types == std::vector<std::string>{"UNetBlock", "UNetBlock", "DownsampleConv", "UNetBlock", "UNetBlock",
                                               "DownsampleConv", "UNetBlock", "UNetBlock"});
  CHECK(up_types == std::vector<std::string>{"UNetBlock", "UNetBlock", "UNetBlock", "UpsampleConv", "UNetBlock",
                                             "UNetBlock", "UNetBlock", "UpsampleConv", "UNetBlock", "UNetBlock", "UNetBlock"});
  const StateDict state = model->state_dict();
  const std::vector<std::pair<const char*, Shape>> expected = {
      {"time_embedding.0.weight", {128, 32}},
      {"time_embedding.2.weight", {128, 128}},
      {"conv_in.weight", {32, 1, 3, 3}},
      {"down.0.residual.norm1.weight", {32}},
      {"down.0.residual.conv1.weight", {32, 32, 3, 3}},
      {"down.0.residual.time_projection.weight", {32, 128}},
      {"down.2.conv.weight", {32, 32, 3, 3}},
      {"down.3.residual.skip.weight", {64, 32, 1, 1}},
      {"down.6.attention.qkv.weight", {384, 128, 1, 1}},
      {"down.7.attention.proj.bias", {128}},
      {"middle_block1.conv2.weight", {128, 128, 3, 3}},
      {"middle_attention.norm.weight", {128}},
      {"middle_block2.time_projection.bias", {128}},
      {"up.0.residual.conv1.weight", {128, 256, 3, 3}},
      {"up.2.residual.skip.weight", {128, 192, 1, 1}},
      {"up.3.conv.weight", {128, 128, 3, 3}},
      {"up.4.residual.conv1.weight", {64, 192, 3, 3}},
      {"up.10.residual.conv2.weight", {32, 32, 3, 3}},
      {"norm_out.weight", {32}},
      {"conv_out.weight", {1, 32, 3, 3}},
  };
  for (const auto& [key, shape] : expected) {
    INFO(key);
    REQUIRE(has_key(state, key));
    CHECK(state.at(key).shape() == shape);
  }
  CHECK_FALSE(has_key(state, "down.0.attention.qkv.weight"));  // attention at the 7 x 7 level only
  CHECK_FALSE(has_key(state, "down.0.residual.skip.weight"));   // same width: identity skip
  CHECK_FALSE(has_key(state, "class_embedding.weight"));
}

TEST_CASE("sinusoidal time embedding follows its formula") {
  const Tensor embedding = models::sinusoidal_time_embedding(timesteps({0, 1, 999}), 4);
  CHECK(embedding.shape() == Shape{3, 4});
  // half = 2: frequencies 1 and exp(−ln(10000)/2) = 0.01; rows [sin t, sin 0.01t, cos t, cos 0.01t].
  std::vector<double> expected;
  for (double t : {0.0, 1.0, 999.0})
    for (double v : {std::sin(t), std::sin(0.01 * t), std::cos(t), std::cos(0.01 * t)}) expected.push_back(v);
  check_close(embedding, expected, 1e-6);
  CHECK(models::sinusoidal_time_embedding(timesteps({5}), 32, {.dtype = DType::f64}).dtype() == DType::f64);
  check_error([] { models::sinusoidal_time_embedding(timesteps({1}), 5); }, {"sinusoidal_time_embedding", "even", "5"});
}

TEST_CASE("UNet self-attention equals the benchmark's softmax formula over positions") {
  manual_seed(9);
  models::SelfAttention2d attention(4, 2);
  const int64_t channels = 4, positions = 6;
  const Tensor x = random_images({2, channels, 2, 3}, 71);
  const Tensor out = attention.forward(x);
  // q, k, v = channels [0, C), [C, 2C), [2C, 3C) of qkv(norm(x)); w = softmax_j(Σ_c q[c,i]·k[c,j]/√C);
  // h[c, i] = Σ_j v[c, j]·w[i, j]; out = x + proj(h).
  const std::vector<double> qkv = attention.qkv->forward(attention.norm->forward(x)).to_vector();
  auto at = [&](int64_t b, int64_t part, int64_t c, int64_t p) {
    return qkv[((b * 3 + part) * channels + c) * positions + p];
  };
  std::vector<double> h(2 * channels * positions, 0.0);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < positions; ++i) {
      std::vector<double> w(positions);
      double total = 0.0;
      for (int64_t j = 0; j < positions; ++j) {
        double s = 0.0;
        for (int64_t c = 0; c < channels; ++c) s += at(b, 0, c, i) * at(b, 1, c, j);
        total += (w[j] = std::exp(s / std::sqrt(static_cast<double>(channels))));
      }
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t j = 0; j < positions; ++j) h[(b * channels + c) * positions + i] += at(b, 2, c, j) * w[j] / total;
    }
  const Tensor expected = add(x, attention.proj->forward(Tensor::from_vector(h, {2, channels, 2, 3})));
  CHECK(max_abs_difference(out, expected) < 1e-5);
}

TEST_CASE("UNet output has the input's shape and depends on the timestep") {
  auto model = models::ddpm_unet(small_options());
  const Tensor x = random_images({2, 1, 8, 8}, 72);
  const Tensor early = (*model)(x, timesteps({1, 1}));
  CHECK(early.shape() == Shape{2, 1, 8, 8});
  const Tensor late = (*model)(std::vector<Tensor>{x, timesteps({500, 500})});
  CHECK(max_abs_difference(early, late) > 1e-4);
  // Timesteps given as floats read the same as integers.
  const Tensor float_times = Tensor::from_vector({1.0, 1.0}, {2});
  CHECK(max_abs_difference(model->forward(std::vector<Tensor>{x, float_times}), early) == 0.0);

  auto defaults = models::ddpm_unet();
  CHECK((*defaults)(random_images({1, 1, 28, 28}, 73), timesteps({999})).shape() == Shape{1, 1, 28, 28});
  auto rgb = models::ddpm_unet({.in_channels = 3, .out_channels = 6, .base_channels = 8, .channel_multipliers = {1, 1},
                                .num_res_blocks = 1, .attention_levels = {}, .groups = 2});
  CHECK((*rgb)(random_images({1, 3, 4, 6}, 74), timesteps({3})).shape() == Shape{1, 6, 4, 6});
}

TEST_CASE("a class-conditional UNet adds the label embedding to the time embedding") {
  auto options = small_options();
  options.num_classes = 3;
  auto model = models::ddpm_unet(options);
  CHECK(model->state_dict().at("class_embedding.weight").shape() == Shape{3, 32});
  CHECK(model->num_parameters() == models::ddpm_unet(small_options())->num_parameters() + 3 * 32);
  const Tensor x = random_images({2, 1, 8, 8}, 75);
  const Tensor t = timesteps({10, 10});
  const Tensor a = (*model)(x, t, vireo::testing::indices({0, 0}, {2}));
  const Tensor b = (*model)(x, t, vireo::testing::indices({2, 2}, {2}));
  CHECK(max_abs_difference(a, b) > 1e-4);
  // Zeroing the embedding rows makes the labels irrelevant.
  {
    NoGrad no_grad;
    model->class_embedding->weight.zero_();
  }
  CHECK(max_abs_difference((*model)(x, t, vireo::testing::indices({0, 0}, {2})),
                           (*model)(x, t, vireo::testing::indices({2, 1}, {2}))) == 0.0);
  check_error([&] { (*model)(x, t); }, {"UNet", "{x, t, labels}", "2 inputs"});
  auto unconditional = models::ddpm_unet(small_options());
  check_error([&] { (*unconditional)(x, t, vireo::testing::indices({0, 0}, {2})); }, {"UNet", "{x, t}", "3 inputs"});
}

TEST_CASE("hooks on the UNet see its multi-input blocks and can replace the middle attention") {
  auto model = models::ddpm_unet(small_options());
  const Tensor x = random_images({2, 1, 8, 8}, 76);
  const Tensor t = timesteps({4, 7});
  const Tensor original = (*model)(x, t);
  size_t inputs_seen = 0;
  model->register_forward_pre_hook("down.0", [&](const std::vector<Tensor>& inputs) { inputs_seen = inputs.size(); });
  Shape attention_shape;
  int calls = 0;
  auto handle = model->register_forward_hook("middle_attention", [&](const Tensor& out) {
    ++calls;
    attention_shape = out.shape();
    return zeros_like(out);
  });
  const Tensor steered = (*model)(x, t);
  CHECK(inputs_seen == 2);
  CHECK(calls == 1);
  CHECK(attention_shape == Shape{2, 16, 4, 4});
  CHECK(max_abs_difference(steered, original) > 1e-4);
  handle.remove();
  CHECK(max_abs_difference((*model)(x, t), original) == 0.0);
}

TEST_CASE("UNet options and inputs are validated with the offending value named") {
  check_error([] { models::ddpm_unet({.attention_levels = {3}}); }, {"UNet", "attention_levels {3}", "{1, 2, 4}"});
  check_error([] { models::ddpm_unet({.channel_multipliers = {}}); }, {"UNet", "channel_multipliers"});
  check_error([] { models::ddpm_unet({.base_channels = 7}); }, {"UNet", "base_channels", "7"});
  check_error([] { models::ddpm_unet({.groups = 5}); }, {"GroupNorm", "5"});
  auto model = models::ddpm_unet(small_options());
  check_error([&] { (*model)(random_images({1, 1, 7, 8}, 1), timesteps({1})); }, {"UNet", "divisible by 2", "[1, 1, 7, 8]"});
  check_error([&] { (*model)(random_images({2, 1, 8, 8}, 1), timesteps({1})); }, {"UNet", "timesteps", "[2]"});
  check_error([&] { (*model)(random_images({1, 1, 8, 8}, 1)); }, {"UNet", "{x, t}", "1 inputs"});
}

TEST_CASE("gradcheck: models UNet ResidualBlock") {
  models::ResidualBlock block(4, 6, 8, 2, 0.0);  // a width change: the 1×1 skip conv
  block.to(DType::f64);
  const Tensor x = random_input({2, 4, 3, 3}, 81);
  const Tensor time = random_input({2, 8}, 82);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return block(in); }, std::vector<Tensor>{x, time});
}

TEST_CASE("gradcheck: models UNet SelfAttention2d") {
  models::SelfAttention2d attention(4, 2);
  attention.to(DType::f64);
  const Tensor x = random_input({2, 4, 2, 3}, 83);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return attention(in[0]); }, std::vector<Tensor>{x});
}

TEST_CASE("gradcheck: models UNet") {
  auto options = small_options();
  options.base_channels = 4;
  options.groups = 2;
  options.num_classes = 2;
  auto model = models::ddpm_unet(options);
  model->to(DType::f64);
  const Tensor x = random_input({1, 1, 4, 4}, 84);
  const Tensor t = timesteps({17});
  const Tensor labels = vireo::testing::indices({1}, {1});
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return (*model)(in[0], t, labels); }, std::vector<Tensor>{x});
}
