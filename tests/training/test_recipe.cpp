// The typed recipe: values and defaults, the resolved recipe, every fault named by key and line, and the
// parts built from it (model options, optimizer groups, schedules converted from epochs to samples).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data_helpers.h"
#include "engine/optim/adam.h"
#include "engine/optim/lars.h"
#include "engine/optim/sgd.h"
#include "gradcheck.h"
#include "models/resnet.h"
#include "models/vit.h"
#include "training/recipe.h"
#include "training/recipe_builders.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;

namespace {

Recipe parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_recipe(text, "recipe.yaml", overrides);
}

const std::string kMinimal = "model:\n  name: resnet18\n";

}  // namespace

TEST_CASE("recipe: a full recipe reads into typed values") {
  const Recipe recipe = parse(
      "task: classification\n"
      "run:\n  dir: /tmp/somewhere\n  seed: 7\n  threads: 2\n  log_every: 10\n  checkpoint_every: 100\n"
      "data:\n  dataset: fashion_mnist\n  batch_size: 256\n  workers: 3\n"
      "  train_transforms:\n    - {name: random_crop, size: 28, padding: 4}\n    - {name: random_horizontal_flip, p: 0.25}\n"
      "  test_transforms:\n    - {name: normalize, mean: 0.5, std: [0.25]}\n"
      "model:\n  name: resnet18\n  width: 0.25\n  stem: cifar\n  zero_init_residual: true\n"
      "optimizer:\n  name: sgd\n  lr: 1e-1\n  momentum: 0.9\n  nesterov: true\n  weight_decay: 5e-4\n"
      "  lr_base_batch_size: 128\n"
      "schedule:\n  name: step\n  milestones_epochs: [10, 20]\n  gamma: 0.2\n"
      "train:\n  epochs: 30\n  label_smoothing: 0.1\n  grad_clip: 5\n  ema: {enabled: true, momentum: 0.99}\n"
      "eval:\n  every_epochs: 5\n");
  CHECK(recipe.run.dir == "/tmp/somewhere");
  CHECK(recipe.run.seed == 7);
  CHECK(recipe.run.threads == 2);
  CHECK(recipe.run.checkpoint_every == 100);
  CHECK(recipe.data.batch_size == 256);
  REQUIRE(recipe.data.train_transforms.size() == 2);
  CHECK(recipe.data.train_transforms[0].name == "random_crop");
  CHECK(recipe.data.train_transforms[0].options.at("padding") == std::vector<double>{4});
  CHECK(recipe.data.train_transforms[1].options.at("p") == std::vector<double>{0.25});
  CHECK(recipe.data.test_transforms[0].options.at("std") == std::vector<double>{0.25});
  // Model options keep the types create_model expects, and the dataset fills in classes and channels.
  CHECK(std::get<double>(recipe.model.options.at("width")) == 0.25);
  CHECK(std::get<std::string>(recipe.model.options.at("stem")) == "cifar");
  CHECK(std::get<bool>(recipe.model.options.at("zero_init_residual")) == true);
  CHECK(std::get<int64_t>(recipe.model.options.at("num_classes")) == 10);
  CHECK(std::get<int64_t>(recipe.model.options.at("in_channels")) == 1);
  CHECK(recipe.optimizer.lr == 0.1);
  CHECK(recipe.optimizer.nesterov);
  CHECK(effective_learning_rate(recipe.optimizer, recipe.data.batch_size) == doctest::Approx(0.1 * 256 / 128));
  CHECK(recipe.schedule.milestones_epochs == std::vector<double>{10, 20});
  CHECK(recipe.train.label_smoothing == 0.1);
  CHECK(recipe.train.ema.enabled);
  CHECK(recipe.train.ema.momentum == 0.99);
  CHECK(recipe.eval.every_epochs == 5);
}

