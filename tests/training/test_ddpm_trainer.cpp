// DDPM training through the Trainer (task: ddpm) on a tiny UNet and synthetic 8×8 images: the test loss
// falls, the metrics log has its keys and the sample grids their size, a stopped run resumed from its
// checkpoint logs exactly the uninterrupted metrics (and draws the same grid, byte for byte), and the
// diffusion recipe keys are checked where they are read.
#include <doctest/doctest.h>

#include <filesystem>

#include "data_helpers.h"
#include "gradcheck.h"
#include "run_helpers.h"
#include "training/checkpoint.h"
#include "training/data/image_io.h"
#include "training/metrics_log.h"
#include "training/recipe.h"
#include "training/trainer.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;
using vireo::testing::deterministic_metric_lines;
using vireo::testing::metric_column;
using vireo::testing::read_text;
using vireo::testing::TempFolder;
using vireo::testing::tiny_ddpm_recipe;

namespace {

TrainingSummary train_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return train(parse_recipe(text, "tiny_ddpm.yaml", overrides), {.progress = ProgressStyle::silent});
}

// A grid of n images of side s with the default padding of 2 (diffusion/image_grid.h).
int64_t grid_side(int64_t cells, int64_t side) { return cells * (side + 2) + 2; }

}  // namespace

TEST_CASE("ddpm trainer: a tiny UNet's test loss falls and the run folder holds the metrics and sample grids") {
  TempFolder folder("ddpm_trainer_learns");
  const TrainingSummary summary = train_text(tiny_ddpm_recipe(folder / "run", 3));
  CHECK(summary.finished);
  CHECK(summary.steps == 18);
  const std::string metrics = folder / "run/metrics.jsonl";
  const std::vector<double> test_loss = metric_column(metrics, "test_loss"), ema_test_loss = metric_column(metrics, "ema_test_loss");
  REQUIRE(test_loss.size() == 3);
  CHECK(ema_test_loss.size() == 3);
  CHECK(test_loss.back() < 0.8 * test_loss.front());
  CHECK(ema_test_loss.back() < ema_test_loss.front());
  for (const char* key : {"loss", "lr", "img_per_s"}) CHECK(metric_column(metrics, key).size() == 9);
  CHECK(metric_column(metrics, "test_top1").empty());
  // grid_samples 8 of 8×8: ⌈√8⌉ = 3 columns, 3 rows; one grid per evaluated epoch, drawn by the EMA model.
  for (int epoch = 1; epoch <= 3; ++epoch) {
    const data::Image grid = data::decode_image(folder / ("run/samples_epoch" + std::to_string(epoch) + ".png"));
    CHECK(grid.width == grid_side(3, 8));
    CHECK(grid.height == grid_side(3, 8));
  }
  CHECK(read_text(folder / "run/samples_epoch1.png") != read_text(folder / "run/samples_epoch3.png"));
}

TEST_CASE("ddpm trainer: a run stopped and resumed logs exactly the uninterrupted metrics and grids") {
  TempFolder folder("ddpm_trainer_resume");
  struct Case {
    std::string schedule;
    std::vector<std::string> overrides;
    int64_t stop;
  };
  // Mid-epoch between checkpoints (every 4 steps), at an epoch's last batch before its evaluation, and a
  // class-conditional UNet on the cosine schedule without an EMA (its grid then drawn by the model).
  for (const Case& c : {Case{"linear", {}, 7}, Case{"linear", {}, 12},
                        Case{"cosine", {"model.num_classes=4", "train.ema.enabled=false"}, 5}}) {
    CAPTURE(c.stop);
    std::filesystem::remove_all(folder / "full");
    std::filesystem::remove_all(folder / "parts");
    const std::string recipe = tiny_ddpm_recipe(folder / "full", 2, c.schedule);
    const TrainingSummary full = train_text(recipe, c.overrides);
    std::vector<std::string> parts = c.overrides;
    parts.push_back("run.dir=" + (folder / "parts"));
    parts.push_back("run.stop_after_steps=" + std::to_string(c.stop));
    const TrainingSummary first = train_text(recipe, parts);
    CHECK_FALSE(first.finished);
    parts.back() = "run.resume=true";
    const TrainingSummary rest = train_text(recipe, parts);
    CHECK(rest.finished);
    CHECK(rest.last_evaluation == full.last_evaluation);
    CHECK(deterministic_metric_lines(folder / "parts/metrics.jsonl") ==
          deterministic_metric_lines(folder / "full/metrics.jsonl"));
    CHECK(read_text(folder / "parts/samples_epoch2.png") == read_text(folder / "full/samples_epoch2.png"));
    const StateDict a = load_checkpoint(folder / "parts/checkpoint.safetensors").model;
    const StateDict b = load_checkpoint(folder / "full/checkpoint.safetensors").model;
    for (const auto& [name, tensor] : a) CHECK(tensor.to_vector() == b.at(name).to_vector());
  }
  // The conditional grid has one column per class: 4 columns, 2 rows of 8×8.
  const data::Image grid = data::decode_image(folder / "full/samples_epoch2.png");
  CHECK(grid.width == grid_side(4, 8));
  CHECK(grid.height == grid_side(2, 8));
}

TEST_CASE("ddpm recipe: diffusion keys are checked and the model must suit the task") {
  TempFolder folder("ddpm_recipe_errors");
  const std::string recipe = tiny_ddpm_recipe(folder / "run", 1);
  check_error([&] { parse_recipe(recipe, "tiny_ddpm.yaml", {"diffusion.schedule=quadratic"}); },
              {"diffusion.schedule", "linear, cosine"});
  check_error([&] { parse_recipe(recipe, "tiny_ddpm.yaml", {"diffusion.beta_end=0.001"}); },
              {"diffusion.beta_end", "must not be smaller than beta_start"});
  check_error([&] { parse_recipe(recipe, "tiny_ddpm.yaml", {"diffusion.grid_steps=51"}); },
              {"diffusion.grid_steps", "must not exceed diffusion.timesteps (50)"});
  // β range keys belong to the linear schedule only; diffusion keys to the ddpm task only.
  check_error([&] { parse_recipe(recipe, "tiny_ddpm.yaml", {"diffusion.schedule=cosine"}); },
              {"diffusion.beta_start"});
  check_error(
      [&] {
        parse_recipe(vireo::testing::tiny_resnet_recipe(folder / "run") + "diffusion: {timesteps: 10}\n", "tiny.yaml");
      },
      {"diffusion"});
  check_error([&] { train_text(recipe, {"model.num_classes=3"}); }, {"model.num_classes", "4 classes, got 3"});
  check_error([&] { train_text(recipe, {"model={name: resnet18, width: 0.0625}"}); },
              {"model.name", "not a noise predictor"});
  CHECK_FALSE(vireo::testing::holds_checkpoint_files(folder / "run"));
}
