// Index validation for the CUDA kernels that read i64 indices on the device (embedding, indexing, one_hot)
// (nvcc only). A kernel cannot throw: each out-of-range index is clamped where it is used (so nothing is
// read or written out of bounds) and its position is reported with an atomic minimum into a device slot.
// After the launch the host reads the slot back — the first bad position, whatever the thread order — and
// throws an Error naming the op, the index and the extent, as the CPU kernels do.
#pragma once

#include <cstdint>

#include "engine/cuda/common.h"

namespace vireo::cuda {

// True when k is outside [0, extent) (one unsigned comparison covers negative k).
__device__ __forceinline__ bool index_out_of_range(int64_t k, int64_t extent) {
  return static_cast<uint64_t>(k) >= static_cast<uint64_t>(extent);
}

__device__ __forceinline__ void report_bad_index(unsigned long long* slot, int64_t position) {
  atomicMin(slot, static_cast<unsigned long long>(position));
}

class IndexCheck {
 public:
  IndexCheck() : slot_(sizeof(unsigned long long)) {
    VIREO_CUDA_CHECK(cudaMemsetAsync(slot_.data(), 0xff, sizeof(unsigned long long), stream()));  // "none yet"
  }
  unsigned long long* slot() const { return slot_.as<unsigned long long>(); }

  // Waits for the kernels launched so far; returns the first bad position, or −1 when every index was good.
  int64_t first_bad_position() const {
    unsigned long long position = 0;
    VIREO_CUDA_CHECK(cudaMemcpyAsync(&position, slot_.data(), sizeof(position), cudaMemcpyDeviceToHost, stream()));
    VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return position == ~0ull ? -1 : static_cast<int64_t>(position);
  }

  // The index at `position` of a device array (for the message).
  static int64_t read_index(const int64_t* indices, int64_t position) {
    int64_t value = 0;
    VIREO_CUDA_CHECK(cudaMemcpyAsync(&value, indices + position, sizeof(value), cudaMemcpyDeviceToHost, stream()));
    VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return value;
  }

 private:
  DeviceBuffer slot_;
};

}  // namespace vireo::cuda
