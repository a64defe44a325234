// The code example of the README's "Modules, optimizers, files" section, kept compiling and working here.
#include "../engine/test_safetensors_helpers.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "models/models.h"

using namespace vireo;

TEST_CASE("the README modules example takes a step reads features and round-trips the weights") {
  vireo::testing::ScratchDirectory scratch;
  const auto previous_directory = std::filesystem::current_path();
  std::filesystem::current_path(scratch.path());  // the example writes model.safetensors here
  manual_seed(0);
  Tensor images = randn({8, 1, 28, 28});
  Tensor labels = randint(0, 10, {8});
  // ---- as in README.md (the width is reduced to keep the test fast) ----
  auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.25});
  optim::SGD optimizer(model->parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 5e-4});
  optim::LrScheduler schedule(optimizer, optim::WarmupCosineSchedule({.warmup_samples = 5 * 60000,
                                                                     .total_samples = 100 * 60000}));
  std::vector<Tensor> features;
  auto hook = model->register_forward_hook("layer4", [&](const Tensor& out) {
    features.push_back(out.detach());
    return out;  // a hook may return a replacement: that is how steering works
  });
  Tensor loss = nn::cross_entropy((*model)(images), labels);
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  schedule.advance(images.size(0));          // schedules count samples seen, not steps
  io::save_safetensors("model.safetensors", model->state_dict());
  model->load_state_dict(io::load_safetensors("model.safetensors").tensors);
  // ---- end of the example ----
  std::filesystem::current_path(previous_directory);
  REQUIRE(features.size() == 1);
  CHECK(features[0].shape() == Shape{8, 128, 4, 4});  // layer4 of a quarter-width CIFAR-stem ResNet on 28 px
  // The warm-up has moved the learning rate from 0 by 8 samples' worth.
  CHECK(optimizer.param_groups()[0].lr == doctest::Approx(0.1 * 8.0 / (5 * 60000)));
  CHECK(std::filesystem::exists(scratch.file("model.safetensors")));
  hook.remove();
  CHECK(model->num_hooks() == 0);
}
