// Scaled dot-product attention as one op with its own backward (no [L, S] matrix kept for backward
// beyond what the kernel needs).
#pragma once

#include <optional>

#include "engine/tensor.h"

namespace vireo {

// q [..., L, E], k [..., S, E], v [..., S, Ev] -> [..., L, Ev]:
//   softmax(q·kᵀ·scale + mask) · v, scale defaulting to 1/√E.
// `mask` (optional) is additive, broadcastable to [..., L, S] (use −inf to forbid) and receives no gradient;
// `causal` forbids position j > i (top-left aligned when L ≠ S). A query row with every position forbidden
// gets output 0 and zero gradients. The leading dimensions of q, k and v must be equal (any strides, so
// heads sliced out of one packed projection are read in place).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask = {},
                                    bool causal = false, std::optional<double> scale = std::nullopt);

}  // namespace vireo
