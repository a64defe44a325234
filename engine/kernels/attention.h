// Primitive kernels of scaled dot-product attention: a fused forward that keeps only the output and the
// per-row log-sum-exp, and a backward that recomputes the probabilities from them.
//
// q [B..., L, E], k [B..., S, E], v [B..., S, Ev] share their leading (batch) extents and may have any
// strides there, but their last dimension must be contiguous (stride 1): the kernels address row i of
// batch b at base(b) + i·stride(-2). `mask` is undefined or an additive [B..., L, S] view with any strides
// (broadcast dimensions have stride 0). out, logsumexp, grad_* are contiguous.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// For every batch b and query row i, with s_ij = scale·q_i·k_j + mask_ij (−∞ where causal and j > i):
//   out_i = Σ_j softmax(s_i)_j · v_j,   logsumexp_i = log Σ_j exp(s_ij).
// A row with every s_ij = −∞ gets out_i = 0 and logsumexp_i = +∞ (so recomputed probabilities are 0).
inline Kernel<void(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal, double scale,
                   const Tensor& out, const Tensor& logsumexp)>
    attention_forward{"attention_forward"};

// With P_ij = exp(s_ij − logsumexp_i) recomputed and D_i = Σ_e dO_ie·O_ie:
//   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − D),  dQ = scale·dS·K,  dK = scale·dSᵀ·Q.
inline Kernel<void(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal, double scale,
                   const Tensor& out, const Tensor& logsumexp, const Tensor& grad_out, const Tensor& grad_q,
                   const Tensor& grad_k, const Tensor& grad_v)>
    attention_backward{"attention_backward"};

}  // namespace vireo::kernels
