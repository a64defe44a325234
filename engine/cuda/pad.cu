// CUDA padding kernels (contracts: engine/kernels/pad.h).
//   pad:      one thread per output element; per dimension, the output coordinate maps to the input
//             coordinate it reads (pad_source_index, shared with the host tests), or to the fill value.
//   pad_fold: the reflect/replicate backward along one dimension, one thread per grad_in element: the
//             identity position's gradient first, then every edge position that read this element, in
//             increasing order — the CPU's order of additions, so f32 and f64 results match it exactly.
#include <vector>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/elementwise_math.h"
#include "engine/kernels/pad.h"

namespace vireo::cuda {
namespace {

struct PadGeometry {
  int dims = 0;
  int64_t out_sizes[kMaxDims] = {};
  int64_t in_sizes[kMaxDims] = {};
  int64_t in_strides[kMaxDims] = {};
  int64_t before[kMaxDims] = {};
};

template <class T>
__global__ void pad_kernel(const T* __restrict__ x, T* __restrict__ out, int64_t n, PadGeometry geometry,
                           PadMode mode, T value) {
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    int64_t rest = e, source = 0;
    bool fill = false;
    for (int d = geometry.dims - 1; d >= 0; --d) {
      const int64_t p = rest % geometry.out_sizes[d];
      rest /= geometry.out_sizes[d];
      const int64_t s = pad_source_index(p, geometry.before[d], geometry.in_sizes[d], mode);
      fill = fill || s < 0;
      source += s * geometry.in_strides[d];
    }
    out[e] = fill ? value : x[source];
  }
}

template <class T>
T converted_fill(double value) {
  if constexpr (std::is_same_v<T, __half>) return __double2half(value);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __double2bfloat16(value);
  else if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<int64_t>(value));
  else return static_cast<T>(value);
}

void pad(const Tensor& x, const Tensor& out, const std::vector<int64_t>& before, PadMode mode, double value) {
  VIREO_CHECK(x.is_contiguous() && out.is_contiguous(), "pad: the CUDA kernel takes contiguous tensors, got ",
              describe(x), " and ", describe(out));
  const int64_t n = out.numel();
  if (n == 0) return;
  const int dims = static_cast<int>(x.dim());
  VIREO_CHECK(dims <= kMaxDims, "pad: the CUDA kernel takes at most ", kMaxDims, " dimensions, got ", describe(x));
  PadGeometry geometry;
  geometry.dims = dims;
  const Shape in_strides = contiguous_strides(x.shape());
  for (int d = 0; d < dims; ++d) {
    geometry.out_sizes[d] = out.shape()[d];
    geometry.in_sizes[d] = x.shape()[d];
    geometry.in_strides[d] = in_strides[d];
    geometry.before[d] = before[d];
  }
  auto launch = [&](auto tag) {
    using T = decltype(tag);
    pad_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                            static_cast<T*>(out.raw_data()), n, geometry, mode,
                                                            converted_fill<T>(value));
    VIREO_CUDA_CHECK_LAUNCH();
  };
  if (x.dtype() == DType::i64) return launch(int64_t{});
  dispatch_floating("pad", x.dtype(), launch);
}

template <class T>
__global__ void pad_fold_kernel(const T* __restrict__ grad_out, T* __restrict__ grad_in, int64_t outer,
                                int64_t extent, int64_t out_extent, int64_t inner, int64_t before, PadMode mode) {
  const int64_t n = outer * extent * inner;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e % inner, s = (e / inner) % extent, o = e / (inner * extent);
    const T* g = grad_out + o * out_extent * inner + i;
    Compute<T> sum = load(g[(s + before) * inner]);
    for (int64_t j = 0; j < before; ++j)
      if (pad_source_index(j, before, extent, mode) == s) sum += load(g[j * inner]);
    for (int64_t j = before + extent; j < out_extent; ++j)
      if (pad_source_index(j, before, extent, mode) == s) sum += load(g[j * inner]);
    grad_in[e] = store<T>(sum);
  }
}

void pad_fold(const Tensor& grad_out, const Tensor& grad_in, int64_t outer, int64_t inner, int64_t before,
              PadMode mode) {
  VIREO_CHECK(grad_out.is_contiguous() && grad_in.is_contiguous(),
              "pad_fold: the CUDA kernel takes contiguous tensors, got ", describe(grad_out), " and ",
              describe(grad_in));
  VIREO_CHECK(grad_out.dtype() != DType::i64, "pad_fold: i64 tensors have no gradient");
  VIREO_CHECK(mode != PadMode::constant && before >= 0, "pad_fold: folds reflect or replicate pads with before ≥ 0, got before = ", before);
  if (outer * inner == 0 || grad_in.numel() == 0) return;
  const int64_t out_extent = grad_out.numel() / (outer * inner);
  const int64_t extent = grad_in.numel() / (outer * inner);
  dispatch_floating("pad_backward", grad_out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    pad_fold_kernel<T><<<blocks_for(grad_in.numel()), kThreads, 0, stream()>>>(
        static_cast<const T*>(grad_out.raw_data()), static_cast<T*>(grad_in.raw_data()), outer, extent, out_extent,
        inner, before, mode);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::pad, DeviceType::cuda, pad);
VIREO_REGISTER_KERNEL(kernels::pad_fold, DeviceType::cuda, pad_fold);

}  // namespace vireo::cuda
