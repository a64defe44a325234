// What every CUDA kernel file of the backend shares (engine/cuda/*.cu and *.cpp; not an installed header):
// error checks that name the call, the device's stream and library handles, scratch memory from the caching
// allocator, the strided-offset calculator, and the dtype dispatch. Host code (g++) and device code (nvcc)
// both include it; the index math is __host__ __device__ so it is tested on machines without a GPU.
//
// One stream per device: every kernel, cuBLAS and cuDNN call and copy of the backend is issued on stream(),
// so work runs in launch order and the caching allocator may reuse a block as soon as the host releases it.
#pragma once

#include <array>
#include <cstdint>

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/error.h"
#include "engine/host_device.h"
#include "engine/tensor.h"


namespace vireo::cuda {

[[noreturn]] void fail_cuda(const char* call, const char* file, int line, const char* message);

}  // namespace vireo::cuda

// Each throws vireo::Error with the failing call, its file and line, and the library's own message.
#define VIREO_CUDA_CHECK(call)                                                                      \
  do {                                                                                              \
    const cudaError_t vireo_status = (call);                                                        \
    if (vireo_status != cudaSuccess)                                                                \
      ::vireo::cuda::fail_cuda(#call, __FILE__, __LINE__, cudaGetErrorString(vireo_status));       \
  } while (0)
#define VIREO_CUBLAS_CHECK(call)                                                                    \
  do {                                                                                              \
    const cublasStatus_t vireo_status = (call);                                                     \
    if (vireo_status != CUBLAS_STATUS_SUCCESS)                                                      \
      ::vireo::cuda::fail_cuda(#call, __FILE__, __LINE__, cublasGetStatusString(vireo_status));    \
  } while (0)
#define VIREO_CUDNN_CHECK(call)                                                                     \
  do {                                                                                              \
    const cudnnStatus_t vireo_status = (call);                                                      \
    if (vireo_status != CUDNN_STATUS_SUCCESS)                                                       \
      ::vireo::cuda::fail_cuda(#call, __FILE__, __LINE__, cudnnGetErrorString(vireo_status));      \
  } while (0)
// After every kernel launch: a bad launch configuration is reported here, not at some later call.
#define VIREO_CUDA_CHECK_LAUNCH() VIREO_CUDA_CHECK(cudaGetLastError())

namespace vireo::cuda {

// The current device's stream and library handles (created on first use, bound to stream()).
cudaStream_t stream();
// The index of the GPU this process uses (one per process: runtime.cpp), cuda:0 when none was chosen yet.
int current_device();
cublasHandle_t cublas();
cublasLtHandle_t cublas_lt();
cudnnHandle_t cudnn();

// Scratch memory (cuDNN and cuBLASLt workspaces, partial sums) from the caching allocator of the process's
// GPU (current_device(), unless an index is given), released when the buffer goes out of scope. Safe to
// release right after launching the kernels that use it: on the single stream, a later kernel that reuses
// the block runs after them.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes, int device_index = -1);  // -1: current_device()
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  void* data() const { return data_; }
  template <class T> T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  int device_index_ = 0;
};

// Launch geometry for a grid-stride loop over n elements: enough blocks to fill the GPU a few times over,
// never more than the hardware limit.
constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  const int64_t wanted = (n + threads - 1) / threads;
  const int64_t limit = int64_t{1} << 16;  // grid-stride loops cover the rest
  return static_cast<unsigned>(wanted < 1 ? 1 : wanted > limit ? limit : wanted);
}

// Element offsets of up to `Operands` tensors that share one shape, each with its own strides (in elements,
// 0 where broadcast), for a linear row-major index into that shape. Dimensions that are contiguous in every
// operand are merged when it is built, so most tensors need one or two divisions per element.
constexpr int kMaxDims = 12;
template <int Operands>
struct OffsetCalculator {
  int dims = 0;
  int64_t sizes[kMaxDims] = {};                  // innermost first
  int64_t strides[Operands][kMaxDims] = {};      // innermost first

  VIREO_HOST_DEVICE void offsets(int64_t linear, int64_t (&out)[Operands]) const {
    for (int k = 0; k < Operands; ++k) out[k] = 0;
    for (int d = 0; d < dims; ++d) {
      const int64_t index = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < Operands; ++k) out[k] += index * strides[k][d];
    }
  }
};

// Builds the calculator for `shape` and the operands' strides (each the same rank as shape). Throws when the
// shape has more than kMaxDims dimensions after merging.
template <int Operands>
OffsetCalculator<Operands> make_offset_calculator(const Shape& shape, const std::array<const Shape*, Operands>& strides) {
  OffsetCalculator<Operands> calc;
  const int ndim = static_cast<int>(shape.size());
  // Walk from the innermost dimension outwards, merging dimension d into the current one when, for every
  // operand, stepping d once equals stepping the current (merged) one across its whole extent.
  for (int d = ndim - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;  // size-1 dimensions move nothing
    if (calc.dims > 0) {
      bool mergeable = true;
      const int c = calc.dims - 1;
      for (int k = 0; k < Operands; ++k)
        if ((*strides[k])[d] != calc.strides[k][c] * calc.sizes[c]) mergeable = false;
      if (mergeable) {
        calc.sizes[c] *= shape[d];
        continue;
      }
    }
    VIREO_CHECK(calc.dims < kMaxDims, "CUDA kernels take tensors of at most ", kMaxDims,
                " non-mergeable dimensions; got shape ", shape);
    calc.sizes[calc.dims] = shape[d];
    for (int k = 0; k < Operands; ++k) calc.strides[k][calc.dims] = (*strides[k])[d];
    ++calc.dims;
  }
  return calc;
}

}  // namespace vireo::cuda
