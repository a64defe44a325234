// Vision Transformer: parameter counts against timm's published numbers and a count by formula (and the
// benchmark's ViT-Tiny p4 L6 on 32 px), timm's state-dict keys, the qkv head layout against a loop
// reference, output shapes, cls and mean pooling, features without the head, hooks on the MLP found by the
// steering regex, dropout in train and eval, timm's initialization, fitting a small batch, and f64
// gradient checks of a block and a whole tiny model.
#include <cmath>
#include <regex>

#include "model_test_helpers.h"
#include "models/vit.h"

using namespace vireo;
using vireo::testing::check_error;
using vireo::testing::has_key;
using vireo::testing::linear_parameters;
using vireo::testing::max_abs_difference;
using vireo::testing::mean_and_std;
using vireo::testing::norm_parameters;
using vireo::testing::random_input;

namespace {

// timm's VisionTransformer written out: patch conv (with bias), class token, position embedding, per
// block two LayerNorms, qkv, proj, fc1, fc2, then the final norm and the head.
int64_t vit_parameter_count(int64_t image, int64_t patch, int64_t in_channels, int64_t width, int64_t depth,
                            double mlp_ratio, int64_t num_classes, bool class_token) {
  const int64_t tokens = (image / patch) * (image / patch) + (class_token ? 1 : 0);
  const int64_t hidden = static_cast<int64_t>(width * mlp_ratio);
  const int64_t block = 2 * norm_parameters(width) + linear_parameters(width, 3 * width) +
                        linear_parameters(width, width) + linear_parameters(width, hidden) +
                        linear_parameters(hidden, width);
  return in_channels * width * patch * patch + width + (class_token ? width : 0) + tokens * width + depth * block +
         norm_parameters(width) + (num_classes > 0 ? linear_parameters(width, num_classes) : 0);
}

Tensor random_images(const Shape& shape, uint64_t seed) {
  Generator generator(seed);
  return randn(shape, {}, &generator);
}

models::ViTOptions tiny_options(int64_t num_classes = 5) {
  return {.image_size = 8, .in_channels = 3, .patch_size = 4, .depth = 2, .width = 16, .heads = 2,
          .num_classes = num_classes};
}

}  // namespace

// The three presets at 224 px with 16 px patches and timm's 1000-class head. Each is its own test so that
// ctest -j runs them side by side: construction (not running) is what they cost.
TEST_CASE("ViT-Tiny 224/16 has timm's 5717416 parameters") {
  auto tiny = models::vit_tiny();
  CHECK(tiny->num_parameters() == 5717416);
  CHECK(tiny->num_parameters() == vit_parameter_count(224, 16, 3, 192, 12, 4.0, 1000, true));
}

TEST_CASE("ViT-Small 224/16 has timm's 22050664 parameters") {
  auto small = models::vit_small();
  CHECK(small->num_parameters() == 22050664);
  CHECK(small->num_parameters() == vit_parameter_count(224, 16, 3, 384, 12, 4.0, 1000, true));
}

TEST_CASE("ViT-Base 224/16 has timm's 86567656 parameters") {
  auto base = models::vit_base();
  CHECK(base->num_parameters() == 86567656);
  CHECK(base->num_parameters() == vit_parameter_count(224, 16, 3, 768, 12, 4.0, 1000, true));
}

TEST_CASE("the benchmark's ViT-Tiny p4 d192 L6 on 32 px with 10 classes is expressible") {
  // bench_vit_tiny.py: Conv2d(3, 192, 4, stride 4), cls token, 65 position embeddings, 6 pre-LN blocks with
  // an MLP of 768, final LayerNorm and a 10-class head on the class token; nn.LayerNorm's eps 1e-5.
  auto bench = models::vit_tiny({.image_size = 32, .patch_size = 4, .depth = 6, .num_classes = 10,
                                 .layer_norm_eps = 1e-5});
  CHECK(bench->num_parameters() == 2693578);
  CHECK(bench->num_parameters() == vit_parameter_count(32, 4, 3, 192, 6, 4.0, 10, true));
  CHECK(bench->state_dict().at("pos_embed").shape() == Shape{1, 65, 192});
  CHECK(bench->norm->eps == 1e-5);
  CHECK(bench->width == 192);
  CHECK(bench->heads == 3);
}

