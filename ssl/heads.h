// The projection and prediction heads of BYOL and SimCLR: a two-layer MLP Linear → BatchNorm → ReLU → Linear.
//
//   BYOL projector g:  Linear(F, H) → BN → ReLU → Linear(H, 256)     H = 4096 in the paper, 1024–4096 on CIFAR
//   BYOL predictor q:  Linear(256, H) → BN → ReLU → Linear(H, 256)
//   SimCLR projector:  Linear(F, H) → BN → ReLU → Linear(H, 128)
//
// The head is an nn::MLP (torchvision.ops.MLP's module tree), so its state dict uses the keys "0.weight",
// "1.running_mean", "3.weight", ... exactly like torchvision's.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/nn/mlp.h"

namespace vireo::ssl {

struct MlpHeadOptions {
  int64_t hidden_features = 4096;  // H
  int64_t out_features = 256;      // BYOL 256, SimCLR 128
};

// Linear(in_features, H) → BatchNorm1d(H) → ReLU → Linear(H, out).
std::shared_ptr<nn::MLP> mlp_head(int64_t in_features, MlpHeadOptions options = {});

}  // namespace vireo::ssl
