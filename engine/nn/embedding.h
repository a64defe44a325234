// Embedding, as torch.nn.Embedding: row i of weight [num_embeddings, embedding_dim] for each index i.
#pragma once

#include <optional>

#include "engine/nn/module.h"

namespace vireo::nn {

struct EmbeddingOptions {
  // The row used for padding: initialized to zeros and never updated (it receives no gradient).
  // Negative values count from the end, as PyTorch.
  std::optional<int64_t> padding_idx = std::nullopt;
};

// Default initialization (PyTorch's): weight ~ N(0, 1), with the padding row zeroed.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});

  using Module::forward;
  Tensor forward(const Tensor& indices) override;  // i64 indices of any shape -> [..., embedding_dim]
  void reset_parameters() override;
  std::string extra_repr() const override;

  const int64_t num_embeddings, embedding_dim;
  const std::optional<int64_t> padding_idx;  // wrapped into [0, num_embeddings)
  Tensor weight;
};

}  // namespace vireo::nn
