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
// x [N, C, ...] with C divisible by groups; weight/bias [C] or undefined.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Zeroes each element with probability p and scales the rest by 1/(1 − p) when training.
Tensor dropout(const Tensor& x, double p, bool training, Generator* generator = nullptr);
// Rows of weight [num_embeddings, dim] picked by i64 indices of any shape -> [..., dim].
Tensor embedding(const Tensor& indices, const Tensor& weight);

}  // namespace vireo
