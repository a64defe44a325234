// How a row-major batched GEMM (engine/kernels/linalg.h) becomes cuBLAS calls: pure host arithmetic, no CUDA
// call, so the suite tests it on machines without a GPU (tests/cuda/test_cuda_gemm.cpp).
//
// Row-major ↔ column-major. cuBLAS reads matrices column-major. A row-major [R × C] matrix with row stride ld
// is, byte for byte, the column-major [C × R] matrix with leading dimension ld: its transpose. So
//
//   C = op(A) · op(B)   (row-major)   ⇔   Cᵀ = op(B)ᵀ · op(A)ᵀ   (what cuBLAS sees)
//
// and the row-major product is one cuBLAS call with the operands swapped: cuBLAS's first operand is B (op T
// exactly when trans_b), its second is A (op T exactly when trans_a), its m × n is N × M, and every leading
// dimension is the row stride unchanged. No data moves.
//
// Batches. cublasGemmStridedBatchedEx runs `count` products whose operands sit a fixed element stride apart
// (stride 0 for a broadcast operand). The batch dimensions of a, b and out may have any strides, so the plan
// merges the innermost batch dimensions for as long as every operand steps uniformly across them: those form
// one strided-batched call, and the remaining (outer) dimensions are a host loop of such calls. Tensors from
// one allocation — and broadcast operands — merge completely, giving a single call.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "engine/error.h"
#include "engine/shape.h"

namespace vireo::cuda {

// The GEMM leading dimension of a row-major [rows × cols] matrix with this row stride, as the CPU kernel
// reads it: a matrix of at most one row never steps to a second row, so any stride is valid and the column
// count (at least 1) is what cuBLAS's argument check wants to see.
inline int64_t row_major_leading_dimension(int64_t rows, int64_t cols, int64_t row_stride) {
  return rows <= 1 ? std::max<int64_t>(cols, 1) : row_stride;
}

// The parameters of one column-major cuBLAS GEMM  C' = op(first) · op(second), C' [m × n] with leading
// dimension ldc, that computes the row-major C [M × N] = op(A)[M × K] · op(B)[K × N].
struct ColumnMajorGemm {
  bool first_is_b = true;                       // cuBLAS's first operand is the row-major B
  bool transpose_first = false, transpose_second = false;
  int64_t m = 0, n = 0, k = 0;
  int64_t ld_first = 0, ld_second = 0, ldc = 0;
};

// trans_a / trans_b and the leading dimensions (row strides, via row_major_leading_dimension) are the
// row-major kernel's: a is [M × K] ([K × M] when trans_a), b is [K × N] ([N × K] when trans_b), out [M × N].
inline ColumnMajorGemm column_major_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, int64_t lda,
                                         int64_t ldb, int64_t ldc) {
  ColumnMajorGemm call;
  call.first_is_b = true;
  call.transpose_first = trans_b;
  call.transpose_second = trans_a;
  call.m = N;
  call.n = M;
  call.k = K;
  call.ld_first = ldb;
  call.ld_second = lda;
  call.ldc = ldc;
  return call;
}

// Refuses leading dimensions cuBLAS would refuse (with CUBLAS_STATUS_INVALID_VALUE and no hint which),
// naming the operand: an operand's rows overlap when its row stride is below its row length.
inline void check_leading_dimensions(const char* op, const ColumnMajorGemm& call) {
  // Column-major [rows × cols] operands need ld ≥ max(1, rows).
  const int64_t first_rows = call.transpose_first ? call.k : call.m;
  const int64_t second_rows = call.transpose_second ? call.n : call.k;
  VIREO_CHECK(call.ld_first >= std::max<int64_t>(1, first_rows), op, ": b's row stride ", call.ld_first,
              " is below its row length ", first_rows);
  VIREO_CHECK(call.ld_second >= std::max<int64_t>(1, second_rows), op, ": a's row stride ", call.ld_second,
              " is below its row length ", second_rows);
  VIREO_CHECK(call.ldc >= std::max<int64_t>(1, call.m), op, ": out's row stride ", call.ldc,
              " is below its row length ", call.m);
}

// The batch loop: `outer` host iterations of one strided-batched call of `inner_count` products each.
enum BatchOperand { kOperandA = 0, kOperandB = 1, kOperandOut = 2 };

struct BatchPlan {
  int64_t inner_count = 1;                    // products per strided-batched call
  std::array<int64_t, 3> inner_stride = {};   // element step between consecutive products, per operand
  std::vector<int64_t> outer_sizes;           // the remaining batch dimensions, innermost first
  std::array<std::vector<int64_t>, 3> outer_strides;

  int64_t outer_count() const {
    int64_t count = 1;
    for (int64_t size : outer_sizes) count *= size;
    return count;
  }
  bool uniform() const { return outer_sizes.empty(); }  // one strided-batched call covers the batch
  int64_t total() const { return inner_count * outer_count(); }

  // Element offsets of the first product of outer iteration `index` (row-major over the outer dims).
  std::array<int64_t, 3> outer_offsets(int64_t index) const {
    std::array<int64_t, 3> offsets = {0, 0, 0};
    for (size_t d = 0; d < outer_sizes.size(); ++d) {
      const int64_t i = index % outer_sizes[d];
      index /= outer_sizes[d];
      for (int k = 0; k < 3; ++k) offsets[k] += i * outer_strides[k][d];
    }
    return offsets;
  }
};

// `batch_shape` is out's leading dimensions; `strides[k]` operand k's strides over them (same rank).
// An empty batch (some extent 0) gives inner_count 0.
inline BatchPlan plan_batches(const Shape& batch_shape, const std::array<Shape, 3>& strides) {
  BatchPlan plan;
  for (int64_t extent : batch_shape)
    if (extent == 0) {
      plan.inner_count = 0;
      return plan;
    }
  bool merging = true;
  bool started = false;
  for (int64_t d = static_cast<int64_t>(batch_shape.size()) - 1; d >= 0; --d) {
    const int64_t extent = batch_shape[d];
    if (extent == 1) continue;  // steps nothing
    if (!started) {
      started = true;
      plan.inner_count = extent;
      for (int k = 0; k < 3; ++k) plan.inner_stride[k] = strides[k][d];
      continue;
    }
    if (merging) {
      bool mergeable = true;
      for (int k = 0; k < 3; ++k)
        if (strides[k][d] != plan.inner_stride[k] * plan.inner_count) mergeable = false;
      if (mergeable) {
        plan.inner_count *= extent;
        continue;
      }
      merging = false;  // the outer dimensions begin here, even if a further one would line up again
    }
    plan.outer_sizes.push_back(extent);
    for (int k = 0; k < 3; ++k) plan.outer_strides[k].push_back(strides[k][d]);
  }
  return plan;
}

}  // namespace vireo::cuda
