// CPU cumulative sum: a sequential scan per row (inner == 1), or a scan over whole rows of `inner`
// elements at once, which vectorizes along the contiguous inner axis.
#include <type_traits>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/cumsum.h"

namespace vireo::cpu {
namespace {

template <class T>
using Accumulator = std::conditional_t<std::is_same_v<T, float>, double, T>;

constexpr int64_t kInnerBlock = 256;

template <class T>
void cumsum_typed(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool reverse, const Tensor& out) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  if (outer * extent * inner == 0) return;
  // Row r of the scan, in scan order.
  auto position = [extent, reverse](int64_t step) { return reverse ? extent - 1 - step : step; };
  if (inner == 1) {
    parallel_for(0, outer, std::max<int64_t>(1, 16384 / extent), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        const T* src = xp + o * extent;
        T* dst = op + o * extent;
        Accumulator<T> acc = 0;
        for (int64_t step = 0; step < extent; ++step) {
          const int64_t r = position(step);
          acc += src[r];
          dst[r] = static_cast<T>(acc);
        }
      }
    });
    return;
  }
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
  parallel_for(0, outer * blocks, std::max<int64_t>(1, 16384 / (extent * std::min(inner, kInnerBlock))),
               [&](int64_t lo, int64_t hi) {
                 Accumulator<T> acc[kInnerBlock];
                 for (int64_t task = lo; task < hi; ++task) {
                   const int64_t o = task / blocks, i0 = (task % blocks) * kInnerBlock;
                   const int64_t len = std::min(inner, i0 + kInnerBlock) - i0;
                   std::fill(acc, acc + len, Accumulator<T>(0));
                   for (int64_t step = 0; step < extent; ++step) {
                     const int64_t at = (o * extent + position(step)) * inner + i0;
                     const T* src = xp + at;
                     T* dst = op + at;
#pragma omp simd
                     for (int64_t i = 0; i < len; ++i) {
                       acc[i] += src[i];
                       dst[i] = static_cast<T>(acc[i]);
                     }
                   }
                 }
               });
}

void cumsum(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool reverse, const Tensor& out) {
  switch (x.dtype()) {
    case DType::f32: return cumsum_typed<float>(x, outer, extent, inner, reverse, out);
    case DType::f64: return cumsum_typed<double>(x, outer, extent, inner, reverse, out);
    case DType::i64: return cumsum_typed<int64_t>(x, outer, extent, inner, reverse, out);
    default: refuse_dtype("cumsum", x.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::cumsum, DeviceType::cpu, cumsum);

}  // namespace vireo::cpu
