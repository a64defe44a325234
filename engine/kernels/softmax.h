// The softmax family as fused primitives over the middle axis of a contiguous [outer, extent, inner]
// block (softmax over dimension d of any tensor: outer = the extents before d, inner = those after).
// Every kernel subtracts the row maximum m before exponentiating, so exp never overflows:
//   softmax(x)_c     = exp(x_c − m) / Σ_k exp(x_k − m)
//   log_softmax(x)_c = x_c − m − log Σ_k exp(x_k − m)
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// y = softmax(x) or, when log, log_softmax(x), along the middle axis.
inline Kernel<void(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool log, const Tensor& y)>
    softmax{"softmax"};

// From the forward output y and the output gradient g (contiguous, like y):
//   softmax:     dx = y ⊙ (g − Σ_c g_c·y_c)
//   log_softmax: dx = g − exp(y) ⊙ Σ_c g_c
inline Kernel<void(const Tensor& y, const Tensor& g, int64_t outer, int64_t extent, int64_t inner, bool log,
                   const Tensor& dx)>
    softmax_backward{"softmax_backward"};

// Cross-entropy against class indices, fused with the log-softmax, one loss per (o, i) position. With
// label smoothing ε over C classes the target distribution is (1 − ε)·onehot(t) + ε/C, so
//   loss = −Σ_c q_c log p_c = lse − (1 − ε)·x_t − (ε/C)·Σ_c x_c,   lse = log Σ_c exp x_c
// and loss = 0 where t == ignore_index. logits [outer, C, inner], target [outer, inner] i64, loss and lse
// [outer, inner] (lse is kept for the backward). A target outside [0, C) that is not ignore_index fails.
inline Kernel<void(const Tensor& logits, const Tensor& target, int64_t outer, int64_t classes, int64_t inner,
                   double smoothing, int64_t ignore_index, const Tensor& loss, const Tensor& lse)>
    cross_entropy{"cross_entropy"};

// Its gradient, given the gradient of each position's loss g [outer, inner]:
//   dlogits_c = g · (exp(x_c − lse) − (1 − ε)·[c = t] − ε/C),   0 where t == ignore_index.
inline Kernel<void(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& grad_loss,
                   int64_t outer, int64_t classes, int64_t inner, double smoothing, int64_t ignore_index,
                   const Tensor& grad_logits)>
    cross_entropy_backward{"cross_entropy_backward"};

}  // namespace vireo::kernels