TEST_CASE("ViT state dict keys and shapes are timm's") {
  auto model = models::vit(tiny_options());
  const StateDict state = model->state_dict();
  for (const char* key : {"cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",
                          "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
                          "blocks.0.attn.proj.weight", "blocks.0.norm2.bias", "blocks.1.mlp.fc1.weight",
                          "blocks.1.mlp.fc2.bias", "norm.weight", "norm.bias", "head.weight", "head.bias"}) {
    INFO(key);
    CHECK(has_key(state, key));
  }
  CHECK(state.size() == 2 + 2 + 2 * 12 + 2 + 2);
  CHECK(state.at("cls_token").shape() == Shape{1, 1, 16});
  CHECK(state.at("pos_embed").shape() == Shape{1, 5, 16});
  CHECK(state.at("patch_embed.proj.weight").shape() == Shape{16, 3, 4, 4});
  CHECK(state.at("blocks.0.attn.qkv.weight").shape() == Shape{48, 16});
  CHECK(state.at("blocks.1.mlp.fc1.weight").shape() == Shape{64, 16});
  CHECK(state.at("head.weight").shape() == Shape{5, 16});
  auto no_bias = models::vit({.image_size = 8, .patch_size = 4, .depth = 1, .width = 8, .heads = 2, .qkv_bias = false});
  CHECK_FALSE(has_key(no_bias->state_dict(), "blocks.0.attn.qkv.bias"));
  CHECK(has_key(no_bias->state_dict(), "blocks.0.attn.proj.bias"));
}

TEST_CASE("ViT attention splits qkv as timm's (3 heads head_dim) layout") {
  manual_seed(5);
  models::Attention attention(6, 2, true, 0.0, 0.0);
  attention.eval();
  const int64_t n = 2, t = 3, width = 6, heads = 2, d = 3;
  const Tensor x = random_images({n, t, width}, 41);
  const Tensor out = attention.forward(x);
  // Reference with loops on doubles: q/k/v of head h at channel j are qkv[.., part·D + h·d + j].
  const std::vector<double> packed = attention.qkv->forward(x).to_vector();
  auto at = [&](int64_t batch, int64_t token, int64_t part, int64_t head, int64_t j) {
    return packed[(batch * t + token) * 3 * width + part * width + head * d + j];
  };
  std::vector<double> merged(n * t * width, 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < t; ++i) {
        std::vector<double> scores(t);
        double largest = -INFINITY, total = 0.0;
        for (int64_t s = 0; s < t; ++s) {
          scores[s] = 0.0;
          for (int64_t j = 0; j < d; ++j) scores[s] += at(b, i, 0, h, j) * at(b, s, 1, h, j);
          scores[s] /= std::sqrt(static_cast<double>(d));
          largest = std::max(largest, scores[s]);
        }
        for (double& s : scores) total += (s = std::exp(s - largest));
        for (int64_t j = 0; j < d; ++j)
          for (int64_t s = 0; s < t; ++s) merged[(b * t + i) * width + h * d + j] += scores[s] / total * at(b, s, 2, h, j);
      }
  const Tensor expected = attention.proj->forward(Tensor::from_vector(merged, {n, t, width}));
  CHECK(max_abs_difference(out, expected) < 1e-5);
}

TEST_CASE("ViT output shapes features and both poolings") {
  auto model = models::vit(tiny_options());
  model->eval();
  const Tensor images = random_images({3, 3, 8, 8}, 42);
  CHECK(model->forward(images).shape() == Shape{3, 5});
  CHECK(model->forward_tokens(images).shape() == Shape{3, 5, 16});
  const Tensor features = model->forward_features(images);
  CHECK(features.shape() == Shape{3, 16});
  CHECK(max_abs_difference(features, model->forward_tokens(images).select(1, 0)) == 0.0);
  CHECK(max_abs_difference(model->forward(images), model->head->forward(features)) < 1e-6);

  auto options = tiny_options(0);
  options.pooling = models::Pooling::mean;
  auto pooled = models::vit(options);
  pooled->eval();
  const StateDict state = pooled->state_dict();
  CHECK_FALSE(has_key(state, "cls_token"));
  CHECK_FALSE(has_key(state, "head.weight"));
  CHECK(state.at("pos_embed").shape() == Shape{1, 4, 16});
  CHECK(pooled->find("head").type_name() == "Identity");
  const Tensor tokens = pooled->forward_tokens(images);
  CHECK(tokens.shape() == Shape{3, 4, 16});
  CHECK(max_abs_difference(pooled->forward(images), tokens.mean({1})) < 1e-6);
  CHECK(pooled->num_features() == 16);
}

