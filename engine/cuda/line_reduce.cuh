// Lines of a contiguous [outer, length, inner] block on the GPU: the shared machinery of the reduction,
// softmax and cross-entropy kernels, which all reduce each line (o, ·, i) of `length` values at stride
// `inner`. A group of threads (a power of two) works on each line, so long lines are not left to one thread,
// and loads stay coalesced in both layouts:
//   rows    (inner == 1): block (group, lines): threadIdx.x walks along a line, threadIdx.y picks the line;
//   columns (inner  > 1): block (32, group): threadIdx.x picks one of 32 neighbouring lines (adjacent i, so
//                         a warp reads 32 consecutive elements), threadIdx.y walks along them.
// group_reduce() then folds the group's partial results as a tree in shared memory; every thread of the
// block must call it (no early return), whether or not it has a line.
#pragma once

#include <cstdint>

#include "engine/cuda/common.h"

namespace vireo::cuda {

constexpr int kColumnLines = 32;   // lines per block in the columns layout (one warp's width)
constexpr int kColumnGroup = 8;    // threads per line in the columns layout
constexpr int kMaxRowGroup = 256;  // threads per line in the rows layout, at most

struct LineGeometry {
  int64_t outer, length, inner;
  dim3 block;
  int64_t blocks;  // along the lines (grid.x)

  bool rows() const { return inner == 1; }
  int group() const { return rows() ? static_cast<int>(block.x) : static_cast<int>(block.y); }
};

// The smallest power of two ≥ n (n ≤ 2^30).
inline int next_power_of_two(int64_t n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

// Threads per line grow with the line (32 … kMaxRowGroup) so short rows share a block.
inline LineGeometry line_geometry(int64_t outer, int64_t length, int64_t inner) {
  LineGeometry g{outer, length, inner, dim3(1, 1, 1), 0};
  if (inner == 1) {
    int group = next_power_of_two(length < 32 ? 32 : length > kMaxRowGroup ? kMaxRowGroup : length);
    const int lines = kThreads / group > 0 ? kThreads / group : 1;
    g.block = dim3(group, lines, 1);
    g.blocks = (outer + lines - 1) / lines;
  } else {
    g.block = dim3(kColumnLines, kColumnGroup, 1);
    g.blocks = outer * ((inner + kColumnLines - 1) / kColumnLines);
  }
  VIREO_CHECK(g.blocks < (int64_t{1} << 31), "CUDA line kernels: too many lines (", outer, " × ", inner, ")");
  return g;
}

// Where this thread works: its line (−1 when the block has more slots than lines left), the line's first
// element and stride, and its place in the group.
struct LineThread {
  int64_t line;    // o·inner + i: the index of the line's result in an [outer, inner] output
  int64_t base;    // offset of element 0 of the line
  int64_t stride;  // between consecutive elements of the line
  int lane;        // 0 … group − 1
  int group;
  int slot;        // the line's place in the block (its row of shared memory)
};

__device__ inline LineThread line_thread(int64_t outer, int64_t length, int64_t inner) {
  LineThread t;
  if (inner == 1) {
    t.lane = threadIdx.x;
    t.group = blockDim.x;
    t.slot = threadIdx.y;
    const int64_t line = blockIdx.x * int64_t{blockDim.y} + threadIdx.y;
    t.line = line < outer ? line : -1;
    t.base = line * length;
    t.stride = 1;
  } else {
    t.lane = threadIdx.y;
    t.group = blockDim.y;
    t.slot = threadIdx.x;
    const int64_t tiles = (inner + blockDim.x - 1) / blockDim.x;
    const int64_t o = blockIdx.x / tiles, i = (blockIdx.x % tiles) * blockDim.x + threadIdx.x;
    t.line = i < inner ? o * inner + i : -1;
    t.base = o * length * inner + i;
    t.stride = inner;
  }
  return t;
}

// Shared memory for one value of P per thread (what group_reduce needs).
template <class P>
size_t group_shared_bytes(const LineGeometry& g) {
  return sizeof(P) * g.block.x * g.block.y;
}

// Folds `value` over the line's group with the associative `combine`; every thread gets the result.
template <class P, class Combine>
__device__ P group_reduce(P value, const LineThread& t, Combine combine) {
  extern __shared__ __align__(16) unsigned char group_shared[];
  P* mine = reinterpret_cast<P*>(group_shared) + t.slot * t.group;
  mine[t.lane] = value;
  __syncthreads();
  for (int half = t.group / 2; half > 0; half /= 2) {
    if (t.lane < half) mine[t.lane] = combine(mine[t.lane], mine[t.lane + half]);
    __syncthreads();
  }
  const P result = mine[0];
  __syncthreads();  // the caller may reduce again with the same memory
  return result;
}

}  // namespace vireo::cuda
