// The memory-saving switches on whole models (models/memory.h): the same outputs and (where the switch is
// exact) the same gradients as the plain model, less peak tensor memory, and checkpoints that load either way.
#include "engine/storage.h"
#include "model_test_helpers.h"
#include "models/models.h"

using namespace vireo;
using vireo::testing::max_abs_difference;

namespace {

models::ViTOptions small_vit(int64_t image_size = 8, int64_t width = 16, int64_t depth = 2) {
  return {.image_size = image_size, .in_channels = 3, .patch_size = 4, .depth = depth, .width = width, .heads = 2,
          .num_classes = 5};
}

// A model built twice from the same seed: the plain one and one with the switches.
template <class Make>
std::pair<std::shared_ptr<nn::Module>, std::shared_ptr<nn::Module>> twins(Make make, models::MemoryOptions options,
                                                                          DType dtype = DType::f64) {
  manual_seed(7);
  std::shared_ptr<nn::Module> plain = make();
  manual_seed(7);
  std::shared_ptr<nn::Module> switched = make();
  models::apply_memory_options(*switched, options);
  plain->to(dtype);
  switched->to(dtype);
  return {plain, switched};
}

// Gradients of sum(output²) for every parameter that trains in both models, by name.
std::map<std::string, Tensor> gradients(nn::Module& model, const std::function<Tensor()>& forward) {
  model.zero_grad();
  const Tensor out = forward();
  sum(mul(out, out)).backward();
  std::map<std::string, Tensor> grads;
  for (const auto& [name, parameter] : model.named_parameters())
    if (parameter.requires_grad()) grads[name] = parameter.grad();
  return grads;
}

double largest_gradient_difference(const std::map<std::string, Tensor>& expected,
                                   const std::map<std::string, Tensor>& actual) {
  double worst = 0.0;
  for (const auto& [name, grad] : actual) {
    const auto found = expected.find(name);
    if (found == expected.end() || !grad.defined() || !found->second.defined()) return INFINITY;
    worst = std::max(worst, max_abs_difference(grad, found->second));
  }
  return worst;
}

Tensor images(int64_t batch, int64_t side, DType dtype = DType::f64) {
  Generator generator(3);
  return randn({batch, 3, side, side}, {.dtype = dtype}, &generator);
}

// The allocator's high-water mark over one forward and backward of sum(logits²).
size_t peak_training_bytes(nn::Module& model, const Tensor& x) {
  Allocator& allocator = allocator_for(Device::cpu());
  const size_t before = allocator.stats().bytes_in_use;
  allocator.reset_peak();
  {
    const Tensor logits = model(x);
    sum(mul(logits, logits)).backward();
  }
  model.zero_grad();
  return allocator.stats().peak_bytes_in_use - before;
}

}  // namespace

TEST_CASE("a ViT with MS-LayerNorm and checkpointed blocks gives the plain outputs and gradients") {
  auto [plain, switched] = twins([] { return models::vit(small_vit()); },
                                 {.ms_norm = true, .checkpoint = models::CheckpointGranularity::blocks});
  const Tensor x = images(3, 8);
  CHECK(max_abs_difference((*switched)(x), (*plain)(x)) < 1e-12);
  const auto expected = gradients(*plain, [&, p = plain] { return (*p)(x); });
  const auto actual = gradients(*switched, [&, s = switched] { return (*s)(x); });
  // The blocks' LayerNorm affines are folded and frozen: every other parameter trains in both.
  CHECK(actual.size() + 4 * 2 == expected.size());
  CHECK(largest_gradient_difference(expected, actual) < 1e-10);
}

TEST_CASE("a ViT with approx_bp keeps the exact forward and marks every GELU") {
  auto [plain, switched] = twins([] { return models::vit(small_vit()); }, {.approx_bp = true});
  const models::MemoryReport report = models::apply_memory_options(*switched, {.approx_bp = true});
  CHECK(report.approx_activations == 2);
  const Tensor x = images(2, 8);
  CHECK(max_abs_difference((*switched)(x), (*plain)(x)) == 0.0);
  // The backward differs only through the MLP activation's slope: the head, after every block, is exact.
  const auto expected = gradients(*plain, [&, p = plain] { return (*p)(x); });
  const auto actual = gradients(*switched, [&, s = switched] { return (*s)(x); });
  CHECK(max_abs_difference(actual.at("head.weight"), expected.at("head.weight")) < 1e-12);
  CHECK(max_abs_difference(actual.at("blocks.0.mlp.fc1.weight"), expected.at("blocks.0.mlp.fc1.weight")) > 0.0);
}

