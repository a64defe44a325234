// The memory-saving switches (METHODS.md §3), applied to a built model — ViT, ResNet, UNet — in place:
//
//   approx_bp   every GELU / SiLU module keeps a 2-bit code per element instead of its input
//               (ReGELU2 / ReSiLU2, engine/ops/activation.h); ReLU is left as it is, so a ResNet gains
//               only with model.activation: silu or gelu.
//   ms_norm     every LayerNorm whose output feeds one Linear (a ViT block's norm1 -> attn.qkv and
//               norm2 -> mlp.fc1) becomes MS-LayerNorm: its affine folded into that Linear, its saved
//               output shared with the Linear's saved input (nn::LayerNorm::share_memory_with). The final
//               norm stays as it is: its output is the model's feature, read by more than a Linear.
//   checkpoint  blocks: every repeating block (a ViT Block, a ResNet BasicBlock/Bottleneck, a UNet
//               ResidualBlock/SelfAttention2d) recomputed in the backward (engine/nn/checkpoint.h).
//
// Checkpoints stay interchangeable with the plain model: no parameter name changes, and a plain checkpoint
// loaded into an MS model is folded at the next forward.
#pragma once

#include "engine/nn/module.h"

namespace vireo::models {

enum class CheckpointGranularity { none, blocks };

struct MemoryOptions {
  bool approx_bp = false;
  bool ms_norm = false;
  CheckpointGranularity checkpoint = CheckpointGranularity::none;
};

// How many modules each switch changed (a switch that changed nothing is refused by the recipe).
struct MemoryReport {
  int64_t approx_activations = 0, memory_sharing_norms = 0, checkpointed_blocks = 0;
};

MemoryReport apply_memory_options(nn::Module& model, const MemoryOptions& options);

}  // namespace vireo::models
