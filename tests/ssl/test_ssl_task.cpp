// Self-supervised training through the Trainer (ssl/ssl_task.h): each method trains from a tiny recipe
// with a finite logged loss and its own metrics, a BYOL run stopped and resumed logs exactly the
// uninterrupted metrics (EMA target included), the feature evaluations are logged, the EMA scaling rule
// shows in the resolved recipe and in the momentum used, and bad method sections are refused by key and line.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "ssl/ssl_task.h"
#include "ssl/tiny_ssl_recipes.h"
#include "training/checkpoint.h"
#include "training/checkpoint_evaluation.h"
#include "training/data_helpers.h"
#include "training/metrics_log.h"
#include "training/recipe.h"
#include "training/run_helpers.h"
#include "training/trainer.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;
using vireo::testing::deterministic_metric_lines;
using vireo::testing::metric_column;
using vireo::testing::TempFolder;
using vireo::testing::tiny_ssl_recipe;

namespace {

Recipe parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  ssl::register_tasks();
  return parse_recipe(text, "tiny_ssl.yaml", overrides);
}

TrainingSummary train_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return train(parse(text, overrides), {.progress = ProgressStyle::silent});
}

// The method's own metrics, logged with every loss line.
std::vector<std::string> method_metrics(const std::string& method) {
  std::vector<std::string> names;
  if (method == "byol" || method == "byol_er" || method == "dino" || method == "dino_er") names.push_back("momentum");
  if (method == "dino" || method == "dino_er") names.push_back("teacher_temperature");
  if (method.ends_with("_er")) {
    names.push_back("entropy");
    names.push_back("reconstruction");
  }
  if (method == "duet") names = {"content_loss", "group_loss", "group_accuracy"};
  return names;
}

}  // namespace

TEST_CASE("ssl task: every method trains through the trainer with a finite loss and its metrics logged") {
  TempFolder folder("ssl_task_methods");
  for (const std::string method : {"byol", "byol_er", "simclr", "simclr_er", "dino", "dino_er", "duet", "hssl",
                                   "hssl_ablation", "hssl_translation"}) {
    INFO("method: ", method);
    const std::string dir = folder / method;
    const TrainingSummary summary = train_text(tiny_ssl_recipe(dir, method));
    CHECK(summary.finished);
    CHECK(summary.steps == 8);
    const std::string metrics = dir + "/metrics.jsonl";
    const std::vector<double> losses = metric_column(metrics, "loss");
    REQUIRE(losses.size() == 8);
    for (double loss : losses) CHECK(std::isfinite(loss));
    for (const std::string& name : method_metrics(method)) {
      INFO("metric: ", name);
      const std::vector<double> values = metric_column(metrics, name);
      REQUIRE(values.size() == 8);
      for (double value : values) CHECK(std::isfinite(value));
    }
    // The feature evaluations: the floor once, kNN every epoch, the linear probe at the end — accuracies.
    const std::vector<double> floor = metric_column(metrics, "floor_linear_top1"), knn = metric_column(metrics, "knn_top1"),
                              linear = metric_column(metrics, "linear_top1");
    REQUIRE(floor.size() == 1);
    REQUIRE(knn.size() == 2);
    REQUIRE(linear.size() == 1);
    for (double accuracy : {floor[0], knn[0], knn[1], linear[0]}) {
      CHECK(accuracy >= 0.0);
      CHECK(accuracy <= 1.0);
    }
    REQUIRE(summary.last_evaluation.size() == 2);
    CHECK(summary.last_evaluation[0].first == "knn_top1");
    CHECK(summary.last_evaluation[1].first == "linear_top1");
  }
}

TEST_CASE("ssl task: the BYOL teacher follows its cosine momentum and the loss falls") {
  TempFolder folder("ssl_task_byol_momentum");
  train_text(tiny_ssl_recipe(folder / "run", "byol"), {"train.epochs=4"});
  const std::string metrics = folder / "run/metrics.jsonl";
  // τ(s) = 1 − (1 − 0.9)·(cos(π·s/S) + 1)/2 at the samples seen before each step (S = 4 epochs of 64).
  const std::vector<double> momenta = metric_column(metrics, "momentum");
  REQUIRE(momenta.size() == 16);
  for (size_t step = 0; step < momenta.size(); ++step) {
    const double samples = 16.0 * static_cast<double>(step);
    CHECK(momenta[step] == doctest::Approx(1.0 - 0.1 * (std::cos(M_PI * samples / 256.0) + 1.0) / 2.0));
  }
  const std::vector<double> losses = metric_column(metrics, "loss");
  CHECK(losses.back() < losses.front());
}

