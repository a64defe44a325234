// MLP, as torchvision.ops.MLP: the projector / predictor heads of SSL methods.
//
// For each hidden width but the last: Linear -> [norm] -> activation -> Dropout; then a final Linear and
// Dropout. It is a Sequential, so its children are named "0", "1", ... exactly as torchvision's, and its
// state dict loads from one. BYOL's projector (Linear-BN-ReLU-Linear) is
//   MLP(2048, {4096, 256}, {.norm = MLPNorm::batch}).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/nn/activation.h"
#include "engine/nn/container.h"

namespace vireo::nn {

enum class MLPNorm { none, batch, layer };  // BatchNorm1d / LayerNorm after each hidden Linear

struct MLPOptions {
  MLPNorm norm = MLPNorm::none;
  // Builds each hidden activation: `.activation = [] { return std::make_shared<nn::GELU>(); }`.
  std::function<std::shared_ptr<Module>()> activation = [] { return std::make_shared<ReLU>(); };
  double dropout = 0.0;
  bool bias = true;
};

class MLP : public Sequential {
 public:
  MLP(int64_t in_channels, const std::vector<int64_t>& hidden_channels, MLPOptions options = {});
};

}  // namespace vireo::nn
