// CPU reduction kernel over the middle axis of a contiguous [outer, reduced, inner] block.
#include <limits>
#include <vector>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/reduction.h"

namespace vireo::cpu {
namespace {

using kernels::ReduceOp;

template <class T>
using Accumulator = std::conditional_t<std::is_same_v<T, float>, double, T>;

// Sum of x[r·stride] for r in [lo, hi).
template <class T>
Accumulator<T> sum_range(const T* x, int64_t lo, int64_t hi, int64_t stride) {
  Accumulator<T> acc = 0;
  if (stride == 1) {
#pragma omp simd reduction(+ : acc)
    for (int64_t r = lo; r < hi; ++r) acc += x[r];
  } else {
    for (int64_t r = lo; r < hi; ++r) acc += x[r * stride];
  }
  return acc;
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, int64_t outer, int64_t reduced, int64_t inner, const Tensor& values,
                  const Tensor& indices) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* vp = static_cast<T*>(values.raw_data());
  int64_t* ip = indices.defined() ? static_cast<int64_t*>(indices.raw_data()) : nullptr;
  const int64_t outputs = outer * inner;

  if (op == ReduceOp::sum) {
    if (outputs == 1 && reduced >= (1 << 17)) {
      // One long sum: fixed-size blocks summed in parallel, then added in block order — the same
      // result for any thread count.
      constexpr int64_t kBlock = 1 << 15;
      const int64_t blocks = (reduced + kBlock - 1) / kBlock;
      std::vector<Accumulator<T>> partial(blocks);
      parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t b = lo; b < hi; ++b) partial[b] = sum_range(xp, b * kBlock, std::min(reduced, (b + 1) * kBlock), 1);
      });
      Accumulator<T> total = 0;
      for (auto p : partial) total += p;
      vp[0] = static_cast<T>(total);
      return;
    }
    if (inner == 1) {
      parallel_for(0, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(reduced, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t o = lo; o < hi; ++o) vp[o] = static_cast<T>(sum_range(xp + o * reduced, 0, reduced, 1));
      });
      return;
    }
    // Reduce across rows: accumulate whole rows of `inner` so the loop runs along contiguous memory.
    parallel_for(0, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(reduced * inner, 1)), [&](int64_t lo, int64_t hi) {
      std::vector<Accumulator<T>> acc(inner);
      for (int64_t o = lo; o < hi; ++o) {
        std::fill(acc.begin(), acc.end(), Accumulator<T>(0));
        const T* block = xp + o * reduced * inner;
        for (int64_t r = 0; r < reduced; ++r) {
          const T* row = block + r * inner;
#pragma omp simd
          for (int64_t i = 0; i < inner; ++i) acc[i] += row[i];
        }
        for (int64_t i = 0; i < inner; ++i) vp[o * inner + i] = static_cast<T>(acc[i]);
      }
    });
    return;
  }

  const bool want_max = op == ReduceOp::max;
  parallel_for(0, outputs, std::max<int64_t>(1, 16384 / std::max<int64_t>(reduced, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t out = lo; out < hi; ++out) {
      const int64_t o = out / inner, i = out % inner;
      const T* base = xp + o * reduced * inner + i;
      T best = base[0];
      int64_t best_index = 0;
      for (int64_t r = 1; r < reduced; ++r) {
        const T v = base[r * inner];
        if constexpr (std::is_floating_point_v<T>) {
          if (best != best) break;  // NaN wins, as in torch
          if (v != v) {
            best = v;
            best_index = r;
            break;
          }
        }
        if (want_max ? v > best : v < best) {
          best = v;
          best_index = r;
        }
      }
      vp[out] = best;
      if (ip) ip[out] = best_index;
    }
  });
}

void reduce(ReduceOp op, const Tensor& x, int64_t outer, int64_t reduced, int64_t inner, const Tensor& values,
            const Tensor& indices) {
  switch (x.dtype()) {
    case DType::f32: return reduce_typed<float>(op, x, outer, reduced, inner, values, indices);
    case DType::f64: return reduce_typed<double>(op, x, outer, reduced, inner, values, indices);
    case DType::i64: return reduce_typed<int64_t>(op, x, outer, reduced, inner, values, indices);
    default: refuse_dtype(op == ReduceOp::sum ? "sum" : op == ReduceOp::max ? "max" : "min", x.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::reduce, DeviceType::cpu, reduce);

}  // namespace vireo::cpu
