// The trainer on tiny synthetic runs: it learns, it is deterministic, a stopped run resumed from its
// checkpoint logs exactly the metrics of an uninterrupted one, and bad runs are refused with the input
// at fault and no checkpoint left behind.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>

#include <filesystem>
#include <fstream>

#include "data_helpers.h"
#include "gradcheck.h"
#include "run_helpers.h"
#include "training/checkpoint.h"
#include "training/metrics_log.h"
#include "training/recipe.h"
#include "training/trainer.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;
using vireo::testing::deterministic_metric_lines;
using vireo::testing::metric_column;
using vireo::testing::TempFolder;

namespace {

TrainingSummary train_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return train(parse_recipe(text, "tiny.yaml", overrides), {.progress = ProgressStyle::silent});
}

StateDict final_model(const std::string& run_dir) { return load_checkpoint(run_dir + "/" + kCheckpointFile).model; }

void check_same_weights(const StateDict& a, const StateDict& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, tensor] : a) {
    INFO(name);
    CHECK(tensor.to_vector() == b.at(name).to_vector());
  }
}

}  // namespace

TEST_CASE("trainer: a tiny ResNet learns the synthetic classes and writes its run folder") {
  TempFolder folder("trainer_learns");
  const std::string dir = folder / "run";
  const TrainingSummary summary = train_text(vireo::testing::tiny_resnet_recipe(dir, 4));
  CHECK(summary.finished);
  CHECK(summary.steps == 4 * 6);  // 96 examples in batches of 16
  CHECK(summary.epochs_completed == 4);
  REQUIRE(summary.last_evaluation.size() == 2);
  CHECK(summary.last_evaluation[0].first == "test_top1");
  CHECK(summary.last_evaluation[1].first == "ema_test_top1");
  CHECK(summary.last_evaluation[0].second > 0.5);  // chance is 0.25
  CHECK(summary.last_evaluation[1].second > 0.5);
  const std::vector<double> losses = metric_column(dir + "/metrics.jsonl", "loss");
  REQUIRE(losses.size() == 12);  // every 2 steps
  CHECK(losses.back() < 0.8 * losses.front());
  CHECK(metric_column(dir + "/metrics.jsonl", "test_top1").size() == 4);  // every epoch
  CHECK(metric_column(dir + "/metrics.jsonl", "img_per_s").size() == 12);
  // The lr logged follows the warm-up: rising through epoch 1.
  const std::vector<double> lrs = metric_column(dir + "/metrics.jsonl", "lr");
  CHECK(lrs[0] < lrs[1]);
  CHECK(lrs[1] < lrs[2]);
  // The resolved recipe reads back as the recipe that ran.
  const Recipe resolved = load_recipe(dir + "/recipe.resolved.yaml");
  CHECK(resolved.run.dir == dir);
  CHECK(resolved.train.ema.enabled);
  const Checkpoint checkpoint = load_checkpoint(dir + "/" + kCheckpointFile);
  CHECK(checkpoint.position == TrainingPosition{.epoch = 4, .batch = 0, .samples_seen = 4 * 96, .step = 24});
  CHECK(checkpoint.recipe_yaml == resolved.resolved_yaml);
  CHECK_FALSE(checkpoint.ema.empty());
}

TEST_CASE("trainer: the same recipe seed and threads give a bit-identical loss curve") {
  TempFolder folder("trainer_deterministic");
  for (const auto& recipe : {vireo::testing::tiny_resnet_recipe(folder / "a", 2), vireo::testing::tiny_vit_recipe(folder / "a", 2)}) {
    std::filesystem::remove_all(folder / "a");
    std::filesystem::remove_all(folder / "b");
    train_text(recipe);
    train_text(recipe, {"run.dir=" + (folder / "b")});
    const auto first = deterministic_metric_lines(folder / "a/metrics.jsonl");
    const auto second = deterministic_metric_lines(folder / "b/metrics.jsonl");
    REQUIRE(first.size() > 5);
    CHECK(first == second);
    check_same_weights(final_model(folder / "a"), final_model(folder / "b"));
    // Another seed is another run.
    train_text(recipe, {"run.dir=" + (folder / "c"), "run.seed=11"});
    CHECK(metric_column(folder / "a/metrics.jsonl", "loss") != metric_column(folder / "c/metrics.jsonl", "loss"));
  }
}

