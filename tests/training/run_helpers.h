// Helpers the trainer and CLI suites share: tiny recipes that train in well under a second,
// metrics.jsonl read back with its one wall-clock field (img_per_s) removed, for exact comparisons, and the
// path of a program built beside the running test.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "training/metrics_log.h"

namespace vireo::testing {

// A program of the build's bin/ folder, where the tests are built too: sibling_binary("vireo").
inline std::string sibling_binary(const std::string& name) {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / name).string();
}

// The data section of the tiny recipes: 8×8 synthetic images of 4 classes, 96 for training.
inline const std::string kTinySyntheticData =
    "  synthetic: {train_size: 96, test_size: 48, num_classes: 4, channels: 1, height: 8, width: 8, noise: 0.1}\n"
    "  train_transforms:\n    - {name: random_crop, size: 8, padding: 1}\n    - {name: random_horizontal_flip}\n";

// A ResNet-18 at 1/16 width with an EMA, trained by Nesterov SGD on `dataset` (synthetic: 6 batches of 16
// per epoch); `data_lines` are the data section's lines after dataset, batch_size and workers.
inline std::string tiny_resnet_recipe(const std::string& run_dir, int64_t epochs = 3,
                                      const std::string& dataset = "synthetic",
                                      const std::string& data_lines = kTinySyntheticData) {
  return "task: classification\n"
         "run:\n  dir: " + run_dir + "\n  seed: 3\n  threads: 1\n  log_every: 2\n  checkpoint_every: 4\n"
         "data:\n  dataset: " + dataset + "\n  batch_size: 16\n  workers: 1\n" + data_lines +
         "model:\n  name: resnet18\n  width: 0.0625\n  stem: cifar\n"
         "optimizer:\n  name: sgd\n  lr: 0.05\n  momentum: 0.9\n  nesterov: true\n  weight_decay: 5e-4\n"
         "schedule:\n  name: warmup_cosine\n  warmup_epochs: 1\n"
         "train:\n  epochs: " + std::to_string(epochs) + "\n  ema: {enabled: true, momentum: 0.9}\n"
         "eval:\n  every_epochs: 1\n  batch_size: 20\n";
}

// A two-block ViT with dropout (so the default generator matters) trained by AdamW with label smoothing
// and gradient clipping.
inline std::string tiny_vit_recipe(const std::string& run_dir, int64_t epochs = 2) {
  return "run:\n  dir: " + run_dir + "\n  seed: 5\n  threads: 2\n  log_every: 1\n  checkpoint_every: 5\n"
         "data:\n  dataset: synthetic\n  batch_size: 12\n  workers: 2\n"
         "  synthetic: {train_size: 60, test_size: 30, num_classes: 3, channels: 1, height: 8, width: 8}\n"
         "model:\n  name: vit\n  image_size: 8\n  patch_size: 4\n  depth: 2\n  width: 16\n  heads: 2\n"
         "  dropout: 0.1\n"
         "optimizer:\n  name: adamw\n  lr: 3e-3\n  weight_decay: 0.05\n  exclude_bias_and_norm_from_decay: true\n"
         "schedule:\n  name: warmup_cosine\n  warmup_epochs: 0.5\n"
         "train:\n  epochs: " + std::to_string(epochs) + "\n  label_smoothing: 0.1\n  grad_clip: 1.0\n"
         "eval:\n  every_epochs: 1\n";
}

// A tiny DDPM (task: ddpm): a two-level UNet of width 8 learning the synthetic 8×8 images over a 50-step
// schedule (linear from β 0.002 to 0.2, or cosine), with an EMA (the sample grids are drawn from it); 6
// batches of 16 per epoch.
inline std::string tiny_ddpm_recipe(const std::string& run_dir, int64_t epochs = 3,
                                    const std::string& schedule = "linear") {
  return "task: ddpm\n"
         "run:\n  dir: " + run_dir + "\n  seed: 7\n  threads: 1\n  log_every: 2\n  checkpoint_every: 4\n"
         "data:\n  dataset: synthetic\n  batch_size: 16\n  workers: 1\n"
         "  synthetic: {train_size: 96, test_size: 48, num_classes: 4, channels: 1, height: 8, width: 8, noise: 0.05}\n"
         "model:\n  name: ddpm_unet\n  base_channels: 8\n  channel_multipliers: [1, 2]\n  num_res_blocks: 1\n"
         "  attention_levels: [1]\n  groups: 4\n"
         "optimizer:\n  name: adamw\n  lr: 3e-3\n  weight_decay: 0.0\n"
         "train:\n  epochs: " + std::to_string(epochs) + "\n  ema: {enabled: true, momentum: 0.8}\n"
         "eval:\n  every_epochs: 1\n  batch_size: 16\n"
         "diffusion:\n  schedule: " + schedule + "\n  timesteps: 50\n" +
         (schedule == "linear" ? "  beta_start: 0.002\n  beta_end: 0.2\n" : "") +
         "  eval_images: 32\n  grid_samples: 8\n  grid_steps: 5\n";
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
}

inline std::string read_text(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// The lines of a metrics.jsonl, each re-serialized without "img_per_s" (the only value that depends on
// the wall clock); everything else is compared as written, number for number.
inline std::vector<std::string> deterministic_metric_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream file(path);
  for (std::string text; std::getline(file, text);) {
    auto line = nlohmann::ordered_json::parse(text);
    line.erase("img_per_s");
    lines.push_back(line.dump());
  }
  return lines;
}

// The value of `key` in each line of a metrics.jsonl that has it, in order.
inline std::vector<double> metric_column(const std::string& path, const std::string& key) {
  std::vector<double> values;
  for (const training::Metrics& line : training::read_metrics(path))
    for (const auto& [name, value] : line)
      if (name == key) values.push_back(value);
  return values;
}

// Files a failed run must not leave: a checkpoint or a checkpoint's temporary.
inline bool holds_checkpoint_files(const std::string& folder) {
  if (!std::filesystem::is_directory(folder)) return false;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().filename().string().find("checkpoint") != std::string::npos) return true;
  return false;
}

}  // namespace vireo::testing
