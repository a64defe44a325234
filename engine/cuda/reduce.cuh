// Warp and block reductions shared by the CUDA kernels (nvcc only). Each reduces in an order fixed by the
// launch geometry (butterfly shuffles inside a warp, then the warps' results in warp order), so a result
// never depends on timing.
#pragma once

#include "engine/cuda/welford.h"

namespace vireo::cuda {

constexpr int kWarpSize = 32;

template <class A>
__device__ __forceinline__ A warp_sum(A value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) value += __shfl_xor_sync(0xffffffffu, value, offset);
  return value;
}

template <class A>
__device__ __forceinline__ A warp_max(A value) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const A other = __shfl_xor_sync(0xffffffffu, value, offset);
    value = other > value ? other : value;
  }
  return value;
}

__device__ __forceinline__ WelfordStats warp_welford(WelfordStats stats) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    WelfordStats other;
    other.count = __shfl_xor_sync(0xffffffffu, stats.count, offset);
    other.mean = __shfl_xor_sync(0xffffffffu, stats.mean, offset);
    other.m2 = __shfl_xor_sync(0xffffffffu, stats.m2, offset);
    stats = welford_merge(stats, other);
  }
  return stats;
}

// Block-wide reductions (blockDim.x a multiple of 32, at most 1024). Every thread gets the result. `scratch`
// holds one value per warp; the functions synchronize before returning, so it may be reused at once.
template <class A>
__device__ A block_sum(A value, A* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
  value = warp_sum(value);
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  A total = 0;
  for (int w = 0; w < warps; ++w) total += scratch[w];
  __syncthreads();
  return total;
}

__device__ inline WelfordStats block_welford(WelfordStats stats, WelfordStats* scratch) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, warps = blockDim.x / kWarpSize;
  stats = warp_welford(stats);
  if (lane == 0) scratch[warp] = stats;
  __syncthreads();
  WelfordStats total;
  for (int w = 0; w < warps; ++w) total = welford_merge(total, scratch[w]);
  __syncthreads();
  return total;
}

// Grid-stride loop bounds.
__device__ __forceinline__ int64_t global_thread() { return blockIdx.x * int64_t{blockDim.x} + threadIdx.x; }
__device__ __forceinline__ int64_t grid_threads() { return int64_t{gridDim.x} * blockDim.x; }

}  // namespace vireo::cuda