TEST_CASE("trainer: the EMA model does not change the training curve") {
  TempFolder folder("trainer_ema");
  const std::string recipe = vireo::testing::tiny_resnet_recipe(folder / "with", 2);
  train_text(recipe);
  train_text(recipe, {"run.dir=" + (folder / "without"), "train.ema.enabled=false"});
  CHECK(metric_column(folder / "with/metrics.jsonl", "loss") == metric_column(folder / "without/metrics.jsonl", "loss"));
  CHECK(metric_column(folder / "with/metrics.jsonl", "ema_test_top1").size() == 2);
  CHECK(metric_column(folder / "without/metrics.jsonl", "ema_test_top1").empty());
}

TEST_CASE("trainer: a run stopped and resumed logs exactly the uninterrupted metrics") {
  TempFolder folder("trainer_resume");
  struct Case {
    std::string recipe;
    int64_t stop;
  };
  // Mid-epoch between checkpoints (the ResNet checkpoints every 4 steps, logs every 2), at an epoch's
  // last batch (before its evaluation), and the ViT with dropout mid-epoch.
  for (const Case& c : {Case{vireo::testing::tiny_resnet_recipe(folder / "full", 3), 7},
                        Case{vireo::testing::tiny_resnet_recipe(folder / "full", 3), 12},
                        Case{vireo::testing::tiny_vit_recipe(folder / "full", 2), 3}}) {
    CAPTURE(c.stop);
    std::filesystem::remove_all(folder / "full");
    std::filesystem::remove_all(folder / "parts");
    const TrainingSummary full = train_text(c.recipe);
    const std::string parts = "run.dir=" + (folder / "parts");
    const TrainingSummary first = train_text(c.recipe, {parts, "run.stop_after_steps=" + std::to_string(c.stop)});
    CHECK_FALSE(first.finished);
    CHECK(first.steps == c.stop);
    const TrainingSummary rest = train_text(c.recipe, {parts, "run.resume=true"});
    CHECK(rest.finished);
    CHECK(rest.steps == full.steps);
    CHECK(rest.last_evaluation == full.last_evaluation);
    CHECK(deterministic_metric_lines(folder / "parts/metrics.jsonl") ==
          deterministic_metric_lines(folder / "full/metrics.jsonl"));
    check_same_weights(final_model(folder / "parts"), final_model(folder / "full"));
  }
}

TEST_CASE("trainer: resuming a finished run adds nothing") {
  TempFolder folder("trainer_finished");
  const std::string recipe = vireo::testing::tiny_resnet_recipe(folder / "run", 1);
  const TrainingSummary done = train_text(recipe);
  const std::string before = vireo::testing::read_text(folder / "run/metrics.jsonl");
  const TrainingSummary again = train_text(recipe, {"run.resume=true"});
  CHECK(again.steps == done.steps);
  CHECK(again.last_evaluation == done.last_evaluation);
  CHECK(vireo::testing::read_text(folder / "run/metrics.jsonl") == before);
}

TEST_CASE("trainer: max_steps ends the run early with an evaluation") {
  TempFolder folder("trainer_max_steps");
  const TrainingSummary summary = train_text(vireo::testing::tiny_resnet_recipe(folder / "run", 3), {"train.max_steps=5"});
  CHECK(summary.finished);
  CHECK(summary.steps == 5);
  CHECK(summary.last_evaluation.size() == 2);
  const std::vector<Metrics> lines = read_metrics(folder / "run/metrics.jsonl");
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back()[0] == std::pair<std::string, double>{"step", 5});
  CHECK(lines.back()[2].first == "test_top1");
}

TEST_CASE("trainer: max_steps at an evaluated epoch's end logs that step's evaluation once") {
  TempFolder folder("trainer_max_steps_epoch_end");
  // 96 images in batches of 16: epoch 1 ends at step 6, where the cap also stops the run.
  const TrainingSummary summary = train_text(vireo::testing::tiny_resnet_recipe(folder / "run", 3), {"train.max_steps=6"});
  CHECK(summary.steps == 6);
  int evaluations_at_6 = 0;
  for (const Metrics& line : read_metrics(folder / "run/metrics.jsonl"))
    for (const auto& [name, value] : line) evaluations_at_6 += name == "test_top1" && line[0].second == 6.0;
  CHECK(evaluations_at_6 == 1);
  CHECK(summary.last_evaluation.size() == 2);  // test_top1 and ema_test_top1
}

