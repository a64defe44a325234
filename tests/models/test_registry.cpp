// The model registry: every name builds its model with the options a recipe gives, integral numbers are
// accepted as integers, and unknown names, unknown keys and ill-typed values are errors that name them
// and list what is valid.
#include <algorithm>

#include "model_test_helpers.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"

using namespace vireo;
using vireo::testing::check_error;

TEST_CASE("model_names lists every model in the registry") {
  CHECK(models::model_names() == std::vector<std::string>{"resnet18", "resnet34", "resnet50", "vit_tiny", "vit_small",
                                                          "vit_base", "vit", "ddpm_unet", "p4_resnet"});
  CHECK(models::model_option_names("resnet18") ==
        std::vector<std::string>{"num_classes", "stem", "in_channels", "width", "zero_init_residual", "activation"});
  const auto vit_keys = models::model_option_names("vit");
  CHECK(vit_keys.size() == 13);
  CHECK(std::find(vit_keys.begin(), vit_keys.end(), "attention_dropout") != vit_keys.end());
  check_error([] { models::model_option_names("unet"); }, {"model_option_names", "unknown model 'unet'", "ddpm_unet"});
}

TEST_CASE("create_model builds a ResNet from recipe options") {
  auto model = models::create_model("resnet18", {{"num_classes", 10}, {"stem", "cifar"}, {"in_channels", 1},
                                                 {"width", 0.5}, {"zero_init_residual", true}});
  auto resnet = std::dynamic_pointer_cast<models::ResNet>(model);
  REQUIRE(resnet);
  CHECK(resnet->options.stem == models::Stem::cifar);
  CHECK(resnet->options.in_channels == 1);
  CHECK(resnet->options.width == 0.5);
  CHECK(resnet->options.zero_init_residual);
  CHECK(resnet->num_parameters() ==
        models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.5})->num_parameters());
  auto deeper = std::dynamic_pointer_cast<models::ResNet>(models::create_model("resnet50", {{"width", 0.125}}));
  REQUIRE(deeper);
  CHECK(deeper->block == models::ResNetBlock::bottleneck);
  CHECK(deeper->num_classes() == 1000);
  CHECK(models::create_model("resnet34", {{"num_classes", 0}, {"width", 0.25}})->num_parameters() ==
        models::resnet34({.num_classes = 0, .width = 0.25})->num_parameters());
}

TEST_CASE("create_model builds ViT presets with overrides and a fully custom vit") {
  auto tiny = std::dynamic_pointer_cast<models::VisionTransformer>(models::create_model(
      "vit_tiny", {{"image_size", 32}, {"patch_size", 4}, {"depth", 6}, {"num_classes", 10}, {"layer_norm_eps", 1e-5}}));
  REQUIRE(tiny);
  CHECK(tiny->width == 192);
  CHECK(tiny->depth == 6);
  CHECK(tiny->num_parameters() == 2693578);  // the benchmark's ViT-Tiny (test_vit.cpp)
  auto custom = std::dynamic_pointer_cast<models::VisionTransformer>(models::create_model(
      "vit", {{"image_size", 8}, {"patch_size", 2}, {"depth", 1}, {"width", 12}, {"heads", 3}, {"mlp_ratio", 2},
              {"qkv_bias", false}, {"pooling", "mean"}, {"num_classes", 0}, {"dropout", 0.1},
              {"attention_dropout", 0.0}, {"in_channels", 1}}));
  REQUIRE(custom);
  CHECK(custom->options.pooling == models::Pooling::mean);
  CHECK(custom->options.mlp_ratio == 2.0);
  CHECK_FALSE(custom->cls_token.defined());
  CHECK(custom->forward(zeros({2, 1, 8, 8})).shape() == Shape{2, 12});
  // Presets with a shallow override to keep the test fast: the preset decides width and heads.
  const models::ModelOptions shallow = {{"depth", 1}, {"mlp_ratio", 0.25}, {"image_size", 16}, {"num_classes", 0}};
  auto small = std::dynamic_pointer_cast<models::VisionTransformer>(models::create_model("vit_small", shallow));
  REQUIRE(small);
  CHECK(small->width == 384);
  CHECK(small->heads == 6);
  auto base = std::dynamic_pointer_cast<models::VisionTransformer>(models::create_model("vit_base", shallow));
  REQUIRE(base);
  CHECK(base->width == 768);
  CHECK(base->heads == 12);
}