TEST_CASE("recipe: defaults fill the resolved recipe which reads back to the same values") {
  const Recipe recipe = parse_recipe(kMinimal, "/some/where/my_run.yaml");
  CHECK(recipe.run.dir == "runs/my_run");  // named after the recipe file
  CHECK(recipe.data.dataset == "fashion_mnist");
  CHECK(recipe.optimizer.name == "sgd");
  CHECK(recipe.schedule.name == "constant");
  CHECK(recipe.train.epochs == 1);
  const std::string& yaml = recipe.resolved_yaml;
  for (const char* expected : {"dir: runs/my_run", "batch_size: 128", "lr: 0.1", "num_classes: 10", "epochs: 1",
                               "log_every: 50", "name: constant"}) {
    INFO("missing: ", expected, " in\n", yaml);
    CHECK(yaml.find(expected) != std::string::npos);
  }
  const Recipe again = parse_recipe(yaml, "resolved.yaml");
  CHECK(again.resolved_yaml == yaml);
  CHECK(again.run.dir == recipe.run.dir);
  CHECK(again.model.options == recipe.model.options);
}

TEST_CASE("recipe: overrides change values and are named when they are at fault") {
  const Recipe recipe = parse(kMinimal, {"optimizer.lr=0.5", "data.batch_size=32", "run.resume=true",
                                         "model.width=0.5", "data.train_transforms=[{name: random_horizontal_flip}]"});
  CHECK(recipe.optimizer.lr == 0.5);
  CHECK(recipe.data.batch_size == 32);
  CHECK(recipe.run.resume);
  CHECK(std::get<double>(recipe.model.options.at("width")) == 0.5);
  CHECK(recipe.data.train_transforms.size() == 1);
  check_error([] { parse(kMinimal, {"optimizer.lr"}); }, {"'optimizer.lr' is not an override", "key.path=value"});
  check_error([] { parse(kMinimal, {"optimizer.lr=fast"}); },
              {"command line (optimizer.lr=fast)", "optimizer.lr", "expected a number"});
  check_error([] { parse(kMinimal, {"optimizer.lrr=0.1"}); }, {"unknown key optimizer.lrr", "did you mean lr?"});
}

TEST_CASE("recipe: unknown keys wrong types and bad values name the key and line") {
  check_error([] { parse("model:\n  name: resnet18\noptimizer:\n  name: sgd\n  lrr: 0.1\n"); },
              {"recipe.yaml:5", "unknown key optimizer.lrr", "(did you mean lr?)"});
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  batch_size: many\n"); },
              {"recipe.yaml:4", "data.batch_size", "expected a whole number", "'many'"});
  check_error([] { parse("model:\n  name: resnet18\noptimizer:\n  name: sgdd\n"); },
              {"recipe.yaml:4", "optimizer.name", "'sgdd' is not one of: sgd, adam, adamw, lars"});
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  batch_size: -8\n"); },
              {"recipe.yaml:4", "data.batch_size", "greater than 0", "-8"});
  check_error([] { parse("model:\n  name: resnet18\noptimizer:\n  lr: 0\n"); },
              {"recipe.yaml:4", "optimizer.lr", "greater than 0"});
  check_error([] { parse("model:\n  name: resnet18\ntrain:\n  label_smoothing: 1.5\n"); },
              {"recipe.yaml:4", "train.label_smoothing", "[0, 1)"});
  check_error([] { parse("model:\n  name: resnet18\ntrain:\n  ema: {momentum: 2}\n"); },
              {"recipe.yaml:4", "train.ema.momentum", "[0, 1]"});
  check_error([] { parse("model:\n  name: resnet18\nrun:\n  log_every: 0\n"); }, {"run.log_every", "greater than 0"});
  check_error([] { parse("model:\n  name: resnet18\ntrain:\n  epochs: 2\nschedule:\n  name: warmup_cosine\n"
                         "  warmup_epochs: 3\n"); },
              {"recipe.yaml:7", "schedule.warmup_epochs", "not be longer than train.epochs"});
  check_error([] { parse("model:\n  name: resnet18\nschedule:\n  name: step\n  milestones_epochs: [5, 3]\n"); },
              {"recipe.yaml:5", "schedule.milestones_epochs", "increasing"});
  check_error([] { parse("data:\n  dataset: fashion\nmodel:\n  name: resnet18\n"); },
              {"recipe.yaml:2", "data.dataset", "'fashion' is not one of"});
  check_error([] { parse("run:\n  seed: 1\n"); }, {"model", "is required"});
}