TEST_CASE("a plain ViT checkpoint loads into the memory-sharing ViT with the same outputs") {
  auto [plain, switched] = twins([] { return models::vit(small_vit()); }, {.ms_norm = true});
  {
    NoGrad no_grad;
    Generator generator(9);
    for (auto& [name, parameter] : plain->named_parameters())
      if (name.find("norm") != std::string::npos)
        parameter.copy_(add(parameter, mul(randn(parameter.shape(), {.dtype = DType::f64}, &generator), 0.3)));
  }
  plain->eval();
  switched->eval();
  switched->load_state_dict(plain->state_dict());
  const Tensor x = images(2, 8);
  CHECK(max_abs_difference((*switched)(x), (*plain)(x)) < 1e-12);
  // And its own checkpoint (γ = 1, β = 0, the affine in the Linear) loads back into a plain ViT.
  manual_seed(8);
  auto reloaded = models::vit(small_vit());
  reloaded->to(DType::f64);
  reloaded->eval();
  reloaded->load_state_dict(switched->state_dict());
  CHECK(max_abs_difference((*reloaded)(x), (*plain)(x)) < 1e-12);
}

TEST_CASE("the three switches lower a ViT's peak training memory by at least a quarter") {
  // 64 tokens of width 64, four blocks, a batch of 16, in f32 as training runs.
  auto [plain, switched] = twins([] { return models::vit(small_vit(32, 64, 4)); },
                                 {.approx_bp = true, .ms_norm = true,
                                  .checkpoint = models::CheckpointGranularity::blocks},
                                 DType::f32);
  const Tensor x = images(16, 32, DType::f32);
  const size_t plain_peak = peak_training_bytes(*plain, x), switched_peak = peak_training_bytes(*switched, x);
  MESSAGE("peak tensor bytes: plain " << plain_peak << ", all switches " << switched_peak);
  CHECK(static_cast<double>(switched_peak) < 0.75 * static_cast<double>(plain_peak));

  // Each of approx_bp and ms_norm alone saves memory too.
  for (models::MemoryOptions options : {models::MemoryOptions{.approx_bp = true}, models::MemoryOptions{.ms_norm = true}}) {
    auto [unused, one] = twins([] { return models::vit(small_vit(32, 64, 4)); }, options, DType::f32);
    CHECK(peak_training_bytes(*one, x) < plain_peak);
  }
}

TEST_CASE("a SiLU ResNet with approx_bp and checkpointed blocks trains with the plain running statistics") {
  const auto make = [] {
    return models::resnet18({.num_classes = 3, .stem = models::Stem::cifar, .in_channels = 3, .width = 0.125,
                             .activation = models::Activation::silu});
  };
  auto [plain, checkpointed] = twins(make, {.checkpoint = models::CheckpointGranularity::blocks});
  const Tensor x = images(2, 8);
  const auto expected = gradients(*plain, [&, p = plain] { return (*p)(x); });
  const auto actual = gradients(*checkpointed, [&, c = checkpointed] { return (*c)(x); });
  CHECK(actual.size() == expected.size());
  CHECK(largest_gradient_difference(expected, actual) < 1e-10);
  const StateDict plain_state = plain->state_dict(), checkpointed_state = checkpointed->state_dict();
  CHECK(max_abs_difference(checkpointed_state.at("layer1.0.bn1.running_mean"), plain_state.at("layer1.0.bn1.running_mean")) == 0.0);
  CHECK(checkpointed_state.at("layer1.0.bn1.num_batches_tracked").item() == 1.0);

  manual_seed(7);
  auto approximate = make();
  const models::MemoryReport report = models::apply_memory_options(*approximate, {.approx_bp = true});
  CHECK(report.approx_activations == 1 + 8);  // the stem's and one per BasicBlock
  CHECK(models::apply_memory_options(*models::resnet18({.num_classes = 3}), {.approx_bp = true}).approx_activations == 0);
}

TEST_CASE("a UNet with checkpointed blocks gives the plain gradients and approx_bp reaches its SiLUs") {
  const auto make = [] {
    return models::ddpm_unet({.base_channels = 8, .channel_multipliers = {1, 2}, .num_res_blocks = 1,
                              .attention_levels = {1}, .groups = 4});
  };
  auto [plain, checkpointed] = twins(make, {.checkpoint = models::CheckpointGranularity::blocks});
  Generator generator(5);
  const Tensor x = randn({2, 1, 8, 8}, {.dtype = DType::f64}, &generator);
  const Tensor t = Tensor::from_vector({3.0, 70.0}, {2}, {.dtype = DType::f64});
  const auto expected = gradients(*plain, [&, p = plain] { return (*p)(std::vector<Tensor>{x, t}); });
  const auto actual = gradients(*checkpointed, [&, c = checkpointed] { return (*c)(std::vector<Tensor>{x, t}); });
  CHECK(actual.size() == expected.size());
  CHECK(largest_gradient_difference(expected, actual) < 1e-10);

  manual_seed(7);
  auto approximate = make();
  const models::MemoryReport report = models::apply_memory_options(*approximate, {.approx_bp = true});
  CHECK(report.approx_activations > 0);
  approximate->to(DType::f64);
  CHECK(max_abs_difference((*approximate)(std::vector<Tensor>{x, t}), (*plain)(std::vector<Tensor>{x, t})) == 0.0);
}