TEST_CASE("trainer: a checkpoint that does not fit the recipe is refused naming the key") {
  TempFolder folder("trainer_wrong_checkpoint");
  const std::string recipe = vireo::testing::tiny_resnet_recipe(folder / "run", 1);
  train_text(recipe);
  check_error([&] { train_text(recipe, {"run.resume=true", "model.width=0.125"}); },
              {"checkpoint.safetensors", "model.bn1.bias has shape [4] in the checkpoint but [8]",
               "resnet18"});
  check_error([&] { train_text(recipe, {"run.resume=true", "run.dir=" + (folder / "empty")}); },
              {"empty/checkpoint.safetensors", "no checkpoint"});
  // A torn checkpoint.
  const std::string path = folder / "run/checkpoint.safetensors";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  check_error([&] { train_text(recipe, {"run.resume=true"}); }, {path.c_str()});
}

TEST_CASE("trainer: bad data and an unwritable run folder are named and leave no checkpoint") {
  TempFolder folder("trainer_bad_inputs");
  const std::string recipe = vireo::testing::tiny_resnet_recipe(folder / "run", 1);

  // A run folder under a file.
  vireo::testing::write_text(folder / "a_file", "x");
  check_error([&] { train_text(recipe, {"run.dir=" + (folder / "a_file/run")}); }, {"a_file/run", "run folder"});

  // A dataset root without the files, and a truncated IDX file.
  const std::string fashion = vireo::testing::tiny_resnet_recipe(folder / "run", 1, "fashion_mnist", "");
  check_error([&] { train_text(fashion, {"data.root=/nonexistent"}); }, {"/nonexistent"});
  const std::string root = folder / "idx";
  std::filesystem::create_directories(root);
  // Ten labels, and an images file announcing 10 images of 28×28 but holding 100 bytes of them.
  std::vector<char> labels = {0, 0, 8, 1, 0, 0, 0, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<char> images = {0, 0, 8, 3, 0, 0, 0, 10, 0, 0, 0, 28, 0, 0, 0, 28};
  images.resize(images.size() + 100, 7);
  for (const auto& [name, bytes] : {std::pair{"train-labels-idx1-ubyte", labels}, std::pair{"train-images-idx3-ubyte", images}}) {
    std::ofstream file(root + "/" + name, std::ios::binary);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  check_error([&] { train_text(fashion, {"data.root=" + root}); }, {"train-images-idx3-ubyte"});
  CHECK_FALSE(vireo::testing::holds_checkpoint_files(folder / "run"));

  // An image folder with a corrupt image: found when its batch is built, named with its path.
  const std::string image_root = folder / "images";
  for (const char* split : {"train", "test"})
    for (const char* label : {"a", "b"}) {
      std::filesystem::create_directories(image_root + "/" + split + "/" + label);
      std::vector<unsigned char> pixels(8 * 8 * 3, static_cast<unsigned char>(label[0] == 'a' ? 30 : 220));
      for (int i = 0; i < 4; ++i)
        REQUIRE(stbi_write_png((image_root + "/" + split + "/" + label + "/" + std::to_string(i) + ".png").c_str(), 8, 8,
                               3, pixels.data(), 24));
    }
  vireo::testing::write_text(image_root + "/train/b/broken.png", "this is not a PNG");
  const std::string folder_recipe = vireo::testing::tiny_resnet_recipe(folder / "run", 1, "image_folder", "");
  const std::vector<std::string> folder_data = {"data.root=" + image_root, "model.num_classes=2", "data.batch_size=3"};
  check_error([&] { train_text(folder_recipe, folder_data); }, {"broken.png"});
  CHECK_FALSE(vireo::testing::holds_checkpoint_files(folder / "run"));
  // Without the broken file the same folder trains.
  std::filesystem::remove(image_root + "/train/b/broken.png");
  CHECK(train_text(folder_recipe, folder_data).finished);
}

TEST_CASE("trainer: a fresh run replaces an earlier run and a diverging one stops with its step") {
  TempFolder folder("trainer_fresh");
  const std::string recipe = vireo::testing::tiny_resnet_recipe(folder / "run", 1);
  train_text(recipe);
  REQUIRE(std::filesystem::exists(folder / "run/checkpoint.safetensors"));
  // Not a resume: the earlier checkpoint goes (it would not match the new log), and a loss that blows up
  // is refused at the step it happened.
  check_error([&] { train_text(recipe, {"optimizer.lr=1e12", "train.ema.enabled=false"}); },
              {"training diverged", "at step", "optimizer.lr"});
  CHECK_FALSE(vireo::testing::holds_checkpoint_files(folder / "run"));
}