TEST_CASE("recipe: options are read only where they apply") {
  // nesterov is an SGD option: under AdamW it is an unknown key, not silently ignored.
  check_error([] { parse("model:\n  name: resnet18\noptimizer:\n  name: adamw\n  nesterov: true\n"); },
              {"recipe.yaml:5", "unknown key optimizer.nesterov"});
  check_error([] { parse("model:\n  name: resnet18\noptimizer:\n  name: sgd\n  nesterov: true\n"); },
              {"optimizer.nesterov", "momentum above 0"});
  // The synthetic section belongs to the synthetic dataset.
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  synthetic: {train_size: 10}\n"); },
              {"recipe.yaml:4", "unknown key data.synthetic"});
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  dataset: image_folder\n"); }, {"data.root", "required"});
}

TEST_CASE("recipe: model names and options are checked against the registry") {
  check_error([] { parse("model:\n  name: resnet19\n"); },
              {"recipe.yaml:2", "model.name", "unknown model 'resnet19'", "did you mean resnet18?", "vit_tiny"});
  check_error([] { parse("model:\n  name: resnet18\n  widht: 0.5\n"); },
              {"recipe.yaml:3", "unknown key model.widht for model resnet18", "did you mean width?", "stem"});
  // A value of the wrong type is refused by create_model; the error comes back to the recipe key.
  const Recipe bad_stem = parse("model:\n  name: resnet18\n  stem: 3\n");
  check_error([&] { make_model(bad_stem.model); }, {"recipe.yaml:3", "model.stem", "must be one of imagenet, cifar"});
  const Recipe bad_width = parse("model:\n  name: resnet18\n\n  width: wide\n");
  check_error([&] { make_model(bad_width.model); }, {"recipe.yaml:4", "model.width", "must be a number"});
  // Integer lists reach the UNet as lists.
  const Recipe unet = parse("task: classification\nmodel:\n  name: ddpm_unet\n  channel_multipliers: [1, 2]\n");
  CHECK(std::get<std::vector<int64_t>>(unet.model.options.at("channel_multipliers")) == std::vector<int64_t>{1, 2});
}

TEST_CASE("recipe: transforms are built by name and bad ones named by line") {
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  train_transforms:\n    - {name: random_flip}\n"); },
              {"recipe.yaml:5", "data.train_transforms.0.name", "unknown transform 'random_flip'"});
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  train_transforms:\n    - name: random_crop\n"
                         "      size: 28\n      pading: 4\n"); },
              {"recipe.yaml:7", "data.train_transforms.0.pading", "has no option 'pading'"});
  check_error([] { parse("model:\n  name: resnet18\ndata:\n  test_transforms:\n    - {name: random_crop}\n"); },
              {"data.test_transforms.0", "needs option 'size'"});
}

TEST_CASE("recipe: the model and optimizer built from a recipe") {
  const Recipe recipe = parse("data:\n  batch_size: 64\nmodel:\n  name: resnet18\n  width: 0.125\n  stem: cifar\n"
                              "optimizer:\n  name: lars\n  lr: 0.2\n  lr_base_batch_size: 256\n  weight_decay: 1.5e-6\n");
  const auto model = make_model(recipe.model);
  auto* resnet = dynamic_cast<models::ResNet*>(model.get());
  REQUIRE(resnet != nullptr);
  CHECK(resnet->num_classes() == 10);
  CHECK(model->find("conv1").named_parameters().front().second.size(1) == 1);  // in_channels from the dataset
  const auto optimizer = make_optimizer(recipe.optimizer, *model, recipe.data.batch_size);
  auto* lars = dynamic_cast<optim::LARS*>(optimizer.get());
  REQUIRE(lars != nullptr);
  // LARS groups: decayed weights, then biases and norms excluded; the lr scaled by 64/256.
  REQUIRE(optimizer->param_groups().size() == 2);
  CHECK(optimizer->param_groups()[0].lr == doctest::Approx(0.05));
  CHECK(optimizer->param_groups()[1].weight_decay == 0.0);
  CHECK(optimizer->param_groups()[1].exclude_from_adaptation);
  int64_t grouped = 0;
  for (const auto& group : optimizer->param_groups()) grouped += static_cast<int64_t>(group.params.size());
  CHECK(grouped == static_cast<int64_t>(model->parameters().size()));

  const Recipe adamw = parse("model:\n  name: vit\n  image_size: 8\n  patch_size: 4\n  depth: 1\n  width: 8\n"
                             "  heads: 2\noptimizer:\n  name: adamw\n  lr: 1e-3\n  betas: [0.8, 0.9]\n");
  const auto vit = make_model(adamw.model);
  const auto adam = make_optimizer(adamw.optimizer, *vit, 128);
  auto* adamw_optimizer = dynamic_cast<optim::AdamW*>(adam.get());
  REQUIRE(adamw_optimizer != nullptr);
  CHECK(adamw_optimizer->options().betas[0] == 0.8);
  CHECK(adamw_optimizer->options().weight_decay == 1e-2);  // AdamW's default
  CHECK(adam->param_groups().size() == 1);
}

