// MultiheadAttention (engine/nn/attention.h). The heads are never copied out: the projections are viewed
// as [N, L, (3,) H, d] and permuted to [N, H, L, d], which the engine's attention op reads in place.
// Dropout on the attention probabilities has no place in the fused op, so in training with dropout > 0
// the attention is composed from matmul, softmax and dropout instead.
#include "engine/nn/attention.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops/attention.h"
#include "engine/ops/creation.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/loss.h"
#include "engine/ops/normalization.h"
#include "engine/ops/shape.h"

namespace vireo::nn {

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, MultiheadAttentionOptions options)
    : embed_dim(embed_dim), num_heads(num_heads), head_dim(num_heads > 0 ? embed_dim / num_heads : 0),
      dropout(options.dropout) {
  VIREO_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, "MultiheadAttention: embed_dim ",
              embed_dim, " must be a positive multiple of num_heads ", num_heads);
  VIREO_CHECK(dropout >= 0.0 && dropout <= 1.0, "MultiheadAttention: dropout must be in [0, 1], got ", dropout);
  in_proj_weight = register_parameter("in_proj_weight", empty({3 * embed_dim, embed_dim}));
  if (options.bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * embed_dim}));
  // Constructed (and so initialized) before the input projection, in PyTorch's order.
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, LinearOptions{.bias = options.bias}));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  init::xavier_uniform_(in_proj_weight);
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
}

Tensor MultiheadAttention::forward(const std::vector<Tensor>& inputs) {
  VIREO_CHECK(inputs.size() == 1 || inputs.size() == 3 || inputs.size() == 4,
              "MultiheadAttention: expects {x}, {query, key, value} or {query, key, value, attn_mask}, got ",
              inputs.size(), " inputs");
  const Tensor& query = inputs[0];
  const Tensor& key = inputs.size() == 1 ? inputs[0] : inputs[1];
  const Tensor& value = inputs.size() == 1 ? inputs[0] : inputs[2];
  const Tensor mask = inputs.size() == 4 ? inputs[3] : Tensor();
  for (const Tensor* t : {&query, &key, &value})
    VIREO_CHECK(t->defined() && (t->dim() == 2 || t->dim() == 3) && t->size(-1) == embed_dim && t->dim() == query.dim(),
                "MultiheadAttention: query ", describe(query), ", key ", describe(key), " and value ", describe(value),
                " must all be [N, length, ", embed_dim, "] or all [length, ", embed_dim, "]");
  // Which inputs are the same tensor decides how many projection GEMMs are needed (one for self-attention).
  const bool self_attention = query.impl() == key.impl() && key.impl() == value.impl();
  const bool shared_key_value = key.impl() == value.impl();
  const bool unbatched = query.dim() == 2;
  const Tensor q_in = unbatched ? query.unsqueeze(0) : query;
  const Tensor k_in = unbatched ? key.unsqueeze(0) : key;
  const Tensor v_in = unbatched ? value.unsqueeze(0) : value;
  const int64_t batch = q_in.size(0), length = q_in.size(1), keys = k_in.size(1);
  VIREO_CHECK(k_in.size(0) == batch && v_in.size(0) == batch && v_in.size(1) == keys, "MultiheadAttention: query ",
              describe(query), ", key ", describe(key), " and value ", describe(value),
              " disagree in batch size or key count");

  const int64_t e = embed_dim;
  auto weight_rows = [&](int64_t first, int64_t count) { return in_proj_weight.slice(0, first, first + count); };
  auto bias_rows = [&](int64_t first, int64_t count) {
    return in_proj_bias.defined() ? in_proj_bias.slice(0, first, first + count) : Tensor();
  };
  // [N, T, parts·E] -> `parts` tensors [N, H, T, d], views of the one projection.
  auto split_heads = [&](const Tensor& projected, int64_t parts, int64_t tokens) {
    const Tensor heads = projected.view({batch, tokens, parts, num_heads, head_dim}).permute({2, 0, 3, 1, 4});
    std::vector<Tensor> out;
    for (int64_t p = 0; p < parts; ++p) out.push_back(heads.select(0, p));
    return out;
  };
  Tensor q, k, v;
  if (self_attention) {
    const auto qkv = split_heads(linear(q_in, in_proj_weight, in_proj_bias), 3, length);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else if (shared_key_value) {
    q = split_heads(linear(q_in, weight_rows(0, e), bias_rows(0, e)), 1, length)[0];
    const auto kv = split_heads(linear(k_in, weight_rows(e, 2 * e), bias_rows(e, 2 * e)), 2, keys);
    k = kv[0], v = kv[1];
  } else {
    q = split_heads(linear(q_in, weight_rows(0, e), bias_rows(0, e)), 1, length)[0];
    k = split_heads(linear(k_in, weight_rows(e, e), bias_rows(e, e)), 1, keys)[0];
    v = split_heads(linear(v_in, weight_rows(2 * e, e), bias_rows(2 * e, e)), 1, keys)[0];
  }

  Tensor attention_mask = mask;
  if (mask.defined() && mask.dim() == 3) {
    VIREO_CHECK(mask.size(0) == batch * num_heads, "MultiheadAttention: a 3-d attn_mask must be [N·num_heads, L, S] = [",
                batch * num_heads, ", ", length, ", ", keys, "], got ", describe(mask));
    attention_mask = mask.reshape({batch, num_heads, mask.size(1), mask.size(2)});
  }

  Tensor heads;
  if (is_training() && dropout > 0.0) {
    Tensor scores = mul(matmul(q, k.transpose(-1, -2)), 1.0 / std::sqrt(static_cast<double>(head_dim)));
    if (attention_mask.defined()) scores = add(scores, attention_mask);
    heads = matmul(vireo::dropout(softmax(scores, -1), dropout, true), v);
  } else {
    heads = scaled_dot_product_attention(q, k, v, attention_mask);
  }
  // [N, H, L, d] -> [N, L, H·d], then the output projection, called through its hooks.
  const Tensor out = (*out_proj)(heads.transpose(1, 2).reshape({batch, length, e}));
  return unbatched ? out.squeeze(0) : out;
}

}  // namespace vireo::nn
