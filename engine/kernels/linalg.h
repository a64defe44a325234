// The matrix-product primitive: a batch of GEMMs over strided operands.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// For every batch index b (the leading dimensions of `out`):
//
//   out[b] = op(a[b]) · op(b[b]) + beta · out[b]  (+ bias[j] on every row, when bias is defined)
//
// with op(X) = X, or Xᵀ when the flag is set. a, b and out have out's number of dimensions; their
// leading (batch) dimensions have out's extents with any strides (0 where an operand is broadcast).
// Each matrix — the last two dimensions — is row-major with unit stride along its last dimension and
// any row stride (the GEMM leading dimension), so a transposed view is passed as its untransposed base
// with the flag set, never copied. out is [batch..., M, N]; a is [batch..., M, K] ([batch..., K, M] when
// trans_a); b is [batch..., K, N] ([batch..., N, K] when trans_b); bias is undefined or a contiguous [N].
// beta = 0 ignores out's contents. All share one floating dtype and one device.
inline Kernel<void(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& bias,
                   const Tensor& out, double beta)>
    batched_gemm{"batched_gemm"};

}  // namespace vireo::kernels
