// CUDA cumulative sum along the middle axis of a contiguous [outer, extent, inner] block, forward
// (Σ_{r' ≤ r}) or reverse (Σ_{r' ≥ r}, the forward's backward). f32 accumulates in f64 like the CPU.
//
// Two schedules:
//   long rows (inner == 1, extent ≥ one block): one block per row scans tiles of kThreads elements — a warp
//     scan with shuffles, then a scan of the warp totals, plus the carry from earlier tiles;
//   otherwise one thread per line walks it in order (for inner > 1 neighbouring threads take neighbouring
//     lines, so each step's loads are coalesced), which is also the CPU's exact order of additions.
#include <type_traits>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/kernels/cumsum.h"

namespace vireo::cuda {
namespace {

template <class T>
using Accumulator = std::conditional_t<std::is_same_v<T, float>, double, Compute<T>>;

constexpr int kWarp = 32;
constexpr int kWarps = kThreads / kWarp;

// Position of scan step `step` in a line of `extent`.
__device__ __forceinline__ int64_t scan_position(int64_t step, int64_t extent, bool reverse) {
  return reverse ? extent - 1 - step : step;
}

template <class T>
__global__ void cumsum_lines(const T* __restrict__ x, T* __restrict__ out, int64_t outer, int64_t extent,
                             int64_t inner, bool reverse) {
  using A = Accumulator<T>;
  const int64_t lines = outer * inner;
  for (int64_t line = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; line < lines;
       line += int64_t{gridDim.x} * blockDim.x) {
    const int64_t o = line / inner, i = line % inner;
    const int64_t base = o * extent * inner + i;
    A acc = A(0);
    for (int64_t step = 0; step < extent; ++step) {
      const int64_t at = base + scan_position(step, extent, reverse) * inner;
      acc += static_cast<A>(load(x[at]));
      out[at] = store<T>(static_cast<Compute<T>>(acc));
    }
  }
}

// Inclusive scan of one value per thread across the block (kThreads threads); every thread gets its prefix,
// and `total` the block's sum.
template <class A>
__device__ A block_inclusive_scan(A value, A& total) {
  __shared__ A warp_totals[kWarps];
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  for (int shift = 1; shift < kWarp; shift *= 2) {
    const A other = __shfl_up_sync(0xffffffffu, value, shift);
    if (lane >= shift) value += other;
  }
  if (lane == kWarp - 1) warp_totals[warp] = value;
  __syncthreads();
  if (warp == 0) {
    A t = lane < kWarps ? warp_totals[lane] : A(0);
    for (int shift = 1; shift < kWarp; shift *= 2) {
      const A other = __shfl_up_sync(0xffffffffu, t, shift);
      if (lane >= shift) t += other;
    }
    if (lane < kWarps) warp_totals[lane] = t;  // now inclusive prefixes of the warp totals
  }
  __syncthreads();
  if (warp > 0) value += warp_totals[warp - 1];
  total = warp_totals[kWarps - 1];
  __syncthreads();  // the next call rewrites warp_totals
  return value;
}

template <class T>
__global__ void cumsum_rows(const T* __restrict__ x, T* __restrict__ out, int64_t rows, int64_t extent, bool reverse) {
  using A = Accumulator<T>;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* src = x + row * extent;
    T* dst = out + row * extent;
    A carry = A(0);
    for (int64_t tile = 0; tile < extent; tile += kThreads) {
      const int64_t step = tile + threadIdx.x;
      const bool inside = step < extent;
      const int64_t at = inside ? scan_position(step, extent, reverse) : 0;
      A total;
      const A prefix = block_inclusive_scan(inside ? static_cast<A>(load(src[at])) : A(0), total);
      if (inside) dst[at] = store<T>(static_cast<Compute<T>>(carry + prefix));
      carry += total;
    }
  }
}

template <class T>
void cumsum_typed(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool reverse, const Tensor& out) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  if (inner == 1 && extent >= kThreads) {
    const unsigned blocks = static_cast<unsigned>(outer < (int64_t{1} << 16) ? outer : (int64_t{1} << 16));
    cumsum_rows<T><<<blocks, kThreads, 0, stream()>>>(xp, op, outer, extent, reverse);
  } else {
    cumsum_lines<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(xp, op, outer, extent, inner, reverse);
  }
  VIREO_CUDA_CHECK_LAUNCH();
}

void cumsum(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool reverse, const Tensor& out) {
  VIREO_CHECK(x.is_contiguous() && out.is_contiguous(), "cumsum: the CUDA kernel takes contiguous tensors, got ",
              describe(x), " and ", describe(out));
  if (outer * extent * inner == 0) return;
  if (x.dtype() == DType::i64) return cumsum_typed<int64_t>(x, outer, extent, inner, reverse, out);
  dispatch_floating("cumsum", x.dtype(), [&](auto tag) {
    cumsum_typed<decltype(tag)>(x, outer, extent, inner, reverse, out);
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::cumsum, DeviceType::cuda, cumsum);

}  // namespace vireo::cuda
