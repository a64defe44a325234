// CPU kernels for pad (one pass over the output, whatever the mode) and its reflect/replicate backward.
#include <cstring>
#include <vector>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/pad.h"

namespace vireo::cpu {
namespace {

using kernels::pad_source;

// The output is walked row by row (a row = the last dimension). A row reads one input row, found by mapping
// each leading coordinate through a per-dimension source table, or is all fill value when a coordinate
// falls outside in constant mode. Inside a row the middle stretch is a straight copy and only the edges
// are remapped. Row coordinates advance like an odometer, so no division runs per row.
template <class T>
void pad_typed(const Tensor& x, const Tensor& out, const std::vector<int64_t>& before, PadMode mode, T value) {
  const Shape& in_shape = x.shape();
  const Shape& out_shape = out.shape();
  const int64_t ndim = static_cast<int64_t>(in_shape.size());
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  const Shape in_strides = contiguous_strides(in_shape);
  const int64_t width = in_shape[ndim - 1], out_width = out_shape[ndim - 1], b = before[ndim - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < ndim; ++d) rows *= out_shape[d];
  if (rows == 0 || out_width == 0) return;
  // sources[d][p]: the input element offset that output coordinate p of dimension d reads, −1 for fill.
  std::vector<std::vector<int64_t>> sources(ndim);
  for (int64_t d = 0; d < ndim; ++d) {
    sources[d].resize(out_shape[d]);
    for (int64_t p = 0; p < out_shape[d]; ++p) {
      const int64_t s = in_shape[d] > 0 ? pad_source(p, before[d], in_shape[d], mode) : -1;
      sources[d][p] = s < 0 ? -1 : s * in_strides[d];
    }
  }
  // The last dimension's middle stretch [mid_lo, mid_hi) copies input[j − b]; the rest are edges.
  const int64_t mid_lo = std::clamp<int64_t>(b, 0, out_width);
  const int64_t mid_hi = std::clamp<int64_t>(b + width, mid_lo, out_width);
  const std::vector<int64_t>& edge_source = sources[ndim - 1];

  parallel_for(0, rows, std::max<int64_t>(1, 32768 / out_width), [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> coordinate(ndim, 0);
    for (int64_t d = ndim - 2, rest = lo; d >= 0; --d) {
      coordinate[d] = rest % out_shape[d];
      rest /= out_shape[d];
    }
    for (int64_t row = lo; row < hi; ++row) {
      T* dst = op + row * out_width;
      int64_t source = 0;
      bool fill = false;
      for (int64_t d = 0; d + 1 < ndim; ++d) {
        const int64_t s = sources[d][coordinate[d]];
        fill = fill || s < 0;
        source += s;
      }
      for (int64_t d = ndim - 2; d >= 0 && ++coordinate[d] == out_shape[d]; --d) coordinate[d] = 0;
      if (fill) {
        std::fill(dst, dst + out_width, value);
        continue;
      }
      const T* src = xp + source;
      for (int64_t j = 0; j < mid_lo; ++j) dst[j] = edge_source[j] < 0 ? value : src[edge_source[j]];
      const T* shifted = src - b;
#pragma omp simd
      for (int64_t j = mid_lo; j < mid_hi; ++j) dst[j] = shifted[j];
      for (int64_t j = mid_hi; j < out_width; ++j) dst[j] = edge_source[j] < 0 ? value : src[edge_source[j]];
    }
  });
}

void pad(const Tensor& x, const Tensor& out, const std::vector<int64_t>& before, PadMode mode, double value) {
  switch (x.dtype()) {
    case DType::f32: return pad_typed<float>(x, out, before, mode, static_cast<float>(value));
    case DType::f64: return pad_typed<double>(x, out, before, mode, value);
    case DType::i64: return pad_typed<int64_t>(x, out, before, mode, static_cast<int64_t>(value));
    default: refuse_dtype("pad", x.dtype());
  }
}

constexpr int64_t kInnerBlock = 1024;

// Tasks are (outer position, block of inner positions), each owning its slice of grad_in: first the
// identity stretch is copied, then the edge positions are added in increasing j.
template <class T>
void pad_fold_typed(const Tensor& grad_out, const Tensor& grad_in, int64_t outer, int64_t inner, int64_t before,
                    PadMode mode) {
  const T* gp = static_cast<const T*>(grad_out.raw_data());
  T* ip = static_cast<T*>(grad_in.raw_data());
  const int64_t out_extent = grad_out.numel() / std::max<int64_t>(outer * inner, 1);
  const int64_t extent = grad_in.numel() / std::max<int64_t>(outer * inner, 1);
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
  if (outer * inner == 0) return;
  parallel_for(0, outer * blocks, std::max<int64_t>(1, 16384 / (out_extent * std::min(inner, kInnerBlock))),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t task = lo; task < hi; ++task) {
                   const int64_t o = task / blocks, i0 = (task % blocks) * kInnerBlock;
                   const int64_t len = std::min(inner, i0 + kInnerBlock) - i0;
                   const T* g = gp + o * out_extent * inner + i0;
                   T* gi = ip + o * extent * inner + i0;
                   if (inner == 1) std::memcpy(gi, g + before, extent * sizeof(T));
                   else
                     for (int64_t s = 0; s < extent; ++s)
                       std::memcpy(gi + s * inner, g + (s + before) * inner, len * sizeof(T));
                   for (int64_t j = 0; j < out_extent; ++j) {
                     if (j == before) j = before + extent;  // skip the identity stretch
                     if (j >= out_extent) break;
                     T* dst = gi + pad_source(j, before, extent, mode) * inner;
                     const T* src = g + j * inner;
#pragma omp simd
                     for (int64_t i = 0; i < len; ++i) dst[i] += src[i];
                   }
                 }
               });
}

void pad_fold(const Tensor& grad_out, const Tensor& grad_in, int64_t outer, int64_t inner, int64_t before,
              PadMode mode) {
  switch (grad_out.dtype()) {
    case DType::f32: return pad_fold_typed<float>(grad_out, grad_in, outer, inner, before, mode);
    case DType::f64: return pad_fold_typed<double>(grad_out, grad_in, outer, inner, before, mode);
    case DType::i64: fail("pad_fold: i64 tensors have no gradient");
    default: refuse_dtype("pad_backward", grad_out.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::pad, DeviceType::cpu, pad);
VIREO_REGISTER_KERNEL(kernels::pad_fold, DeviceType::cpu, pad_fold);

}  // namespace vireo::cpu