TEST_CASE("ssl task: a BYOL run stopped and resumed logs exactly the uninterrupted metrics") {
  TempFolder folder("ssl_task_resume");
  const std::string recipe = tiny_ssl_recipe(folder / "full", "byol");
  train_text(recipe);
  const std::string parts = "run.dir=" + (folder / "parts");
  const TrainingSummary first = train_text(recipe, {parts, "run.stop_after_steps=5"});
  CHECK_FALSE(first.finished);
  const TrainingSummary second = train_text(recipe, {parts, "run.resume=true"});
  CHECK(second.finished);
  CHECK(deterministic_metric_lines(folder / "parts/metrics.jsonl") ==
        deterministic_metric_lines(folder / "full/metrics.jsonl"));
  // The checkpoint holds the EMA target, and it ends bit-identical to the uninterrupted run's.
  const StateDict full = load_checkpoint(folder / "full/" + kCheckpointFile).model;
  const StateDict resumed = load_checkpoint(folder / "parts/" + kCheckpointFile).model;
  REQUIRE(full.count("target.backbone.conv1.weight") == 1);
  CHECK(full.size() == resumed.size());
  for (const auto& [name, tensor] : full) {
    INFO("tensor: ", name);
    REQUIRE(resumed.count(name) == 1);
    CHECK(resumed.at(name).to_vector() == tensor.to_vector());
  }
}

TEST_CASE("ssl task: vireo eval of a checkpoint gives the run's logged kNN and linear-probe top-1") {
  TempFolder folder("ssl_task_eval");
  train_text(tiny_ssl_recipe(folder / "run", "simclr"));
  const std::string metrics = folder / "run/metrics.jsonl";
  const std::vector<double> knn = metric_column(metrics, "knn_top1");
  const std::vector<double> linear = metric_column(metrics, "linear_top1");
  REQUIRE(!knn.empty());
  REQUIRE(linear.size() == 1);
  const CheckpointEvaluation result = evaluate_checkpoint(folder / "run/" + kCheckpointFile);
  REQUIRE(result.features.size() == 2);
  CHECK(result.features[0].first == "knn_top1");
  CHECK(result.features[0].second == knn.back());     // the same backbone, features and probe seed
  CHECK(result.features[1].first == "linear_top1");
  CHECK(result.features[1].second == linear.front());
  // Overrides reach the evaluation: a probe of one epoch on the first 8 examples generally differs, and is
  // a fraction of the 32 test images.
  const CheckpointEvaluation short_probe = evaluate_checkpoint(
      folder / "run/" + kCheckpointFile, {"eval.train_examples=8", "eval.linear_probe.epochs=1"});
  REQUIRE(short_probe.features.size() == 2);
  const double correct = short_probe.features[1].second * 32.0;
  CHECK(correct == doctest::Approx(std::round(correct)));
  // --untrained: a fresh initialization drawn as the run drew its own — so exactly the run's floor.
  const std::vector<double> floor = metric_column(metrics, "floor_linear_top1");
  REQUIRE(floor.size() == 1);
  const CheckpointEvaluation untrained =
      evaluate_checkpoint(folder / "run/" + kCheckpointFile, {}, {.untrained = true});
  REQUIRE(untrained.features.size() == 2);
  CHECK(untrained.step == 0);
  CHECK(untrained.features[1].second == floor.front());
  // A missing checkpoint is refused, naming the file.
  check_error([&] { evaluate_checkpoint(folder / "missing.safetensors"); }, {"missing.safetensors"});
}

