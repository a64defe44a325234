// A model's state dict through a safetensors file: the keys are exactly the ones torchvision writes for the
// same architecture, integer buffers stay I64 as in PyTorch, and loading the file into a fresh model
// reproduces the outputs bit for bit. A file from another architecture is refused, naming the key.
#include <set>

#include "../engine/test_safetensors_helpers.h"
#include "models/models.h"

using namespace vireo;
using namespace vireo::testing;

namespace {

// torchvision.models.resnet18().state_dict().keys(), built from the architecture's rules: a stem conv and
// BN, four stages of two BasicBlocks (conv1, bn1, conv2, bn2), a downsample (1×1 conv + BN) at the first
// block of stages 2-4, and the classifier. Every BN carries five entries.
std::set<std::string> torchvision_resnet18_keys() {
  std::set<std::string> keys;
  const auto add_batch_norm = [&](const std::string& prefix) {
    for (const char* name : {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
      keys.insert(prefix + "." + name);
  };
  keys.insert("conv1.weight");
  add_batch_norm("bn1");
  for (int stage = 1; stage <= 4; ++stage)
    for (int block = 0; block < 2; ++block) {
      const std::string prefix = "layer" + std::to_string(stage) + "." + std::to_string(block);
      keys.insert(prefix + ".conv1.weight");
      add_batch_norm(prefix + ".bn1");
      keys.insert(prefix + ".conv2.weight");
      add_batch_norm(prefix + ".bn2");
      if (stage > 1 && block == 0) {
        keys.insert(prefix + ".downsample.0.weight");
        add_batch_norm(prefix + ".downsample.1");
      }
    }
  keys.insert("fc.weight");
  keys.insert("fc.bias");
  return keys;
}

}  // namespace

TEST_CASE("a ResNet-18 state dict written as safetensors has torchvision's keys and reloads exactly") {
  ScratchDirectory scratch;
  const std::string path = scratch.file("resnet18.safetensors");
  manual_seed(3);
  auto model = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
  // One training-mode forward moves the BN running statistics away from their initial values.
  Tensor x = randn({4, 1, 16, 16});
  (*model)(x);
  model->eval();
  Tensor expected;
  {
    NoGrad no_grad;
    expected = (*model)(x);
  }
  io::save_safetensors(path, model->state_dict(), {{"format", "pt"}});

  io::SafetensorsReader reader(path);
  const std::vector<std::string> names = reader.names();
  CHECK(std::set<std::string>(names.begin(), names.end()) == torchvision_resnet18_keys());
  CHECK(names.size() == 122);
  CHECK(reader.dtype("bn1.num_batches_tracked") == DType::i64);
  CHECK(reader.shape("bn1.num_batches_tracked") == Shape{});
  CHECK(reader.load("bn1.num_batches_tracked").item() == 1);
  CHECK(reader.dtype("layer1.0.conv1.weight") == DType::f32);
  CHECK(reader.metadata().at("format") == "pt");

  manual_seed(4);  // a fresh model with different weights
  auto fresh = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
  fresh->load_state_dict(io::load_safetensors(path).tensors);
  fresh->eval();
  NoGrad no_grad;
  CHECK((*fresh)(x).to_vector() == expected.to_vector());
}

TEST_CASE("a state dict from another architecture is refused naming the key and both shapes") {
  ScratchDirectory scratch;
  const std::string path = scratch.file("wide.safetensors");
  auto wide = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.25});
  io::save_safetensors(path, wide->state_dict());
  auto narrow = models::resnet18({.num_classes = 10, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
  const StateDict before = narrow->state_dict();
  const std::vector<double> conv_before = before.at("conv1.weight").to_vector();
  check_error([&] { narrow->load_state_dict(io::load_safetensors(path).tensors); },
              {"conv1.weight", "[16, 1, 3, 3]", "[8, 1, 3, 3]"});
  CHECK(narrow->state_dict().at("conv1.weight").to_vector() == conv_before);  // nothing was copied
}
