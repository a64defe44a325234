// Whole recipe runs on a GPU against the same runs on the CPU: the trainer with `run.device: cuda` for every
// task — classification (ResNet with its EMA, ViT with dropout and gradient clipping), DDPM (test loss and
// the sample grid drawn on the GPU) and every self-supervised method of ssl/ (BYOL and DINO teachers, DINO's
// center, the ER bounds, DUET's targets from the host-side augmentations, H-SSL's fiber gathers and the p4
// rotations) — including each task's evaluation. The loader builds batches on the host and the random
// streams are the same on both devices (engine/random.h), so the two runs see the same numbers: the first
// logged loss agrees to rounding, the later ones within a tolerance that leaves room for the kernels'
// different summation orders growing through a few optimizer steps, and the evaluations log the same keys.
// Runs with bf16 and f16 autocast (run.autocast; f16 with its dynamic loss scaler) are held to looser bounds. Without a GPU every case exits with 77
// (skipped).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "parity.h"
#include "ssl/ssl_task.h"
#include "ssl/tiny_ssl_recipes.h"
#include "training/data_helpers.h"
#include "training/recipe.h"
#include "training/run_helpers.h"
#include "training/trainer.h"

namespace vireo {
namespace {

using testing::check_error;
using testing::metric_column;
using testing::TempFolder;
using training::TrainingSummary;

TrainingSummary train_text(const std::string& text, const std::vector<std::string>& overrides) {
  ssl::register_tasks();
  return training::train(training::parse_recipe(text, "tiny.yaml", overrides),
                         {.progress = training::ProgressStyle::silent});
}

struct Tolerance {
  double first = 1e-4;  // relative, on the first logged loss: the same weights, data and noise
  double later = 2e-2;  // relative, on every later one
};

// Trains `recipe` (its run.dir a placeholder replaced per device) on the CPU and on cuda:0 with `gpu_overrides`,
// and compares the loss curves and the evaluation keys of the two metrics.jsonl.
void check_gpu_run_matches_cpu(const std::string& what, const std::function<std::string(const std::string&)>& recipe,
                               const TempFolder& folder, const std::vector<std::string>& gpu_overrides,
                               Tolerance tolerance, const std::vector<std::string>& evaluation_keys) {
  INFO(what);
  const std::string cpu_dir = folder / (what + "_cpu"), gpu_dir = folder / (what + "_gpu");
  const TrainingSummary cpu = train_text(recipe(cpu_dir), {});
  std::vector<std::string> overrides = {"run.device=cuda"};
  overrides.insert(overrides.end(), gpu_overrides.begin(), gpu_overrides.end());
  const TrainingSummary gpu = train_text(recipe(gpu_dir), overrides);
  REQUIRE(cpu.finished);
  REQUIRE(gpu.finished);
  CHECK(gpu.steps == cpu.steps);
  const std::vector<double> cpu_loss = metric_column(cpu_dir + "/metrics.jsonl", "loss");
  const std::vector<double> gpu_loss = metric_column(gpu_dir + "/metrics.jsonl", "loss");
  REQUIRE(!cpu_loss.empty());
  REQUIRE(gpu_loss.size() == cpu_loss.size());
  for (size_t i = 0; i < cpu_loss.size(); ++i) {
    INFO("logged loss ", i, ": cpu ", cpu_loss[i], ", gpu ", gpu_loss[i]);
    REQUIRE(std::isfinite(gpu_loss[i]));
    const double bound = (i == 0 ? tolerance.first : tolerance.later) * std::max(1.0, std::fabs(cpu_loss[i]));
    CHECK(std::fabs(gpu_loss[i] - cpu_loss[i]) <= bound);
  }
  for (const std::string& key : evaluation_keys) {
    INFO("evaluation key ", key);
    const std::vector<double> cpu_values = metric_column(cpu_dir + "/metrics.jsonl", key);
    const std::vector<double> gpu_values = metric_column(gpu_dir + "/metrics.jsonl", key);
    REQUIRE(!cpu_values.empty());
    CHECK(gpu_values.size() == cpu_values.size());
    for (const double value : gpu_values) CHECK(std::isfinite(value));
  }
}

}  // namespace

TEST_CASE("cuda recipes: classification runs (ResNet with EMA and ViT) follow the CPU's loss curve") {
  VIREO_REQUIRE_GPU();
  TempFolder folder("cuda_recipes_classification");
  check_gpu_run_matches_cpu(
      "resnet", [](const std::string& dir) { return testing::tiny_resnet_recipe(dir, 2); }, folder, {}, {},
      {"test_top1", "ema_test_top1"});
  check_gpu_run_matches_cpu(
      "vit", [](const std::string& dir) { return testing::tiny_vit_recipe(dir, 2); }, folder, {}, {},
      {"test_top1"});
}

TEST_CASE("cuda recipes: a bf16 autocast ViT run stays near the f32 CPU run") {
  VIREO_REQUIRE_GPU();
  TempFolder folder("cuda_recipes_autocast");
  // bf16 keeps 8 significant bits: a relative 2^-8 per product, averaged down over the reductions.
  check_gpu_run_matches_cpu(
      "vit_bf16", [](const std::string& dir) { return testing::tiny_vit_recipe(dir, 1); }, folder,
      {"run.autocast=bf16"}, {.first = 2e-2, .later = 5e-2}, {"test_top1"});
}

TEST_CASE("cuda recipes: an f16 autocast ViT run with its loss scaler stays near the f32 CPU run") {
  VIREO_REQUIRE_GPU();
  TempFolder folder("cuda_recipes_f16");
  // f16 keeps 11 significant bits; the loss scaler keeps its small gradients from underflowing.
  check_gpu_run_matches_cpu(
      "vit_f16", [](const std::string& dir) { return testing::tiny_vit_recipe(dir, 1); }, folder,
      {"run.autocast=f16"}, {.first = 1e-2, .later = 5e-2}, {"test_top1"});
  // Every log line carries the scale (2^16 to start, 2000 good steps before it grows) and the skipped steps.
  const std::vector<double> scales = metric_column(folder / "vit_f16_gpu/metrics.jsonl", "loss_scale");
  const std::vector<double> skipped = metric_column(folder / "vit_f16_gpu/metrics.jsonl", "skipped_steps");
  REQUIRE(!scales.empty());
  CHECK(skipped.size() == scales.size());
  for (size_t i = 0; i < scales.size(); ++i) {
    // Each skipped step (an overflowing gradient: no loss overflows here) halved the scale once.
    CHECK(scales[i] == std::ldexp(65536.0, -static_cast<int>(skipped[i])));
  }
}

TEST_CASE("cuda recipes: an f16 run whose forward pass overflows skips those steps and stops as diverged after ten in a row") {
  VIREO_REQUIRE_GPU();
  TempFolder folder("cuda_recipes_f16_overflow");
  // Inputs of about 1e7 (normalize with std 1e-7): beyond f16's largest finite value (65504), so the autocast
  // forward pass turns them into inf and every loss is inf or NaN — a skipped step each (not a divergence
  // at the first), until the eleventh in a row. bf16 has f32's range: the same data train there.
  const auto recipe = [&](const std::string& dir) {
    std::string text = testing::tiny_vit_recipe(dir, 1);
    const std::string anchor = "  workers: 2\n";
    text.replace(text.find(anchor), anchor.size(), anchor + "  train_transforms:\n    - {name: normalize, mean: 0.0, std: 1e-7}\n");
    return text;
  };
  // Batches of 4: 15 steps in the epoch, so the eleventh comes before any evaluation.
  check_error([&] { train_text(recipe(folder / "f16"), {"run.device=cuda", "run.autocast=f16", "data.batch_size=4"}); },
              {"training diverged", "at step 11", "and at the 10 steps before it", "run.autocast: f16"});
  const TrainingSummary bf16 =
      train_text(recipe(folder / "bf16"), {"run.device=cuda", "run.autocast=bf16", "data.batch_size=4"});
  CHECK(bf16.finished);
  for (const double loss : metric_column(folder / "bf16/metrics.jsonl", "loss")) CHECK(std::isfinite(loss));
}

TEST_CASE("cuda recipes: a DDPM run trains and evaluates on the GPU and draws its sample grid there") {
  VIREO_REQUIRE_GPU();
  TempFolder folder("cuda_recipes_ddpm");
  check_gpu_run_matches_cpu(
      "ddpm", [](const std::string& dir) { return testing::tiny_ddpm_recipe(dir, 2); }, folder, {}, {},
      {"test_loss", "ema_test_loss"});
  CHECK(std::filesystem::exists(folder / "ddpm_gpu/samples_epoch2.png"));
}

TEST_CASE("cuda recipes: every self-supervised method follows the CPU's loss curve and evaluates") {
  VIREO_REQUIRE_GPU();
  TempFolder folder("cuda_recipes_ssl");
  for (const std::string method : {"byol", "byol_er", "simclr", "simclr_er", "dino", "dino_er", "duet", "hssl",
                                   "hssl_ablation", "hssl_translation"}) {
    check_gpu_run_matches_cpu(
        method, [&](const std::string& dir) { return testing::tiny_ssl_recipe(dir, method); }, folder, {}, {},
        {"floor_linear_top1", "knn_top1", "linear_top1"});
  }
}

}  // namespace vireo
