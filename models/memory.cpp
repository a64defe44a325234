// The memory-saving switches (models/memory.h).
#include "models/memory.h"

#include "engine/nn/activation.h"
#include "models/p4_resnet.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"

namespace vireo::models {
namespace {

bool is_block(const nn::Module& module) {
  return dynamic_cast<const Block*>(&module) || dynamic_cast<const BasicBlock*>(&module) ||
         dynamic_cast<const Bottleneck*>(&module) || dynamic_cast<const ResidualBlock*>(&module) ||
         dynamic_cast<const SelfAttention2d*>(&module) || dynamic_cast<const P4BasicBlock*>(&module);
}

}  // namespace

MemoryReport apply_memory_options(nn::Module& model, const MemoryOptions& options) {
  MemoryReport report;
  model.apply([&](nn::Module& module) {
    if (options.approx_bp) {
      if (auto* gelu = dynamic_cast<nn::GELU*>(&module); gelu && gelu->approximate == GeluApproximation::none) {
        gelu->approx_backward = true;
        ++report.approx_activations;
      } else if (auto* silu = dynamic_cast<nn::SiLU*>(&module)) {
        silu->approx_backward = true;
        ++report.approx_activations;
      }
    }
    if (options.ms_norm) {
      if (auto* block = dynamic_cast<Block*>(&module)) {
        block->norm1->share_memory_with(block->attn->qkv);
        block->norm2->share_memory_with(block->mlp->fc1);
        report.memory_sharing_norms += 2;
      }
    }
    if (options.checkpoint == CheckpointGranularity::blocks && is_block(module)) {
      module.set_checkpointed(true);
      ++report.checkpointed_blocks;
    }
  });
  return report;
}

}  // namespace vireo::models
