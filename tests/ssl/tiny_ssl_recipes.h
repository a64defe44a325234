// Tiny self-supervised recipes for the trainer tests (tests/ssl/test_ssl_task.cpp) and the GPU recipe
// tests (tests/cuda/test_cuda_recipes.cpp): every method of ssl/ on 64 synthetic 8×8 images, small heads,
// 4 steps per epoch, so that a run takes well under a second on the CPU.
#pragma once

#include <string>

namespace vireo::testing {

// A two-view crop-and-flip augmentation of the 8×8 synthetic images; DINO adds a 6×6 local crop, DUET
// (rotation) a random rotation; H-SSL takes one view (16×16 for translation fibers, so that a ResNet's
// last map has 2×2 positions).
inline std::string views_section(const std::string& method) {
  if (method.starts_with("hssl"))
    return "  views:\n    - transforms: [{name: random_resized_crop, size: " +
           std::string(method == "hssl_translation" ? "16" : "8") + ", scale: [0.5, 1.0]}]\n";
  const std::string rotation = method == "duet" ? "{name: random_rotation, degrees: [-180, 180]}, " : "";
  const std::string global = "    - transforms: [" + rotation + "{name: random_resized_crop, size: 8, scale: [0.5, 1.0]}, "
                             "{name: random_horizontal_flip}]\n";
  std::string text = "  views:\n" + global + global;
  if (method == "dino" || method == "dino_er")
    text += "    - transforms: [{name: random_resized_crop, size: 6, scale: [0.2, 0.5]}]\n";
  return text;
}

// The backbone: a ResNet-18 at 1/16 width, or for H-SSL's rotation fibers a tiny p4 ResNet (equivariant, or
// its ablation).
inline std::string model_section(const std::string& method) {
  if (method == "hssl" || method == "hssl_ablation")
    return "model: {name: p4_resnet, in_channels: 1, width: 2, blocks_per_stage: [1, 1], equivariant: " +
           std::string(method == "hssl" ? "true" : "false") + "}\n";
  return "model: {name: resnet18, width: 0.0625, stem: cifar}\n";
}

// The method section of each tiny method: small heads so a step takes milliseconds.
inline std::string method_section(const std::string& method) {
  if (method == "byol" || method == "byol_er")
    return "method: {name: " + method + ", hidden_features: 32, projection_features: 16, base_momentum: 0.9}\n";
  if (method == "simclr" || method == "simclr_er")
    return "method: {name: " + method + ", hidden_features: 32, projection_features: 16, temperature: 0.2}\n";
  if (method == "duet")  // 32 backbone features as 4 groups × 8 content columns
    return "method: {name: duet, groups: 4, hidden_features: 32, projection_features: 16, temperature: 0.2}\n";
  if (method.starts_with("hssl"))
    return "method: {name: hssl, fibers: " + std::string(method == "hssl_translation" ? "translation" : "rotation") +
           ", hidden_features: 32, projection_features: 16, temperature: 0.2}\n";
  return "method: {name: " + method + ", hidden_features: 32, bottleneck_features: 16, out_features: 64, "
         "warmup_teacher_temperature_epochs: 1, base_momentum: 0.9}\n";
}

// A ResNet-18 at 1/16 width on 64 synthetic 8×8 images (4 batches of 16 per epoch), LARS, 2 epochs.
inline std::string tiny_ssl_recipe(const std::string& run_dir, const std::string& method, const std::string& extra = "") {
  return "task: ssl\n"
         "run: {dir: " + run_dir + ", seed: 4, threads: 1, log_every: 1, checkpoint_every: 3}\n"
         "data:\n  dataset: synthetic\n  batch_size: 16\n  workers: 1\n"
         "  synthetic: {train_size: 64, test_size: 32, num_classes: 4, channels: 1, height: 8, width: 8}\n" +
         views_section(method) + model_section(method) + method_section(method) +
         "optimizer: {name: lars, lr: 0.2, weight_decay: 1e-5}\n"
         "schedule: {name: warmup_cosine, warmup_epochs: 1}\n"
         "train: {epochs: 2}\n"
         "eval: {batch_size: 32, linear_probe: {epochs: 5}}\n" + extra;
}

}  // namespace vireo::testing