TEST_CASE("create_model builds the DDPM UNet with list options") {
  auto unet = std::dynamic_pointer_cast<models::UNet>(models::create_model(
      "ddpm_unet", {{"base_channels", 8}, {"channel_multipliers", std::vector<int64_t>{1, 2}},
                    {"attention_levels", std::vector<int64_t>{}}, {"num_res_blocks", 1}, {"groups", 4},
                    {"num_classes", 10}, {"dropout", 0.1}, {"in_channels", 1}, {"out_channels", 2}}));
  REQUIRE(unet);
  CHECK(unet->options.channel_multipliers == std::vector<int64_t>{1, 2});
  CHECK(unet->options.attention_levels.empty());
  CHECK(unet->class_embedding != nullptr);
  CHECK(unet->conv_out->out_channels == 2);
  CHECK(models::create_model("ddpm_unet")->num_parameters() == 3939393);
}

TEST_CASE("integral numbers are accepted where integers are expected") {
  auto model = std::dynamic_pointer_cast<models::ResNet>(
      models::create_model("resnet18", {{"num_classes", 10.0}, {"in_channels", 1.0}, {"width", 0.25}}));
  REQUIRE(model);
  CHECK(model->num_classes() == 10);
  check_error([] { models::create_model("resnet18", {{"num_classes", 2.5}}); },
              {"create_model('resnet18')", "'num_classes'", "an integer", "2.5"});
}

TEST_CASE("create_model names an unknown model and lists the valid names") {
  check_error([] { models::create_model("resnet19", {}); },
              {"create_model", "unknown model 'resnet19'", "resnet18, resnet34, resnet50, vit_tiny, vit_small, vit_base, vit, ddpm_unet, p4_resnet"});
}

TEST_CASE("create_model names an unknown option and lists the valid ones") {
  check_error([] { models::create_model("resnet18", {{"widht", 0.5}}); },
              {"create_model('resnet18')", "unknown option 'widht'",
               "valid options: num_classes, stem, in_channels, width, zero_init_residual"});
  check_error([] { models::create_model("vit_tiny", {{"stem", "cifar"}}); },
              {"create_model('vit_tiny')", "unknown option 'stem'", "patch_size", "pooling"});
  check_error([] { models::create_model("ddpm_unet", {{"width", 2}}); },
              {"create_model('ddpm_unet')", "unknown option 'width'", "channel_multipliers"});
}

TEST_CASE("create_model names ill-typed options with the expected type and the value given") {
  check_error([] { models::create_model("resnet18", {{"width", "half"}}); },
              {"create_model('resnet18')", "option 'width' must be a number", "the string \"half\""});
  check_error([] { models::create_model("resnet18", {{"stem", 3}}); },
              {"option 'stem' must be one of imagenet, cifar", "the integer 3"});
  check_error([] { models::create_model("resnet18", {{"stem", "cifr"}}); },
              {"option 'stem' must be one of imagenet, cifar", "\"cifr\""});
  check_error([] { models::create_model("resnet50", {{"zero_init_residual", 1}}); },
              {"option 'zero_init_residual' must be a boolean", "the integer 1"});
  check_error([] { models::create_model("vit", {{"depth", true}}); },
              {"create_model('vit')", "option 'depth' must be an integer", "the boolean true"});
  check_error([] { models::create_model("vit_small", {{"pooling", "max"}}); },
              {"option 'pooling' must be one of cls, mean", "\"max\""});
  check_error([] { models::create_model("ddpm_unet", {{"channel_multipliers", 2}}); },
              {"option 'channel_multipliers' must be a list of integers", "the integer 2"});
  check_error([] { models::create_model("ddpm_unet", {{"base_channels", std::vector<int64_t>{1, 2}}}); },
              {"option 'base_channels' must be an integer", "the list [1, 2]"});
}

TEST_CASE("create_model passes construction errors through") {
  check_error([] { models::create_model("vit", {{"depth", 2}, {"heads", 2}}); }, {"VisionTransformer", "width is not set"});
  check_error([] { models::create_model("resnet18", {{"width", -1}}); }, {"ResNet", "width", "-1"});
}
