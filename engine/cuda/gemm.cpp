// batched_gemm on the GPU (engine/kernels/linalg.h) through cuBLAS.
//
//   out[b] = op(a[b]) · op(b[b]) + beta · out[b]  (+ bias[j] on every row)
//
// Every operand is read in place: the row-major → column-major mapping swaps the operands instead of
// transposing anything, and the batch plan (engine/cuda/gemm_plan.h) turns the batch dimensions into as few
// cublasGemmStridedBatchedEx calls as their strides allow — one when every operand steps uniformly (a
// broadcast operand has stride 0), a host loop over the outer dimensions otherwise.
//
// Precision: f32 computes in FP32 (CUBLAS_COMPUTE_32F; runtime.cpp keeps the handle out of TF32 math mode)
// unless cuda::allow_tf32() (then CUBLAS_COMPUTE_32F_FAST_TF32),
// f64 in FP64, f16 and bf16 with f32 accumulation and f32 alpha/beta.
//
// The bias: a small kernel (engine/cuda/dense_kernels.cu) first sets out = beta · out + bias[j], then cuBLAS
// adds the product with beta = 1. One more pass over out than a fused cuBLASLt epilogue, but the same code
// for every dtype (f64 included) and every batch layout, and the product is rounded
// only once, as in the CPU's fused epilogue.
#include <algorithm>
#include <climits>
#include <utility>

#include "engine/cuda/blas.h"
#include "engine/cuda/common.h"
#include "engine/cuda/dense_kernels.h"
#include "engine/cuda/gemm_plan.h"
#include "engine/cuda/runtime.h"
#include "engine/kernels/linalg.h"

namespace vireo::cuda {

namespace {

// cuBLAS's int arguments; a larger matrix would need the _64 API, which no model here approaches.
int to_int(const char* op, const char* what, int64_t value) {
  VIREO_CHECK(value >= 0 && value <= INT_MAX, op, ": ", what, " = ", value, " exceeds cuBLAS's int range");
  return static_cast<int>(value);
}

// Products per strided-batched call: cuBLAS accepts any int count, but keeping grids within 65535 in y/z
// avoids depending on how a given cuBLAS kernel lays out its batch.
constexpr int64_t kMaxBatchPerCall = 65535;

cudaDataType_t cuda_data_type(const char* op, DType dtype) {
  switch (dtype) {
    case DType::f32: return CUDA_R_32F;
    case DType::f64: return CUDA_R_64F;
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    default: fail(op, ": the CUDA GEMM computes in f32, f64, f16 and bf16, not ", dtype);
  }
}

}  // namespace

void gemm_strided_batched(const char* op, DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                          const void* a, int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b,
                          double beta, void* c, int64_t ldc, int64_t stride_c, int64_t count) {
  if (M == 0 || N == 0 || count == 0) return;
  const cudaDataType_t type = cuda_data_type(op, dtype);
  const ColumnMajorGemm call = column_major_gemm(trans_a, trans_b, M, N, K, lda, ldb, ldc);
  check_leading_dimensions(op, call);
  const int m = to_int(op, "N", call.m), n = to_int(op, "M", call.n), k = to_int(op, "K", call.k);
  const int ld_first = to_int(op, "ldb", call.ld_first), ld_second = to_int(op, "lda", call.ld_second);
  const int ld_out = to_int(op, "ldc", call.ldc);
  const cublasOperation_t op_first = call.transpose_first ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_second = call.transpose_second ? CUBLAS_OP_T : CUBLAS_OP_N;

  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  if (dtype == DType::f64) compute = CUBLAS_COMPUTE_64F;
  else if (dtype == DType::f32 && allow_tf32()) compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  // alpha and beta have the compute type's precision.
  const double alpha64 = 1.0, beta64 = beta;
  const float alpha32 = 1.0f, beta32 = static_cast<float>(beta);
  const void* alpha = dtype == DType::f64 ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta_ptr = dtype == DType::f64 ? static_cast<const void*>(&beta64) : &beta32;

  const size_t element = element_size(dtype);
  const char* first = static_cast<const char*>(b);  // row-major B is cuBLAS's first operand
  const char* second = static_cast<const char*>(a);
  char* out = static_cast<char*>(c);
  for (int64_t done = 0; done < count; done += kMaxBatchPerCall) {
    const int chunk = static_cast<int>(std::min(kMaxBatchPerCall, count - done));
    VIREO_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        cublas(), op_first, op_second, m, n, k, alpha, first + done * stride_b * static_cast<int64_t>(element), type,
        ld_first, stride_b, second + done * stride_a * static_cast<int64_t>(element), type, ld_second, stride_a,
        beta_ptr, out + done * stride_c * static_cast<int64_t>(element), type, ld_out, stride_c, chunk, compute,
        CUBLAS_GEMM_DEFAULT));
  }
}

