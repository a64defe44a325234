// CUDA kernels for moving values: host↔device transfers, strided copies with dtype conversion, and fill.
// Conversions follow the CPU's (engine/cpu/copy.cpp): floating → integer truncates toward zero through
// i64, anything → bool is "nonzero", → f16/bf16 rounds to nearest even exactly once from any source.
#include <type_traits>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/kernels/copy.h"

namespace vireo::cuda {
namespace {

template <class T>
constexpr bool is_16bit_float = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Host and device: fill converts its value on the host with the same rules.
template <class Dst, class Src>
__host__ __device__ inline Dst convert(Src value) {
  if constexpr (std::is_same_v<Src, Dst>) {
    return value;
  } else if constexpr (is_16bit_float<Src>) {
    return convert<Dst>(load(value));  // every f16 and bf16 value is exact in f32
  } else if constexpr (std::is_same_v<Dst, bool>) {
    return value != Src(0);
  } else if constexpr (std::is_same_v<Dst, __half>) {
    if constexpr (std::is_same_v<Src, double>) return __double2half(value);
    else if constexpr (std::is_same_v<Src, float>) return __float2half_rn(value);
    else return __ll2half_rn(static_cast<long long>(value));
  } else if constexpr (std::is_same_v<Dst, __nv_bfloat16>) {
    if constexpr (std::is_same_v<Src, double>) return __double2bfloat16(value);
    else if constexpr (std::is_same_v<Src, float>) return __float2bfloat16_rn(value);
    else return __ll2bfloat16_rn(static_cast<long long>(value));
  } else if constexpr (std::is_integral_v<Dst> && std::is_floating_point_v<Src>) {
    return static_cast<Dst>(static_cast<int64_t>(value));
  } else {
    return static_cast<Dst>(value);
  }
}

template <class Src, class Dst>
__global__ void copy_contiguous(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = convert<Dst>(src[i]);
}

template <class Src, class Dst>
__global__ void copy_strided(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t n, OffsetCalculator<2> calc) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t offsets[2];
    calc.offsets(i, offsets);
    dst[offsets[1]] = convert<Dst>(src[offsets[0]]);
  }
}

void copy(const Tensor& src, const Tensor& dst) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_all(src.dtype(), [&](auto src_tag) {
    dispatch_all(dst.dtype(), [&](auto dst_tag) {
      using Src = decltype(src_tag);
      using Dst = decltype(dst_tag);
      const Src* s = static_cast<const Src*>(src.raw_data());
      Dst* d = static_cast<Dst*>(dst.raw_data());
      if (src.is_contiguous() && dst.is_contiguous()) {
        if constexpr (std::is_same_v<Src, Dst>) {
          VIREO_CUDA_CHECK(cudaMemcpyAsync(d, s, n * sizeof(Dst), cudaMemcpyDeviceToDevice, stream()));
        } else {
          copy_contiguous<<<blocks_for(n), kThreads, 0, stream()>>>(s, d, n);
          VIREO_CUDA_CHECK_LAUNCH();
        }
        return;
      }
      const auto calc = make_offset_calculator<2>(dst.shape(), {&src.strides(), &dst.strides()});
      copy_strided<<<blocks_for(n), kThreads, 0, stream()>>>(s, d, n, calc);
      VIREO_CUDA_CHECK_LAUNCH();
    });
  });
}

template <class T>
__global__ void fill_strided(T* __restrict__ dst, T value, int64_t n, OffsetCalculator<1> calc) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t offsets[1];
    calc.offsets(i, offsets);
    dst[offsets[0]] = value;
  }
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_all(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Converted once on the host, by the rules the copy kernels use, so the kernel stores the bits.
    const T converted = convert<T>(value);
    const auto calc = make_offset_calculator<1>(dst.shape(), {&dst.strides()});
    fill_strided<<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(dst.raw_data()), converted, n, calc);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// Between the host and the GPU (both contiguous, one dtype). A copy to the host waits for it, so the caller
// may read the values; a copy from pageable host memory returns once CUDA has staged the bytes, so the
// caller may free its buffer.
void transfer(const Tensor& src, const Tensor& dst) {
  VIREO_CHECK(src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype(),
              "transfer: needs contiguous tensors of one dtype, got ", src.dtype(), " and ", dst.dtype());
  const size_t bytes = static_cast<size_t>(src.numel()) * element_size(src.dtype());
  if (bytes == 0) return;
  const cudaMemcpyKind kind = src.device().is_cpu()   ? cudaMemcpyHostToDevice
                              : dst.device().is_cpu() ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  VIREO_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, kind, stream()));
  if (kind == cudaMemcpyDeviceToHost) VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::copy, DeviceType::cuda, copy);
VIREO_REGISTER_KERNEL(kernels::fill, DeviceType::cuda, fill);
VIREO_REGISTER_KERNEL(kernels::transfer, DeviceType::cuda, transfer);

}  // namespace vireo::cuda
