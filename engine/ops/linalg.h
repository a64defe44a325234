// Matrix products. All of them reach the packed GEMM kernel (engine/cpu/gemm.h on the CPU).
#pragma once

#include "engine/tensor.h"

namespace vireo {

// torch.matmul semantics: 1-D operands are promoted and the added dimension removed; batch dimensions
// broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B, M, K] x [B, K, N]
// y = x·Wᵀ + b with x [..., in], W [out, in], b [out] (may be undefined).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

}  // namespace vireo