TEST_CASE("ssl task: the resolved recipe lists kappa and the scaled lr and momenta") {
  TempFolder folder("ssl_task_scaling");
  // batch 16 at base 64: κ = 0.25; LARS scales the lr linearly, the EMA rule takes ρ to ρ^κ.
  const std::string recipe = tiny_ssl_recipe(folder / "run", "dino", "scaling: {base_batch_size: 64}\n");
  train_text(recipe);
  const std::string resolved = vireo::testing::read_text(folder / "run/recipe.resolved.yaml");
  CHECK(resolved.find("#   kappa: 0.25\n") != std::string::npos);
  CHECK(resolved.find("#   optimizer.lr: 0.2 -> 0.05\n") != std::string::npos);
  const double teacher = std::pow(0.9, 0.25), center = std::pow(0.9, 0.25);
  char line[128];
  std::snprintf(line, sizeof line, "#   method.base_momentum: 0.9 -> %.12g\n", teacher);
  CHECK(resolved.find(line) != std::string::npos);
  std::snprintf(line, sizeof line, "#   method.center_momentum: 0.9 -> %.12g\n", center);
  CHECK(resolved.find(line) != std::string::npos);
  // What ran: the scaled lr (the warm-up's end, step 5) and the scaled teacher momentum at sample 0.
  const std::string metrics = folder / "run/metrics.jsonl";
  CHECK(metric_column(metrics, "momentum").front() == doctest::Approx(teacher));
  CHECK(metric_column(metrics, "lr")[4] == doctest::Approx(0.05));
  // The resolved recipe still reads as the recipe that ran.
  CHECK(parse(resolved).scaling.kappa == doctest::Approx(0.25));

  // scaling.ema_rule false: the lr is still scaled, the momenta are not.
  train_text(recipe, {"run.dir=" + (folder / "off"), "scaling.ema_rule=false"});
  const std::string unscaled = vireo::testing::read_text(folder / "off/recipe.resolved.yaml");
  CHECK(unscaled.find("#   optimizer.lr: 0.2 -> 0.05\n") != std::string::npos);
  CHECK(unscaled.find("#   method.base_momentum: 0.9 -> 0.9  (scaling.ema_rule false: unscaled)\n") != std::string::npos);
  CHECK(metric_column(folder / "off/metrics.jsonl", "momentum").front() == doctest::Approx(0.9));
}

TEST_CASE("ssl task: bad method sections and views are refused naming the key and line") {
  const std::string recipe = tiny_ssl_recipe("/tmp/unused", "byol");
  check_error([&] { parse(recipe, {"method.name=byl"}); }, {"method.name", "byl", "byol"});
  // An option of another method (temperature is SimCLR's) is an unknown key for BYOL, with its line.
  check_error([&] { parse(recipe, {"method.temperature=0.1"}); }, {"unknown key method.temperature"});
  std::string misspelled = recipe;
  misspelled.replace(misspelled.find("base_momentum"), 13, "base_momentun");
  check_error([&] { parse(misspelled); }, {"tiny_ssl.yaml:12", "method.base_momentun", "base_momentum"});
  check_error([&] { parse(recipe, {"method.base_momentum=1.5"}); }, {"method.base_momentum", "[0, 1]"});
  // BYOL takes two views.
  std::string one_view = recipe;
  one_view.erase(one_view.find("    - transforms"), one_view.find("\n", one_view.find("    - transforms")) + 1 -
                                                     one_view.find("    - transforms"));
  check_error([&] { parse(one_view); }, {"data.views", "exactly 2 views", "lists 1"});
  // H-SSL takes one view, but exactly two when its pairs are across views; a bad pairs value names the choices.
  const std::string hssl = tiny_ssl_recipe("/tmp/unused", "hssl");
  check_error([&] { parse(hssl, {"method.pairs=across_views"}); }, {"data.views", "exactly 2 views", "lists 1"});
  check_error([&] { parse(hssl, {"method.pairs=between"}); }, {"method.pairs", "within_view", "across_views"});
  // No method section at all; and the method keeps its own EMA, so train.ema is refused.
  std::string no_method = recipe;
  no_method.erase(no_method.find("method:"), no_method.find("\n", no_method.find("method:")) + 1 - no_method.find("method:"));
  check_error([&] { parse(no_method); }, {"method", "required for task ssl"});
  check_error([&] { parse(recipe, {"train.ema.enabled=true"}); }, {"train.ema", "own EMA teacher"});
  check_error([&] { parse(recipe, {"scaling.base_batch_size=64", "optimizer.lr_base_batch_size=64"}); },
              {"lr_base_batch_size", "scaling.base_batch_size"});
}

TEST_CASE("ssl task: the ER methods read entropy_weight (1 by default) and refuse a negative one") {
  for (const std::string method : {"byol_er", "simclr_er", "dino_er"}) {
    INFO("method: ", method);
    const std::string recipe = tiny_ssl_recipe("/tmp/unused", method);
    // The weight the method's own options received.
    auto weight_read = [&](const Recipe& parsed) {
      const auto* read = dynamic_cast<const ssl::MethodRecipe*>(parsed.task_options.get());
      REQUIRE(read != nullptr);
      return method == "byol_er" ? read->byol.entropy_weight
                                 : method == "simclr_er" ? read->simclr.entropy_weight : read->dino.entropy_weight;
    };
    CHECK(weight_read(parse(recipe)) == 1.0);
    CHECK(weight_read(parse(recipe, {"method.entropy_weight=0"})) == 0.0);
    check_error([&] { parse(recipe, {"method.entropy_weight=-1"}); }, {"method.entropy_weight", "0 or more"});
  }
  // Not an option of the methods without the entropy term.
  check_error([&] { parse(tiny_ssl_recipe("/tmp/unused", "byol"), {"method.entropy_weight=0"}); },
              {"unknown key method.entropy_weight"});
}

