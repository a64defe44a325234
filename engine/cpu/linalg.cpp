// CPU batched GEMM: one cpu::gemm call per matrix of the batch, reading every operand in place through
// its strides (engine/kernels/linalg.h).
#include <algorithm>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/linalg.h"

namespace vireo::cpu {
namespace {

// The GEMM leading dimension of the matrix formed by the last two dimensions: its row stride. A
// one-row matrix never steps to a second row, so any value works; the column count keeps it valid.
int64_t leading_dimension(const Tensor& x) {
  const int64_t rows = x.shape()[x.dim() - 2], cols = x.shape()[x.dim() - 1];
  return rows <= 1 ? std::max<int64_t>(cols, 1) : x.strides()[x.dim() - 2];
}

// Element offset of batch index `flat` (row-major over `batch_shape`) in a tensor with these strides.
int64_t batch_offset(int64_t flat, const Shape& batch_shape, const Shape& strides) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(batch_shape.size()) - 1; d >= 0; --d) {
    offset += (flat % batch_shape[d]) * strides[d];
    flat /= batch_shape[d];
  }
  return offset;
}

template <class T>
void batched_gemm_typed(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& bias,
                        const Tensor& out, double beta) {
  const int64_t nd = out.dim();
  const int64_t m = out.shape()[nd - 2], n = out.shape()[nd - 1];
  const int64_t k = trans_a ? a.shape()[nd - 2] : a.shape()[nd - 1];
  const Shape batch_shape(out.shape().begin(), out.shape().end() - 2);
  int64_t batch = 1;
  for (int64_t extent : batch_shape) batch *= extent;
  const T* ap = static_cast<const T*>(a.raw_data());
  const T* bp = static_cast<const T*>(b.raw_data());
  T* cp = static_cast<T*>(out.raw_data());
  const T* biasp = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
  const int64_t lda = leading_dimension(a), ldb = leading_dimension(b), ldc = leading_dimension(out);
  auto one = [&](int64_t index) {
    gemm(trans_a, trans_b, m, n, k, T(1), ap + batch_offset(index, batch_shape, a.strides()), lda,
         bp + batch_offset(index, batch_shape, b.strides()), ldb, static_cast<T>(beta),
         cp + batch_offset(index, batch_shape, out.strides()), ldc, biasp);
  };
  // A few large products use every thread inside cpu::gemm, one after another. Many products (attention
  // heads, per-image convolutions) or small ones go one per thread instead, which saves the per-call
  // thread synchronization and the duplicated packing; each GEMM then runs on its thread alone, and since
  // cpu::gemm's result does not depend on its thread count, neither does this kernel's.
  constexpr double kSmallFlops = 4e6;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (batch > 1 && (flops < kSmallFlops || batch >= 4 * max_threads())) {
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(2e5 / std::max(flops, 1.0)));
    parallel_for(0, batch, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t index = lo; index < hi; ++index) one(index);
    });
  } else {
    for (int64_t index = 0; index < batch; ++index) one(index);
  }
}

void batched_gemm(const Tensor& a, bool trans_a, const Tensor& b, bool trans_b, const Tensor& bias,
                  const Tensor& out, double beta) {
  switch (out.dtype()) {
    case DType::f32: return batched_gemm_typed<float>(a, trans_a, b, trans_b, bias, out, beta);
    case DType::f64: return batched_gemm_typed<double>(a, trans_a, b, trans_b, bias, out, beta);
    default: refuse_dtype("batched_gemm", out.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::batched_gemm, DeviceType::cpu, batched_gemm);

}  // namespace vireo::cpu