TEST_CASE("the steering regex finds every block's fc1 and a hook there replaces its output") {
  auto model = models::vit(tiny_options());
  model->eval();
  const std::regex fc1(R"(blocks\.\d+\.mlp\.fc1)");
  int matches = 0;
  for (const auto& [name, module] : model->named_modules())
    if (std::regex_match(name, fc1)) {
      ++matches;
      CHECK(std::dynamic_pointer_cast<nn::Linear>(module) != nullptr);
    }
  CHECK(matches == 2);

  const Tensor images = random_images({2, 3, 8, 8}, 43);
  const Tensor original = model->forward(images);
  Shape seen;
  int calls = 0;
  auto handle = model->register_forward_hook("blocks.1.mlp.fc1", [&](const Tensor& out) {
    ++calls;
    seen = out.shape();
    return mul(out, 0.0);
  });
  const Tensor steered = model->forward(images);
  CHECK(calls == 1);
  CHECK(seen == Shape{2, 5, 64});
  CHECK(max_abs_difference(steered, original) > 1e-4);
  // Zeroing fc1's output in the last block leaves that MLP adding only fc2's bias (GELU(0) = 0): the
  // same as removing the MLP's weights.
  handle.remove();
  auto fc2 = std::dynamic_pointer_cast<nn::Linear>(model->find_shared("blocks.1.mlp.fc2"));
  {
    NoGrad no_grad;
    fc2->weight.zero_();
  }
  CHECK(max_abs_difference(model->forward(images), steered) < 1e-5);
}

TEST_CASE("ViT dropout acts in training only and evaluation matches a dropout-free twin") {
  auto options = tiny_options();
  options.dropout = 0.3;
  options.attention_dropout = 0.3;
  auto model = models::vit(options);
  auto twin = models::vit(tiny_options());
  twin->load_state_dict(model->state_dict());
  const Tensor images = random_images({2, 3, 8, 8}, 44);

  model->train();
  CHECK(max_abs_difference(model->forward(images), model->forward(images)) > 1e-4);
  model->eval();
  twin->eval();
  for (const auto& [name, module] : model->named_modules()) {
    INFO(name);
    CHECK_FALSE(module->is_training());
  }
  CHECK(max_abs_difference(model->forward(images), model->forward(images)) == 0.0);
  CHECK(max_abs_difference(model->forward(images), twin->forward(images)) < 1e-6);
}