TEST_CASE("ssl task: every recipe under training/recipes/ssl reads and names its method") {
  ssl::register_tasks();
  struct Expected {
    std::string method;
    size_t views;
    bool pairs_across_views = false;  // H-SSL's method.pairs: across_views
    bool translation_fibers = false;  // H-SSL's method.fibers: translation
    double kappa = 1.0;               // data.batch_size / scaling.base_batch_size
  };
  // Every file in the folder, with the method it trains, its views and its κ (a new recipe must be added here).
  const std::map<std::string, Expected> expected = {
      {"byol", {"byol", 2, false, false, 0.25}},  {"byol_er", {"byol_er", 2}},     {"simclr", {"simclr", 2}},
      {"simclr_er", {"simclr_er", 2}}, {"dino", {"dino", 2}},     {"dino_er", {"dino_er", 2}},
      {"dino_multicrop", {"dino", 4}},
      {"duet", {"duet", 2}},     {"hssl", {"hssl", 1}},           {"hssl_ablation", {"hssl", 1}},
      {"simclr_hssl_baseline", {"simclr", 2}}, {"hssl_views", {"hssl", 2, true}}, {"simclr_hssl_turns", {"simclr", 2}},
      {"hssl_translation", {"hssl", 2, true, true}}};
  const std::filesystem::path folder = std::string(VIREO_SOURCE_DIR) + "/training/recipes/ssl";
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    const std::string stem = entry.path().stem().string();
    INFO("recipe: ", entry.path().string());
    REQUIRE(expected.count(stem) == 1);
    ++files;
    const Recipe recipe = load_recipe(entry.path().string());
    CHECK(recipe.task == "ssl");
    CHECK(recipe.data.dataset == "fashion_mnist");
    const auto* read = dynamic_cast<const ssl::MethodRecipe*>(recipe.task_options.get());
    REQUIRE(read != nullptr);
    CHECK(read->name == expected.at(stem).method);
    CHECK(recipe.data.views.size() == expected.at(stem).views);
    CHECK(recipe.scaling.kappa == doctest::Approx(expected.at(stem).kappa));
    CHECK(read->hssl.pairs_across_views == expected.at(stem).pairs_across_views);
    CHECK((read->hssl.fibers == ssl::HsslFibers::translation) == expected.at(stem).translation_fibers);
  }
  CHECK(files == expected.size());
}

TEST_CASE("ssl task: DUET trains on each transformation's drawn parameter") {
  TempFolder folder("ssl_task_duet_transformations");
  // crop_scale reads random_resized_crop's width, flip random_horizontal_flip's flipped (both in every view).
  for (const std::string transformation : {"crop_scale", "flip"}) {
    INFO("transformation: ", transformation);
    const std::string dir = folder / transformation;
    train_text(tiny_ssl_recipe(dir, "duet"), {"method.transformation=" + transformation, "train.epochs=1"});
    const std::vector<double> group = metric_column(dir + "/metrics.jsonl", "group_loss"),
                              accuracy = metric_column(dir + "/metrics.jsonl", "group_accuracy");
    REQUIRE(group.size() == 4);
    REQUIRE(accuracy.size() == 4);
    for (size_t step = 0; step < group.size(); ++step) {
      CHECK(group[step] >= 0.0);
      CHECK(group[step] <= std::log(2.0) + 1e-9);  // a Jensen–Shannon divergence
      CHECK(accuracy[step] >= 0.0);
      CHECK(accuracy[step] <= 1.0);
    }
  }
}

