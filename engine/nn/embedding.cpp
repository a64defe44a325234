// Embedding (engine/nn/embedding.h). The engine's embedding op has no padding index, so the padding rule
// is composed here: where an index is the padding one, the output is taken from a detached copy of the
// lookup, which gives that row of the weight no gradient.
#include "engine/nn/embedding.h"

#include "engine/nn/init.h"
#include "engine/ops/creation.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/normalization.h"

namespace vireo::nn {
namespace {

std::optional<int64_t> wrap_padding_index(std::optional<int64_t> padding_idx, int64_t num_embeddings) {
  if (!padding_idx) return std::nullopt;
  VIREO_CHECK(*padding_idx >= -num_embeddings && *padding_idx < num_embeddings, "Embedding: padding_idx ",
              *padding_idx, " is out of range for ", num_embeddings, " embeddings");
  return *padding_idx < 0 ? *padding_idx + num_embeddings : *padding_idx;
}

}  // namespace

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options)
    : num_embeddings(num_embeddings), embedding_dim(embedding_dim),
      padding_idx(wrap_padding_index(options.padding_idx, num_embeddings)) {
  VIREO_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: num_embeddings ", num_embeddings,
              " and embedding_dim ", embedding_dim, " must be positive");
  weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  if (padding_idx) init::zeros_(weight.detach().select(0, *padding_idx));
}

Tensor Embedding::forward(const Tensor& indices) {
  VIREO_CHECK(indices.defined() && indices.dtype() == DType::i64, "Embedding: indices must be i64, got ",
              describe(indices));
  Tensor out = embedding(indices, weight);
  if (padding_idx && out.requires_grad()) {
    const Tensor is_padding = eq(indices, full({}, static_cast<double>(*padding_idx), indices.options())).unsqueeze(-1);
    out = where(is_padding, out.detach(), out);
  }
  return out;
}

std::string Embedding::extra_repr() const {
  std::string s = std::to_string(num_embeddings) + ", " + std::to_string(embedding_dim);
  if (padding_idx) s += ", padding_idx=" + std::to_string(*padding_idx);
  return s;
}

}  // namespace vireo::nn
