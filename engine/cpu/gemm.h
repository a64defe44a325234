// The CPU matrix-multiply kernel every product in Vireo reaches (linear, matmul, convolution, attention).
//
//   C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C  (+ row_bias[j] on every row, when given)
//
// All matrices are row-major with leading dimensions (row strides) lda, ldb, ldc; op(X) is X or Xᵀ.
// When trans_a, A is stored as [K×M]; when trans_b, B is stored as [N×K]. beta = 0 ignores C's contents
// (NaN included). row_bias (N values, or null) is the fused bias epilogue of linear layers and
// convolutions: added once, in the same pass that writes C. Runs on all OpenMP threads, or on the
// calling thread inside a parallel region; the result is bitwise the same for any thread count.
#pragma once

#include <cstdint>

namespace vireo::cpu {

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* row_bias = nullptr);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc, const double* row_bias = nullptr);

// The plain triple loop the fast kernel is tested against.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                    const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const T* row_bias = nullptr) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p)
        acc += static_cast<double>(trans_a ? a[p * lda + i] : a[i * lda + p]) *
               static_cast<double>(trans_b ? b[j * ldb + p] : b[p * ldb + j]);
      T& out = c[i * ldc + j];
      out = static_cast<T>(alpha * acc + (beta == T(0) ? T(0) : beta * out) + (row_bias ? row_bias[j] : T(0)));
    }
}

}  // namespace vireo::cpu