TEST_CASE("ssl task: DUET's parameters are each view's drawn angle or crop fraction or flip") {
  // Two views of two images; each view's pipeline drew a rotation, a crop (of a 28 or 14 px wide source)
  // and a flip.
  data::Batch batch;
  batch.views = {Tensor::empty({2, 1, 8, 8}), Tensor::empty({2, 1, 8, 8})};
  batch.indices = {0, 1};
  const double angles[2][2] = {{-170.0, 30.0}, {90.0, 0.0}}, widths[2][2] = {{14.0, 7.0}, {28.0, 21.0}},
               sources[2][2] = {{28.0, 14.0}, {28.0, 28.0}}, flips[2][2] = {{1.0, 0.0}, {0.0, 1.0}};
  batch.drawn.assign(2, std::vector<data::DrawnParameters>(2));
  for (int v = 0; v < 2; ++v)
    for (int i = 0; i < 2; ++i) {
      data::DrawnParameters& drawn = batch.drawn[v][i];
      drawn.record("random_resized_crop", "width", widths[v][i]);
      drawn.record("random_resized_crop", "source_width", sources[v][i]);
      drawn.record("random_horizontal_flip", "flipped", flips[v][i]);
      drawn.record("random_rotation", "angle", angles[v][i]);
    }
  const auto packed = [&](ssl::DuetTransformation transformation) {
    const std::vector<Tensor> parameters = ssl::duet_transformation_parameters(batch, {.transformation = transformation});
    REQUIRE(parameters.size() == 2);
    std::vector<std::vector<double>> values;
    for (const Tensor& view : parameters) {
      CHECK(view.shape() == Shape{2, 1});
      values.push_back(view.to_vector());
    }
    return values;
  };
  const auto rotation = packed(ssl::DuetTransformation::rotation);
  const auto crop = packed(ssl::DuetTransformation::crop_scale);
  const auto flip = packed(ssl::DuetTransformation::flip);
  for (int v = 0; v < 2; ++v)
    for (int i = 0; i < 2; ++i) {
      CHECK(rotation[v][i] == doctest::Approx(angles[v][i]));
      CHECK(crop[v][i] == doctest::Approx(widths[v][i] / sources[v][i]));  // θ = 1 − this, image_size 1
      CHECK(flip[v][i] == flips[v][i]);
    }
}

TEST_CASE("ssl task: DUET and H-SSL recipes that do not fit are refused naming the key and line") {
  // Views without the transform DUET's target needs: the first view's transforms, at its line (9).
  const std::string duet = tiny_ssl_recipe("/tmp/unused", "duet");
  std::string unrotated = duet;
  unrotated.erase(unrotated.find("{name: random_rotation"), std::string("{name: random_rotation, degrees: [-180, 180]}, ").size());
  check_error([&] { parse(unrotated); },
              {"tiny_ssl.yaml:9", "data.views.0.transforms", "random_rotation", "method.transformation rotation"});
  check_error([&] { parse(duet, {"method.transformation=scale"}); }, {"method.transformation", "crop_scale"});
  check_error([&] { parse(duet, {"method.groups=-1"}); }, {"method.groups", "0"});
  check_error([&] { parse(duet, {"method.group_weigth=10"}); }, {"unknown key method.group_weigth", "group_weight"});
  // With G = 0 DUET is SimCLR and needs no parameters.
  CHECK(dynamic_cast<const ssl::MethodRecipe*>(parse(unrotated, {"method.groups=0"}).task_options.get())->duet.groups == 0);
  // Rotation fibers on a plain ResNet: model.name, at the model's line (10).
  std::string plain = tiny_ssl_recipe("/tmp/unused", "hssl");
  plain.replace(plain.find("model: {"), plain.find("\n", plain.find("model: {")) - plain.find("model: {"),
                "model: {name: resnet18, width: 0.0625, stem: cifar}");
  check_error([&] { parse(plain); }, {"tiny_ssl.yaml:10", "model.name", "resnet18", "rotation fibers", "p4_resnet"});
  std::string vit = plain;
  vit.replace(vit.find("model: {"), vit.find("\n", vit.find("model: {")) - vit.find("model: {"), "model: {name: vit_tiny}");
  check_error([&] { parse(vit, {"method.fibers=translation"}); }, {"model.name", "vit_tiny", "translation fibers"});
  check_error([&] { parse(plain, {"method.fibers=scale"}); }, {"method.fibers", "translation"});
}

TEST_CASE("ssl task: DINO's teacher temperature warms up over the epochs the recipe gives") {
  TempFolder folder("ssl_task_dino_warmup");
  // τ_t(s) = 0.02 + (0.04 − 0.02)·s/S over S = 1 epoch = 64 samples, then 0.04.
  train_text(tiny_ssl_recipe(folder / "run", "dino"), {"method.warmup_teacher_temperature=0.02"});
  const std::vector<double> temperatures = metric_column(folder / "run/metrics.jsonl", "teacher_temperature");
  REQUIRE(temperatures.size() == 8);
  for (size_t step = 0; step < temperatures.size(); ++step) {
    const double samples = 16.0 * static_cast<double>(step);
    CHECK(temperatures[step] == doctest::Approx(samples < 64.0 ? 0.02 + 0.02 * samples / 64.0 : 0.04));
  }
}
