// CUDA random_fill: the CPU's stream, element for element (contract: engine/kernels/random.h). Element i
// reads only its own Philox counter block, computed by the same philox_block() the CPU's Generator uses
// (engine/random.h, VIREO_HOST_DEVICE; the per-element draws are engine/cuda/random_math.h), so a seeded
// initialization gives the same tensor on both devices: uniform draws bit for bit, normal draws up to the
// last bit of the two math libraries' log, cos and sin.
// f16/bf16 draw like f64 (two blocks' words per pair, as random_blocks_needed reserves) and round once.
#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/random_math.h"
#include "engine/kernels/random.h"

namespace vireo::cuda {
namespace {

// A double draw in T, rounded once.
template <class T>
__device__ __forceinline__ T from_double(double value) {
  if constexpr (std::is_same_v<T, __half>) return __double2half(value);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __double2bfloat16(value);
  else return static_cast<T>(value);
}

// A uniform draw in T: rounding to nearest could reach 1, which U[0, 1) never gives; such draws take the
// largest value below 1 (1 − 2⁻¹¹ in f16, 1 − 2⁻⁸ in bf16).
template <class T>
__device__ __forceinline__ T uniform_from_double(double u) {
  if constexpr (std::is_same_v<T, __half>) return u < 1.0 - 0x1p-12 ? __double2half(u) : __float2half_rn(1.0f - 0x1p-11f);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>)
    return u < 1.0 - 0x1p-9 ? __double2bfloat16(u) : __float2bfloat16_rn(1.0f - 0x1p-8f);
  else return static_cast<T>(u);
}

template <class T>
__global__ void random_fill_kernel(T* __restrict__ out, int64_t n, bool normal, uint64_t seed, uint64_t first_block) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    if (normal) {
      out[i] = from_double<T>(normal_element(seed, first_block, i));
    } else if constexpr (std::is_same_v<T, float>) {
      out[i] = uniform_f32_element(seed, first_block, i);
    } else {
      out[i] = uniform_from_double<T>(uniform_f64_element(seed, first_block, i));
    }
  }
}

void random_fill(const Tensor& out, kernels::Distribution distribution, const Generator& generator,
                 uint64_t first_block) {
  VIREO_CHECK(out.is_contiguous(), "random_fill: the CUDA kernel fills contiguous tensors, got ", describe(out));
  const int64_t n = out.numel();
  if (n == 0) return;
  dispatch_floating("random_fill", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    random_fill_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<T*>(out.raw_data()), n, distribution == kernels::Distribution::normal, generator.seed(),
        first_block);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::random_fill, DeviceType::cuda, random_fill);

}  // namespace vireo::cuda
