// Row-major GEMMs on the GPU through cuBLAS, for the backend's own kernels (batched_gemm, the im2col
// fallback of the convolutions) — the one place that knows cuBLAS's column-major calling convention
// (engine/cuda/gemm_plan.h explains the mapping). Host code; implemented in engine/cuda/gemm.cpp.
#pragma once

#include <cstdint>

#include "engine/dtype.h"

namespace vireo::cuda {

// For p in [0, count):
//   C_p = op(A_p) · op(B_p) + beta · C_p      with X_p = X + p · stride_x (elements)
// Row-major like cpu::gemm: A is [M × K] ([K × M] when trans_a), B is [K × N] ([N × K] when trans_b),
// C [M × N]; lda, ldb, ldc are row strides. beta = 0 ignores C's contents. f32 (TF32 only when
// allow_tf32()), f64, and f16 / bf16 with f32 accumulation. `op` names the caller in errors.
void gemm_strided_batched(const char* op, DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                          const void* a, int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b,
                          double beta, void* c, int64_t ldc, int64_t stride_c, int64_t count);

}  // namespace vireo::cuda