TEST_CASE("recipe: schedules are converted from epochs to samples") {
  const int64_t per_epoch = 1000;
  const Recipe cosine = parse(kMinimal + "train:\n  epochs: 10\nschedule:\n  name: warmup_cosine\n"
                                         "  warmup_epochs: 2\n  final_factor: 0.1\n");
  const auto schedule = make_schedule(cosine.schedule, per_epoch, cosine.train.epochs);
  CHECK(schedule->factor(0) == 0.0);
  CHECK(schedule->factor(1000) == doctest::Approx(0.5));   // halfway through the 2-epoch warm-up
  CHECK(schedule->factor(2000) == doctest::Approx(1.0));
  // Halfway through the cosine (epoch 6): 0.1 + 0.9·(1 + cos(π/2))/2.
  CHECK(schedule->factor(6000) == doctest::Approx(0.1 + 0.9 * 0.5));
  CHECK(schedule->factor(10000) == doctest::Approx(0.1));

  const Recipe step = parse(kMinimal + "schedule:\n  name: step\n  milestones_epochs: [1.5, 3]\n  gamma: 0.5\n");
  const auto steps = make_schedule(step.schedule, per_epoch, 4);
  CHECK(steps->factor(1499) == 1.0);
  CHECK(steps->factor(1500) == 0.5);
  CHECK(steps->factor(3000) == 0.25);
}

TEST_CASE("recipe: a missing or malformed recipe file names its path") {
  check_error([] { load_recipe("/nonexistent/recipe.yaml"); }, {"/nonexistent/recipe.yaml", "cannot read"});
  vireo::testing::TempFolder folder("recipe_file");
  const std::string path = folder / "broken.yaml";
  {
    std::ofstream file(path);
    file << "model:\n  name: resnet18\n  width: [0.5\n";
  }
  check_error([&] { load_recipe(path); }, {path.c_str(), "not valid YAML"});
}

TEST_CASE("recipe: scaling applies the optimizer's rule and the EMA rule and lists them") {
  // AdamW at batch 512 on base 128: κ = 4, lr × √κ, 1 − β × κ, ε / √κ, and the model EMA's ρ → ρ⁴.
  const Recipe recipe = parse("data:\n  batch_size: 512\n" + kMinimal +
                              "optimizer:\n  name: adamw\n  lr: 1e-3\n  betas: [0.9, 0.99]\n  eps: 1e-8\n"
                              "train:\n  ema: {enabled: true, momentum: 0.9}\n"
                              "scaling:\n  base_batch_size: 128\n");
  CHECK(recipe.scaling.kappa == doctest::Approx(4.0));
  const OptimizerHyperparameters scaled = optimizer_hyperparameters(recipe.optimizer, 512, recipe.scaling);
  CHECK(scaled.lr == doctest::Approx(2e-3));
  CHECK(scaled.betas[0] == doctest::Approx(0.6));
  CHECK(scaled.betas[1] == doctest::Approx(0.96));
  CHECK(scaled.eps == doctest::Approx(5e-9));
  const std::string& resolved = recipe.resolved_yaml;
  CHECK(resolved.find("#   kappa: 4\n") != std::string::npos);
  CHECK(resolved.find("#   optimizer.lr: 0.001 -> 0.002\n") != std::string::npos);
  CHECK(resolved.find("#   optimizer.betas: [0.9, 0.99] -> [0.6, 0.96]\n") != std::string::npos);
  CHECK(resolved.find("#   train.ema.momentum: 0.9 -> 0.6561\n") != std::string::npos);
  // Without base_batch_size nothing is scaled or listed; with the old key too, the two are refused.
  CHECK(parse(kMinimal).resolved_yaml.find("kappa") == std::string::npos);
  check_error([] { parse(kMinimal + "optimizer:\n  lr_base_batch_size: 256\nscaling:\n  base_batch_size: 256\n"); },
              {"lr_base_batch_size", "scaling.base_batch_size"});
}