TEST_CASE("ViT initialization is timm's") {
  manual_seed(7);
  auto model = models::vit_tiny({.image_size = 64, .patch_size = 4, .depth = 2, .num_classes = 10});
  const StateDict state = model->state_dict();
  CHECK(state.at("pos_embed").shape() == Shape{1, 257, 192});
  CHECK(mean_and_std(state.at("pos_embed")).second == doctest::Approx(0.02).epsilon(0.02));
  for (double v : state.at("cls_token").to_vector()) CHECK(std::abs(v) < 1e-5);
  const auto fc1 = mean_and_std(state.at("blocks.1.mlp.fc1.weight"));
  CHECK(std::abs(fc1.first) < 1e-3);
  CHECK(fc1.second == doctest::Approx(0.02).epsilon(0.01));
  CHECK(mean_and_std(state.at("blocks.0.attn.qkv.weight")).second == doctest::Approx(0.02).epsilon(0.01));
  CHECK(mean_and_std(state.at("head.weight")).second == doctest::Approx(0.02).epsilon(0.1));
  for (const char* key : {"blocks.1.mlp.fc1.bias", "blocks.0.attn.qkv.bias", "blocks.0.attn.proj.bias", "head.bias",
                          "norm.bias", "blocks.1.norm2.bias"})
    for (double v : state.at(key).to_vector()) CHECK(v == 0.0);
  for (double v : state.at("blocks.1.norm1.weight").to_vector()) CHECK(v == 1.0);
  // The patch conv keeps PyTorch's Conv2d default: U(±1/√fan_in), fan_in = 3·4·4.
  const double bound = 1.0 / std::sqrt(3.0 * 4 * 4);
  for (double v : state.at("patch_embed.proj.weight").to_vector()) REQUIRE(std::abs(v) <= bound);
  CHECK(mean_and_std(state.at("patch_embed.proj.weight")).second == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  CHECK(model->norm->eps == 1e-6);
  CHECK(model->find("blocks.0.mlp.act").extra_repr().find("tanh") == std::string::npos);
}

TEST_CASE("ViT options are validated with the offending value named") {
  check_error([] { models::vit({.image_size = 8, .patch_size = 4, .depth = 2, .heads = 2}); },
              {"VisionTransformer", "width is not set"});
  check_error([] { models::vit({.image_size = 8, .patch_size = 4, .depth = 2, .width = 10, .heads = 3}); },
              {"VisionTransformer", "width 10", "heads 3"});
  check_error([] { models::vit_tiny({.image_size = 30, .patch_size = 4}); }, {"PatchEmbed", "30", "4"});
  check_error([] { models::vit_tiny({.depth = 0}); }, {"VisionTransformer", "depth", "0"});
  check_error([] { models::vit_tiny({.dropout = 1.5}); }, {"VisionTransformer", "dropout", "1.5"});
  auto model = models::vit(tiny_options());
  check_error([&] { model->forward(random_images({1, 3, 16, 16}, 1)); }, {"PatchEmbed", "[1, 3, 16, 16]", "[N, 3, 8, 8]"});
}

TEST_CASE("a tiny ViT fits a small synthetic batch with plain SGD") {
  // Mean pooling over 4 patch tokens: at timm's initialization (std .02 weights) the class token carries
  // almost nothing sample-specific yet, and plain SGD needs far more than 30 steps to change that.
  manual_seed(4);
  auto model = models::vit({.image_size = 8, .in_channels = 1, .patch_size = 4, .depth = 2, .width = 32, .heads = 2,
                            .pooling = models::Pooling::mean, .num_classes = 4});
  const Tensor images = random_images({16, 1, 8, 8}, 51);
  Generator label_generator(52);
  const Tensor labels = randint(0, 4, {16}, {.dtype = DType::i64}, &label_generator);
  const Tensor qkv_before = model->find_shared("blocks.0.attn.qkv")->state_dict().at("weight").clone();
  const auto losses = vireo::testing::fit_batch(
      *model, [&] { return cross_entropy(model->forward(images), labels); }, 30, 0.5);
  INFO("first loss ", losses.front(), ", last ", losses.back());
  CHECK(losses.back() < 0.3 * losses.front());
  // The gradient reached the first block, not only the head.
  CHECK(max_abs_difference(model->find_shared("blocks.0.attn.qkv")->state_dict().at("weight"), qkv_before) > 1e-4);
}

TEST_CASE("gradcheck: models ViT Block") {
  models::Block block(8, 2, 2.0, true, 0.0, 0.0, 1e-6);
  block.to(DType::f64);
  const Tensor x = random_input({2, 3, 8}, 61);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return block(in[0]); }, std::vector<Tensor>{x});
}

TEST_CASE("gradcheck: models ViT") {
  for (models::Pooling pooling : {models::Pooling::cls, models::Pooling::mean}) {
    auto model = models::vit({.image_size = 4, .in_channels = 1, .patch_size = 2, .depth = 1, .width = 8, .heads = 2,
                              .pooling = pooling, .num_classes = 3});
    model->to(DType::f64);
    const Tensor images = random_input({2, 1, 4, 4}, 62);
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return model->forward(in[0]); }, std::vector<Tensor>{images});
  }
}
