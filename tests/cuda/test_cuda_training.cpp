// Whole training steps on a GPU against the CPU: each model of models/ (small configurations of ResNet, ViT
// and the DDPM UNet) starts from the same weights on both devices, takes the same batch through forward,
// loss, backward and an optimizer step (SGD with momentum and weight decay, AdamW), and the loss, every
// gradient and every updated parameter agree to f32 tolerance; then an EMA update of a copy. These are the
// issue's "each model's training step on CUDA vs CPU; EMA and optimizer updates".
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>

#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"
#include "parity.h"
#include "training/model_ema.h"

namespace vireo {
namespace {

using Loss = std::function<Tensor(nn::Module&, Device)>;

// Runs `steps` optimizer steps of `loss` on a CPU model and on a CUDA copy of it, comparing after each.
void check_training_steps(const std::string& what, const std::function<std::shared_ptr<nn::Module>()>& make,
                          const Loss& loss, const std::string& optimizer_name) {
  manual_seed(5);
  std::shared_ptr<nn::Module> cpu = make(), gpu = make();
  gpu->load_state_dict(cpu->state_dict());
  gpu->to(Device::cuda());
  cpu->train();
  gpu->train();
  auto make_optimizer = [&](nn::Module& model) -> std::unique_ptr<optim::Optimizer> {
    if (optimizer_name == "sgd")
      return std::make_unique<optim::SGD>(model.parameters(),
                                          optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 5e-4});
    return std::make_unique<optim::AdamW>(model.parameters(), optim::AdamWOptions{.lr = 1e-3, .weight_decay = 0.05});
  };
  auto cpu_optimizer = make_optimizer(*cpu), gpu_optimizer = make_optimizer(*gpu);
  // A few steps: momentum and Adam's moments carry differences forward, so agreement after three steps
  // checks the optimizer state too. The tolerance grows with the steps (different summation orders).
  for (int step = 0; step < 3; ++step) {
    const std::string at = what + " " + optimizer_name + " step " + std::to_string(step);
    cpu_optimizer->zero_grad();
    gpu_optimizer->zero_grad();
    Tensor cpu_loss = loss(*cpu, Device::cpu()), gpu_loss = loss(*gpu, Device::cuda());
    vireo::test::expect_close(gpu_loss, cpu_loss, {1e-4, 1e-5}, at + ": loss");
    cpu_loss.backward();
    gpu_loss.backward();
    const auto cpu_named = cpu->named_parameters(), gpu_named = gpu->named_parameters();
    REQUIRE(cpu_named.size() == gpu_named.size());
    for (size_t i = 0; i < cpu_named.size(); ++i)
      if (cpu_named[i].second.grad().defined())
        vireo::test::expect_close(gpu_named[i].second.grad(), cpu_named[i].second.grad(), {2e-3, 2e-5},
                                  at + ": gradient of " + cpu_named[i].first);
    cpu_optimizer->step();
    gpu_optimizer->step();
    for (size_t i = 0; i < cpu_named.size(); ++i)
      vireo::test::expect_close(gpu_named[i].second, cpu_named[i].second, {1e-4, 1e-5},
                                at + ": updated " + cpu_named[i].first);
  }
  // The EMA of the model on both devices.
  std::shared_ptr<nn::Module> cpu_average = make(), gpu_average = make();
  gpu_average->to(Device::cuda());
  training::ModelEma cpu_ema(*cpu, cpu_average), gpu_ema(*gpu, gpu_average);
  cpu->parameters()[0].detach().mul_(0.5);
  gpu->parameters()[0].detach().mul_(0.5);
  cpu_ema.update(*cpu, 0.9);
  gpu_ema.update(*gpu, 0.9);
  const auto cpu_state = cpu_ema.model().state_dict(), gpu_state = gpu_ema.model().state_dict();
  for (const auto& [name, tensor] : cpu_state)
    vireo::test::expect_close(gpu_state.at(name), tensor, {1e-5, 1e-6}, what + ": EMA of " + name);
}

Tensor batch_images(int64_t n, int64_t channels, int64_t side, Device device) {
  Generator generator(21);
  return randn({n, channels, side, side}, {}, &generator).to(device);
}
Tensor batch_labels(int64_t n, Device device) {
  Generator generator(22);
  return randint(0, 10, {n}, {.dtype = DType::i64}, &generator).to(device);
}

TEST_CASE("cuda training: a ResNet's SGD and AdamW steps and EMA match the CPU") {
  VIREO_REQUIRE_GPU();
  auto make = [] {
    return models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 3, .width = 0.25});
  };
  const Loss loss = [](nn::Module& model, Device device) {
    return cross_entropy(model(batch_images(6, 3, 16, device)), batch_labels(6, device));
  };
  check_training_steps("resnet18 ×0.25", make, loss, "sgd");
  check_training_steps("resnet18 ×0.25", make, loss, "adamw");
}

TEST_CASE("cuda training: a ViT's SGD and AdamW steps and EMA match the CPU") {
  VIREO_REQUIRE_GPU();
  auto make = [] {
    return models::vit({.image_size = 16, .in_channels = 3, .patch_size = 4, .depth = 2, .width = 48, .heads = 3,
                        .num_classes = 10});
  };
  const Loss loss = [](nn::Module& model, Device device) {
    return cross_entropy(model(batch_images(5, 3, 16, device)), batch_labels(5, device));
  };
  check_training_steps("vit d2 w48", make, loss, "sgd");
  check_training_steps("vit d2 w48", make, loss, "adamw");
}

TEST_CASE("cuda training: the DDPM UNet's noise-prediction steps and EMA match the CPU") {
  VIREO_REQUIRE_GPU();
  auto make = [] {
    return models::ddpm_unet({.in_channels = 1, .base_channels = 16, .channel_multipliers = {1, 2},
                              .num_res_blocks = 1, .attention_levels = {1}, .groups = 4});
  };
  const Loss loss = [](nn::Module& model, Device device) {
    Generator generator(23);
    const Tensor noise = randn({3, 1, 12, 12}, {}, &generator).to(device);
    const Tensor t = Tensor::from_vector({3, 400, 999}, {3}, {.dtype = DType::i64}).to(device);
    const Tensor x = add(mul(batch_images(3, 1, 12, device), 0.7), mul(noise, 0.3));
    return mse_loss(model(std::vector<Tensor>{x, t}), noise);
  };
  check_training_steps("unet b16", make, loss, "adamw");
}

}  // namespace
}  // namespace vireo
