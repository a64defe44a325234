// Primitive kernels of the normalization family: batch, layer and group normalization (each a fused
// forward that saves its statistics and a fused backward), the dropout mask, and embedding lookup.
//
// Layouts (the front ends reshape and make contiguous before calling):
//   batch norm  x [N, C, M]  (M = product of the spatial extents, 1 for BatchNorm1d); statistics per c
//   layer norm  x [R, D]     (D = product of normalized_shape);                      statistics per row
//   group norm  x [N, C, M]  with G groups;                                   statistics per (n, group)
// Every reduction runs in an order fixed by the shapes alone, so results do not depend on the thread count.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// Training: mean[c] and var[c] (biased) are computed from x and written. Evaluation: they are read (the
// running statistics). Both: rstd[c] = 1/√(var[c] + eps) is written and
//   out = (x − mean[c])·rstd[c]·weight[c] + bias[c]   (weight/bias may be undefined: 1 and 0).
inline Kernel<void(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                   const Tensor& rstd, const Tensor& out, bool training, double eps)>
    batch_norm_forward{"batch_norm_forward"};
// With x̂ = (x − mean)·rstd and n = N·M:
//   grad_bias[c] = Σ dy,  grad_weight[c] = Σ dy·x̂,
//   training: dx = rstd·γ·(dy − grad_bias[c]/n − x̂·grad_weight[c]/n);  evaluation: dx = rstd·γ·dy.
// Any of grad_x, grad_weight, grad_bias may be undefined (not wanted).
inline Kernel<void(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                   const Tensor& rstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                   const Tensor& grad_bias)>
    batch_norm_backward{"batch_norm_backward"};

// mean[r], rstd[r] of each row; out = (x − mean)·rstd·weight + bias (weight/bias [D] or undefined).
inline Kernel<void(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, const Tensor& mean,
                   const Tensor& rstd, double eps)>
    layer_norm_forward{"layer_norm_forward"};
// g = dy·γ per row: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)); grad_weight = Σ_rows dy·x̂, grad_bias = Σ_rows dy.
inline Kernel<void(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                   const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias)>
    layer_norm_backward{"layer_norm_backward"};

// mean, rstd [N, groups] over the (C/groups)·M elements of each (n, group);
// out = (x − mean)·rstd·weight[c] + bias[c].
inline Kernel<void(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, const Tensor& out,
                   const Tensor& mean, const Tensor& rstd, double eps)>
    group_norm_forward{"group_norm_forward"};
// As layer norm per (n, group) with g = dy·γ[c]; grad_weight[c] = Σ_{n,m} dy·x̂, grad_bias[c] = Σ_{n,m} dy.
inline Kernel<void(const Tensor& x, const Tensor& grad_out, const Tensor& weight, int64_t groups, const Tensor& mean,
                   const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias)>
    group_norm_backward{"group_norm_backward"};

// Turns uniform draws into the dropout mask in place and applies it:
//   mask[i] = uniform[i] ≥ p ? 1/(1 − p) : 0,  out[i] = x[i]·mask[i].   (0 ≤ p < 1; all contiguous)
inline Kernel<void(const Tensor& x, const Tensor& uniform_then_mask, const Tensor& out, double p)> dropout_forward{
    "dropout_forward"};

// out[k, :] = weight[indices[k], :] for the K indices (contiguous) and weight [num, dim]; an index outside
// [0, num) is an Error naming the op, the index and num_embeddings.
inline Kernel<void(const Tensor& indices, const Tensor& weight, const Tensor& out)> embedding_forward{
    "embedding_forward"};
// grad_weight (zero-filled here) [num, dim]: grad_weight[indices[k], :] += grad_out[k, :], added in the order
// of k for every row (deterministic).
inline Kernel<void(const Tensor& indices, const Tensor& grad_out, const Tensor& grad_weight)> embedding_backward{
    "embedding_backward"};

}  // namespace vireo::kernels
