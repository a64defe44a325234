// CUDA kernels of the Approx-BP activations (contracts: engine/kernels/approx_activation.h): 2-bit codes
// packed four to a byte. The packing runs one thread per byte, so no two threads write the same byte and no
// atomics are needed; unpacking and the backward run one thread per element. The code and unpacking math
// is engine/cuda/elementwise_math.h, shared with the host tests. Codes of f16/bf16 inputs compare in f32.
#include <array>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/elementwise_math.h"
#include "engine/kernels/approx_activation.h"

namespace vireo::cuda {
namespace {

constexpr int kCodesPerByte = 4;

template <class T>
__global__ void pack_kernel(const T* __restrict__ x, uint8_t* __restrict__ packed, int64_t n, int64_t bytes,
                            Compute<T> c0, Compute<T> c1, Compute<T> c2) {
  for (int64_t byte = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; byte < bytes;
       byte += int64_t{gridDim.x} * blockDim.x) {
    uint8_t value = 0;
    for (int slot = 0; slot < kCodesPerByte; ++slot) {
      const int64_t i = byte * kCodesPerByte + slot;
      if (i < n) value |= static_cast<uint8_t>(activation_code(load(x[i]), c0, c1, c2) << (2 * slot));
    }
    packed[byte] = value;
  }
}

__global__ void unpack_kernel(const uint8_t* __restrict__ packed, uint8_t* __restrict__ codes, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    codes[i] = unpack_code(packed, i);
}

template <class C>
struct SlopeTable {
  C slope[4];
};

template <class T>
__global__ void backward_kernel(const uint8_t* __restrict__ packed, const T* __restrict__ dy, T* __restrict__ dx,
                                int64_t n, SlopeTable<Compute<T>> table) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dx[i] = store<T>(load(dy[i]) * table.slope[unpack_code(packed, i)]);
}

void check_contiguous(const char* op, const Tensor& a, const Tensor& b) {
  VIREO_CHECK(a.is_contiguous() && b.is_contiguous(), op, ": the CUDA kernel takes contiguous tensors, got ",
              describe(a), " and ", describe(b));
}

void pack(const Tensor& x, const std::array<double, 3>& thresholds, const Tensor& packed) {
  check_contiguous("pack_activation_codes", x, packed);
  const int64_t bytes = packed.numel();
  if (bytes == 0) return;
  dispatch_floating("pack_activation_codes", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    pack_kernel<T><<<blocks_for(bytes), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<uint8_t*>(packed.raw_data()), x.numel(), bytes,
        static_cast<C>(thresholds[0]), static_cast<C>(thresholds[1]), static_cast<C>(thresholds[2]));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void unpack(const Tensor& packed, const Tensor& codes) {
  check_contiguous("unpack_activation_codes", packed, codes);
  const int64_t n = codes.numel();
  if (n == 0) return;
  unpack_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const uint8_t*>(packed.raw_data()),
                                                          static_cast<uint8_t*>(codes.raw_data()), n);
  VIREO_CUDA_CHECK_LAUNCH();
}

void backward(const Tensor& packed, const Tensor& grad_output, const std::array<double, 4>& slopes,
              const Tensor& grad_input) {
  check_contiguous("approx_activation_backward", grad_output, grad_input);
  const int64_t n = grad_input.numel();
  if (n == 0) return;
  dispatch_floating("approx_activation_backward", grad_input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    const SlopeTable<C> table{{static_cast<C>(slopes[0]), static_cast<C>(slopes[1]), static_cast<C>(slopes[2]),
                               static_cast<C>(slopes[3])}};
    backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<const uint8_t*>(packed.raw_data()),
                                                                 static_cast<const T*>(grad_output.raw_data()),
                                                                 static_cast<T*>(grad_input.raw_data()), n, table);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::pack_activation_codes, DeviceType::cuda, pack);
VIREO_REGISTER_KERNEL(kernels::unpack_activation_codes, DeviceType::cuda, unpack);
VIREO_REGISTER_KERNEL(kernels::approx_activation_backward, DeviceType::cuda, backward);

}  // namespace vireo::cuda