TEST_CASE("recipe: the memory switches are read and applied to the model or named by key and line") {
  const std::string vit = "model:\n  name: vit\n  image_size: 8\n  patch_size: 4\n  depth: 2\n  width: 8\n  heads: 2\n";
  const Recipe recipe = parse(vit + "memory:\n  approx_bp: true\n  ms_norm: true\n  checkpoint: blocks\n");
  CHECK(recipe.model.memory.options.approx_bp);
  CHECK(recipe.model.memory.options.ms_norm);
  CHECK(recipe.model.memory.options.checkpoint == models::CheckpointGranularity::blocks);
  const auto model = make_model(recipe.model);
  auto& block = dynamic_cast<models::Block&>(model->find("blocks.1"));
  CHECK(block.checkpointed());
  CHECK(block.norm1->shares_memory());
  CHECK(block.mlp->act->approx_backward);
  CHECK(recipe.resolved_yaml.find("ms_norm: true") != std::string::npos);

  // Off by default; an unknown key, a bad choice, or a switch the model has nothing for is an error at its line.
  CHECK_FALSE(parse(vit).model.memory.options.approx_bp);
  check_error([] { parse("model:\n  name: resnet18\nmemory:\n  approx: true\n"); },
              {"recipe.yaml:4", "unknown key memory.approx"});
  check_error([] { parse("model:\n  name: resnet18\nmemory:\n  checkpoint: layers\n"); },
              {"recipe.yaml:4", "memory.checkpoint", "'layers' is not one of: none, blocks"});
  check_error([] { make_model(parse("model:\n  name: resnet18\n  width: 0.125\nmemory:\n  approx_bp: true\n").model); },
              {"recipe.yaml:5", "memory.approx_bp", "no GELU or SiLU", "activation: silu"});
  check_error([] { make_model(parse("model:\n  name: resnet18\n  width: 0.125\nmemory:\n  ms_norm: true\n").model); },
              {"recipe.yaml:5", "memory.ms_norm", "no LayerNorm that feeds a Linear"});
  const auto silu_resnet = make_model(
      parse("model:\n  name: resnet18\n  width: 0.125\n  activation: silu\nmemory:\n  approx_bp: true\n").model);
  CHECK(dynamic_cast<nn::SiLU&>(silu_resnet->find("layer1.0.relu")).approx_backward);
}

TEST_CASE("recipe: run.device and run.autocast are read and bad values name the key and line") {
  const Recipe plain = parse(kMinimal);
  CHECK(plain.run.device == Device::cpu());
  CHECK_FALSE(plain.run.autocast.has_value());
  const Recipe gpu = parse(kMinimal, {"run.device=cuda:1", "run.autocast=bf16"});
  CHECK(gpu.run.device == Device::cuda(1));
  CHECK(gpu.run.autocast == DType::bf16);
  check_error([] { parse("model:\n  name: resnet18\nrun:\n  device: gpu\n"); },
              {"recipe.yaml:4", "run.device", "unknown device 'gpu'", "cpu, cuda or cuda:N"});
  check_error([] { parse("model:\n  name: resnet18\nrun:\n  autocast: bf16\n"); },
              {"recipe.yaml:4", "run.autocast", "needs run.device: cuda"});
  // f16 is accepted (the trainer adds its dynamic loss scaler), on a GPU only.
  CHECK(parse(kMinimal, {"run.device=cuda", "run.autocast=f16"}).run.autocast == DType::f16);
  check_error([] { parse("model:\n  name: resnet18\nrun:\n  autocast: f16\n"); },
              {"recipe.yaml:4", "run.autocast", "needs run.device: cuda"});
  check_error([] { parse("model:\n  name: resnet18\nrun:\n  device: cuda\n  autocast: fp8\n"); },
              {"recipe.yaml:5", "run.autocast", "unknown autocast 'fp8'"});
}
