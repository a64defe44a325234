// Probability and loss functions: softmax family, cross-entropy, MSE, cosine similarity, L2 normalize.
#pragma once

#include "engine/tensor.h"

namespace vireo {

enum class Reduction { none, mean, sum };

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;
  int64_t ignore_index = -100;  // class-index targets only
};
// logits [N, C] or [N, C, d1, ...]; target: i64 class indices [N] / [N, d1, ...], or floating soft
// targets with the logits' shape (probabilities over C).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor cosine_similarity(const Tensor& a, const Tensor& b, int64_t dim = 1, double eps = 1e-8);
Tensor normalize(const Tensor& x, double p = 2.0, int64_t dim = 1, double eps = 1e-12);

}  // namespace vireo
