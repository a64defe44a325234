// CUDA reduction kernel: values[o, i] = reduce_r x[o, r, i] over a contiguous [outer, reduced, inner] block,
// with the first index attaining a max/min. Each line is reduced by a group of threads (engine/cuda/
// line_reduce.cuh): every thread folds a strided share, then the group folds the partials as a tree, with
// the rules of engine/cuda/reduce_math.h (the first index and NaN rules of the CPU's scan hold for any tree).
// When there are too few lines to fill the GPU — one long sum over a whole tensor — the reduced axis is also
// split into chunks reduced by separate blocks; a second kernel combines each line's chunks in order.
//
// Accumulation: f32 sums in f64 (as the CPU), f16/bf16 in f32, f64 and i64 in themselves. The tree's order
// is fixed by the launch geometry, so a result does not change from run to run.
#include <type_traits>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/line_reduce.cuh"
#include "engine/cuda/reduce_math.h"
#include "engine/kernels/reduction.h"

namespace vireo::cuda {
namespace {

template <class T>
using Accumulator = std::conditional_t<std::is_same_v<T, float>, double, Compute<T>>;

// Below this many blocks an H100 (132 SMs) has idle multiprocessors; a split aims for about this many.
constexpr int64_t kTargetBlocks = 1024;
// The shortest chunk worth a block of its own: rows read it with up to 256 threads, columns with 8.
constexpr int64_t kMinRowChunk = 4096;
constexpr int64_t kMinColumnChunk = 256;

template <class A>
struct Combine {
  ReduceOp op;
  __device__ ReducePartial<A> operator()(ReducePartial<A> a, ReducePartial<A> b) const {
    return reduce_combine(op, a, b);
  }
};

template <class T, class A>
__device__ void write_result(ReduceOp op, ReducePartial<A> result, int64_t line, T* values, int64_t* indices) {
  values[line] = store<T>(static_cast<Compute<T>>(result.value));
  if (indices != nullptr && op != ReduceOp::sum) indices[line] = result.index;
}

// Block (line tile, chunk) reduces positions [chunk·chunk_length, (chunk + 1)·chunk_length) of its lines,
// writing the results, or the chunk's partials when the axis is split.
template <class T, class A>
__global__ void reduce_lines(ReduceOp op, const T* __restrict__ x, int64_t outer, int64_t reduced, int64_t inner,
                             int64_t chunk_length, T* __restrict__ values, int64_t* __restrict__ indices,
                             ReducePartial<A>* __restrict__ partials) {
  const LineThread t = line_thread(outer, reduced, inner);
  const int64_t lo = blockIdx.y * chunk_length;
  const int64_t hi = lo + chunk_length < reduced ? lo + chunk_length : reduced;
  ReducePartial<A> acc = reduce_identity<A>(op);
  if (t.line >= 0) {
    for (int64_t r = lo + t.lane; r < hi; r += t.group)
      acc = reduce_combine(op, acc, reduce_element(op, static_cast<A>(load(x[t.base + r * t.stride])), r));
  }
  acc = group_reduce(acc, t, Combine<A>{op});
  if (t.line < 0 || t.lane != 0) return;
  if (partials != nullptr) partials[blockIdx.y * outer * inner + t.line] = acc;
  else write_result(op, acc, t.line, values, indices);
}

// One thread per line: the chunks' partials in chunk order.
template <class T, class A>
__global__ void combine_chunks(ReduceOp op, const ReducePartial<A>* __restrict__ partials, int64_t lines,
                               int64_t chunks, T* __restrict__ values, int64_t* __restrict__ indices) {
  for (int64_t line = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; line < lines;
       line += int64_t{gridDim.x} * blockDim.x) {
    ReducePartial<A> acc = reduce_identity<A>(op);
    for (int64_t c = 0; c < chunks; ++c) acc = reduce_combine(op, acc, partials[c * lines + line]);
    write_result(op, acc, line, values, indices);
  }
}

const char* name(ReduceOp op) { return op == ReduceOp::sum ? "sum" : op == ReduceOp::max ? "max" : "min"; }

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, int64_t outer, int64_t reduced, int64_t inner, const Tensor& values,
                  const Tensor& indices) {
  using A = Accumulator<T>;
  const int64_t lines = outer * inner;
  if (lines == 0) return;
  VIREO_CHECK(values.is_contiguous() && (!indices.defined() || indices.is_contiguous()),
              name(op), ": the CUDA reduction writes contiguous outputs");
  const LineGeometry g = line_geometry(outer, reduced, inner);
  const int64_t chunk_length =
      reduce_chunk_length(g.blocks, reduced, g.rows() ? kMinRowChunk : kMinColumnChunk, kTargetBlocks);
  const int64_t chunks = reduced == 0 ? 1 : (reduced + chunk_length - 1) / chunk_length;
  const T* xp = static_cast<const T*>(x.raw_data());
  T* vp = static_cast<T*>(values.raw_data());
  int64_t* ip = indices.defined() ? static_cast<int64_t*>(indices.raw_data()) : nullptr;
  const dim3 grid(static_cast<unsigned>(g.blocks), static_cast<unsigned>(chunks), 1);
  const size_t shared = group_shared_bytes<ReducePartial<A>>(g);
  if (chunks == 1) {
    reduce_lines<T, A><<<grid, g.block, shared, stream()>>>(op, xp, outer, reduced, inner, chunk_length, vp, ip,
                                                            nullptr);
    VIREO_CUDA_CHECK_LAUNCH();
    return;
  }
  DeviceBuffer partials(static_cast<size_t>(chunks * lines) * sizeof(ReducePartial<A>), x.device().index);
  reduce_lines<T, A><<<grid, g.block, shared, stream()>>>(op, xp, outer, reduced, inner, chunk_length, vp, ip,
                                                          partials.as<ReducePartial<A>>());
  VIREO_CUDA_CHECK_LAUNCH();
  combine_chunks<T, A><<<blocks_for(lines), kThreads, 0, stream()>>>(op, partials.as<ReducePartial<A>>(), lines,
                                                                     chunks, vp, ip);
  VIREO_CUDA_CHECK_LAUNCH();
}

void reduce(ReduceOp op, const Tensor& x, int64_t outer, int64_t reduced, int64_t inner, const Tensor& values,
            const Tensor& indices) {
  if (x.dtype() == DType::i64) return reduce_typed<int64_t>(op, x, outer, reduced, inner, values, indices);
  dispatch_floating(name(op), x.dtype(), [&](auto tag) {
    reduce_typed<decltype(tag)>(op, x, outer, reduced, inner, values, indices);
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::reduce, DeviceType::cuda, reduce);

}  // namespace vireo::cuda
