// Normalization layers as functions, dropout and embedding lookup.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

namespace vireo {

// x [N, C, ...]. Training: normalizes with batch statistics and, when the running tensors are defined,
// updates them in place (running = (1 − momentum)·running + momentum·batch, unbiased variance), as
// PyTorch. Evaluation: normalizes with the running statistics. weight/bias [C] or undefined.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalizes over the trailing dimensions given by normalized_shape; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Memory-sharing normalization (METHODS.md §3, MS-LayerNorm / MS-RMSNorm) over the last dimension, with no
// affine (fold γ, β into the next Linear: nn::LayerNorm::share_memory_with). The graph keeps only the
// output y and a per-row rstd — and the Linear that reads y keeps that same tensor as its saved input, so
// the pair costs one activation instead of two. With g the gradient of y and means over the row:
//   LayerNorm  y = (x − mean(x))·rstd, rstd = 1/√(var(x) + eps),  dx = rstd·(g − mean(g) − y·mean(g⊙y))
//   RMSNorm    y = x·rstd,             rstd = 1/√(mean(x²) + eps), dx = rstd·(g − y·mean(g⊙y))
Tensor ms_layer_norm(const Tensor& x, double eps = 1e-5);
Tensor ms_rms_norm(const Tensor& x, double eps = 1e-6);
// x [N, C, ...] with C divisible by groups; weight/bias [C] or undefined.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Zeroes each element with probability p and scales the rest by 1/(1 − p) when training.
Tensor dropout(const Tensor& x, double p, bool training, Generator* generator = nullptr);
// Rows of weight [num_embeddings, dim] picked by i64 indices of any shape -> [..., dim].
Tensor embedding(const Tensor& indices, const Tensor& weight);

}  // namespace vireo
