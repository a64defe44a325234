// MultiheadAttention, as torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True), with the same
// parameters: the fused input projection in_proj_weight [3E, E] (rows: query, key, value) and
// in_proj_bias [3E], and out_proj, a Linear(E, E).
//
//   Q = q·W_qᵀ + b_q,  K = k·W_kᵀ + b_k,  V = v·W_vᵀ + b_v        (split into H heads of E/H)
//   head_h = softmax(Q_h·K_hᵀ/√(E/H) + mask)·V_h                 (the engine's fused attention op)
//   out = concat_h(head_h)·W_oᵀ + b_o
#pragma once

#include <memory>

#include "engine/nn/linear.h"
#include "engine/nn/module.h"

namespace vireo::nn {

struct MultiheadAttentionOptions {
  bool bias = true;      // in_proj_bias and out_proj.bias
  double dropout = 0.0;  // on the attention probabilities, in training only
};

// Default initialization (PyTorch's): in_proj_weight ~ xavier_uniform, in_proj_bias = 0, out_proj.weight as
// a Linear's, out_proj.bias = 0.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options = {});

  // Inputs, batch first: {x} (self-attention), {query, key, value} or {query, key, value, attn_mask}.
  // query [N, L, E], key and value [N, S, E] (or unbatched [L, E] / [S, E]) -> [N, L, E].
  // attn_mask is additive (−inf forbids a position), [L, S] or [N·num_heads, L, S] as PyTorch's, or any
  // shape broadcastable to [N, num_heads, L, S]. When query, key and value are one tensor the three
  // projections are one GEMM. Only the output is returned (PyTorch's need_weights=False).
  using Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override;
  void reset_parameters() override;

  const int64_t embed_dim, num_heads, head_dim;
  const double dropout;
  Tensor in_proj_weight, in_proj_bias;
  std::shared_ptr<Linear> out_proj;
};

}  // namespace vireo::nn