namespace {

void batched_gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& bias, const Tensor& out,
                  double beta) {
  const char* op = "batched_gemm";
  const int64_t nd = out.dim();
  VIREO_CHECK(nd >= 2 && a.dim() == nd && b.dim() == nd, op, ": a, b and out need out's rank (", nd, "), got ",
              a.shape(), ", ", b.shape(), " and ", out.shape());
  VIREO_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype() && (!bias.defined() || bias.dtype() == out.dtype()),
              op, ": operands share one dtype, got a ", a.dtype(), ", b ", b.dtype(), ", out ", out.dtype());
  for (const auto& [name, x] : {std::pair<const char*, const Tensor*>{"a", &a}, {"b", &b}, {"out", &out}})
    VIREO_CHECK(x->shape()[nd - 1] <= 1 || x->strides()[nd - 1] == 1, op, ": ", name,
                "'s matrices need unit stride along their last dimension, got strides ", x->strides());
  const int64_t M = out.shape()[nd - 2], N = out.shape()[nd - 1];
  const int64_t K = trans_a ? a.shape()[nd - 2] : a.shape()[nd - 1];
  const Shape batch_shape(out.shape().begin(), out.shape().end() - 2);
  auto batch_strides = [&](const Tensor& x) { return Shape(x.strides().begin(), x.strides().end() - 2); };
  const BatchPlan plan = plan_batches(batch_shape, {batch_strides(a), batch_strides(b), batch_strides(out)});
  if (plan.total() == 0 || M == 0 || N == 0) return;
  const void* bias_data = bias.defined() ? bias.raw_data() : nullptr;
  if (K == 0) {  // an empty sum: out = beta · out + bias, which cuBLAS may or may not do for k = 0
    gemm_epilogue(out, beta == 0.0, beta, bias_data);
    return;
  }

  const int64_t lda = row_major_leading_dimension(a.shape()[nd - 2], a.shape()[nd - 1], a.strides()[nd - 2]);
  const int64_t ldb = row_major_leading_dimension(b.shape()[nd - 2], b.shape()[nd - 1], b.strides()[nd - 2]);
  const int64_t ldc = row_major_leading_dimension(M, N, out.strides()[nd - 2]);
  const size_t element = element_size(out.dtype());
  const char* ap = static_cast<const char*>(a.raw_data());
  const char* bp = static_cast<const char*>(b.raw_data());
  char* cp = static_cast<char*>(out.raw_data());
  // With a bias, out first becomes beta · out + bias and the GEMM adds onto it (beta 1): the product is
  // rounded once, also in f16 and bf16, where adding the bias after the GEMM would round it twice.
  double gemm_beta = beta;
  if (bias_data) {
    gemm_epilogue(out, beta == 0.0, beta, bias_data);
    gemm_beta = 1.0;
  }
  for (int64_t outer = 0; outer < plan.outer_count(); ++outer) {
    const auto offsets = plan.outer_offsets(outer);
    gemm_strided_batched(op, out.dtype(), trans_a, trans_b, M, N, K, ap + offsets[kOperandA] * element, lda,
                         plan.inner_stride[kOperandA], bp + offsets[kOperandB] * element, ldb,
                         plan.inner_stride[kOperandB], gemm_beta, cp + offsets[kOperandOut] * element, ldc,
                         plan.inner_stride[kOperandOut], plan.inner_count);
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::batched_gemm, DeviceType::cuda, batched_gemm);

}  // namespace vireo::cuda
