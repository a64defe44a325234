// The index and coordinate math of the pooling and resampling kernels (engine/cuda/pool.cu), shared by host
// and device and tested on the CPU (tests/cuda/test_cuda_pool.cpp) against the CPU kernels' rules
// (engine/cpu/pool.cpp), which are PyTorch's.
//
// Every backward kernel on the GPU is a gather: one thread per input element sums the output gradients that
// the forward took from it, instead of one thread per output element scattering with atomics. The result is
// deterministic, and no 16-bit atomics are needed. That needs, for each kernel, the inverse of its forward
// index map — the outputs that read a given input — which is what most of this header computes:
//   pooling windows     the taps i with (ih + pad − i·dilation) a multiple of the stride (output_of_tap)
//   average windows     the output range whose windows cover ih (avg_outputs_covering)
//   adaptive windows    the output range whose windows [⌊o·in/out⌋, ⌈(o+1)·in/out⌉) hold ih
//   nearest / bilinear  the outputs whose source index is ih: a contiguous range, since the source index
//                       never decreases with the output index (found by search on that monotone map)
//
// Floating-point coordinates (nearest, bilinear) must round exactly as the CPU's do, or a source index
// could land one position off: the device forms each product and sum with explicit round-to-nearest
// intrinsics, so nvcc cannot contract them into a fused multiply-add that the CPU (built with
// -ffp-contract=off under -std=c++20) does not perform.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/cuda/common.h"
#include "engine/kernels/conv.h"

namespace vireo::cuda {

using kernels::Pool2dGeometry;

// ---- exact arithmetic on both sides ----
VIREO_HOST_DEVICE inline float mul_exact(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
VIREO_HOST_DEVICE inline double mul_exact(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
VIREO_HOST_DEVICE inline float add_exact(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
VIREO_HOST_DEVICE inline double add_exact(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
VIREO_HOST_DEVICE inline float floor_of(float x) { return floorf(x); }
VIREO_HOST_DEVICE inline double floor_of(double x) { return floor(x); }

VIREO_HOST_DEVICE inline int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }
VIREO_HOST_DEVICE inline int64_t max_of(int64_t a, int64_t b) { return a > b ? a : b; }

// ---- max pooling ----
// The taps k in [0, kernel) whose position start + k·dilation lies in [0, size): [lo, hi).
struct TapRange {
  int64_t lo, hi;
};
VIREO_HOST_DEVICE inline TapRange valid_taps(int64_t start, int64_t dilation, int64_t kernel, int64_t size) {
  const int64_t lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  const int64_t last = size - 1 - start;  // k·dilation ≤ last
  const int64_t hi = last < 0 ? 0 : min_of(kernel, last / dilation + 1);
  return {min_of(lo, kernel), max_of(min_of(lo, kernel), hi)};
}

// The output along one dimension whose tap `tap` reads input position `in` (out·stride − pad + tap·dilation
// = in), or −1 when none does.
VIREO_HOST_DEVICE inline int64_t pool_output_of_tap(int64_t in, int64_t tap, int64_t stride, int64_t pad,
                                                    int64_t dilation, int64_t out_size) {
  const int64_t t = in + pad - tap * dilation;
  if (t < 0 || t % stride != 0) return -1;
  return t / stride < out_size ? t / stride : -1;
}

// ---- average pooling (no dilation; PyTorch's divisor rule, as the CPU) ----
// The window [h0, h0 + kH) is first cut at the padded border H + ph; its size then is the divisor when
// count_include_pad, and the size after cutting it to the plane [0, H) otherwise.
struct AvgWindow {
  int64_t h0, h1, w0, w1;  // the window cut to the plane
  int64_t divisor;
};
VIREO_HOST_DEVICE inline AvgWindow avg_window(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  int64_t h1 = min_of(h0 + g.kernel_h, g.in_height + g.pad_h), w1 = min_of(w0 + g.kernel_w, g.in_width + g.pad_w);
  const int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = max_of(h0, 0);
  w0 = max_of(w0, 0);
  h1 = min_of(h1, g.in_height);
  w1 = min_of(w1, g.in_width);
  const int64_t inside = max_of(0, h1 - h0) * max_of(0, w1 - w0);
  return {h0, h1, w0, w1, g.count_include_pad ? padded_size : inside};
}

// The outputs [lo, hi) along one dimension whose window [o·stride − pad, o·stride − pad + kernel) holds
// `in` (a candidate still needs avg_window's cut, which the caller checks by containment).
struct IndexRange {
  int64_t lo, hi;
};
VIREO_HOST_DEVICE inline IndexRange avg_outputs_covering(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                                         int64_t out_size) {
  // o·stride − pad ≤ in  and  in < o·stride − pad + kernel  ⇔  (in + pad − kernel) / stride < o ≤ (in + pad) / stride
  const int64_t top = in + pad;  // ≥ 0
  const int64_t first_numerator = top - kernel + 1;  // o·stride ≥ this
  const int64_t lo = first_numerator <= 0 ? 0 : (first_numerator + stride - 1) / stride;
  const int64_t hi = min_of(out_size, top / stride + 1);
  return {min_of(lo, hi), hi};
}

// ---- adaptive average pooling: cell o averages [⌊o·in/out⌋, ⌈(o+1)·in/out⌉) ----
VIREO_HOST_DEVICE inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return o * in / out; }
VIREO_HOST_DEVICE inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }
// The cells whose window holds input position i: start(o) ≤ i ⇔ o < ⌈(i+1)·out/in⌉, end(o) > i ⇔ o ≥ ⌊i·out/in⌋.
VIREO_HOST_DEVICE inline IndexRange adaptive_outputs_covering(int64_t i, int64_t in, int64_t out) {
  return {i * out / in, min_of(out, ((i + 1) * out + in - 1) / in)};
}

// ---- nearest upsampling: src = min(⌊dst · (in/out as f32)⌋, in − 1), with PyTorch's exact shortcuts ----
VIREO_HOST_DEVICE inline int64_t nearest_source(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  return min_of(static_cast<int64_t>(floor_of(mul_exact(static_cast<float>(dst), scale))), in - 1);
}

// The first index d in [0, size) with source(d) ≥ target, or size: a binary search over a non-decreasing map.
template <class Source>
VIREO_HOST_DEVICE inline int64_t first_at_least(int64_t size, int64_t target, const Source& source) {
  int64_t lo = 0, hi = size;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (source(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The outputs [lo, hi) whose nearest source is `src`.
VIREO_HOST_DEVICE inline IndexRange nearest_outputs_of(int64_t src, int64_t in, int64_t out) {
  auto source = [in, out](int64_t d) { return nearest_source(d, in, out); };
  return {first_at_least(out, src, source), first_at_least(out, src + 1, source)};
}

// ---- bilinear upsampling (PyTorch's source coordinates, computed in T as the CPU does) ----
//   align_corners:  src = dst · (in − 1)/(out − 1)            (0 when out = 1)
//   otherwise:      src = max(0, (dst + ½) · in/out − ½)
// i0 = min(⌊src⌋, in − 1), i1 = i0 + 1 (i0 at the last position), λ1 = clamp(src − i0, 0, 1), λ0 = 1 − λ1.
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T lambda0, lambda1;
};

template <class T>
VIREO_HOST_DEVICE inline LinearTap<T> linear_tap(int64_t d, int64_t in, int64_t out, bool align_corners) {
  const T scale = align_corners ? (out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0))
                                : static_cast<T>(in) / static_cast<T>(out);
  T src = align_corners ? mul_exact(scale, static_cast<T>(d))
                        : add_exact(mul_exact(scale, add_exact(static_cast<T>(d), T(0.5))), T(-0.5));
  if (src < T(0)) src = T(0);
  const int64_t i0 = min_of(static_cast<int64_t>(floor_of(src)), in - 1);
  T lambda1 = add_exact(src, -static_cast<T>(i0));
  lambda1 = lambda1 < T(0) ? T(0) : lambda1 > T(1) ? T(1) : lambda1;
  return {i0, i0 + (i0 < in - 1 ? 1 : 0), add_exact(T(1), -lambda1), lambda1};
}

// The outputs [lo, hi) whose taps may read input position `src` (i0 ∈ {src − 1, src}); the caller weighs
// each by bilinear_weight, which is 0 for the few at the range's edges that read it with weight 0 or not at
// all.
template <class T>
VIREO_HOST_DEVICE inline IndexRange linear_outputs_of(int64_t src, int64_t in, int64_t out, bool align_corners) {
  auto first_tap = [in, out, align_corners](int64_t d) { return linear_tap<T>(d, in, out, align_corners).i0; };
  return {first_at_least(out, src - 1, first_tap), first_at_least(out, src + 1, first_tap)};
}

// The weight with which output d's taps read input position `src` (λ0 + λ1 where both taps are it).
template <class T>
VIREO_HOST_DEVICE inline T linear_weight(const LinearTap<T>& tap, int64_t src) {
  return (tap.i0 == src ? tap.lambda0 : T(0)) + (tap.i1 == src ? tap.lambda1 : T(0));
}

// ---- one element of each kernel ----
// The bodies of the kernels in engine/cuda/pool.cu, one output (forward) or input (backward) element each,
// reading the plane through read(offset within the plane) in the compute type C. Host tests run them over
// a whole tensor and compare with the CPU kernels.

// Plane sizes of the shape-driven kernels (adaptive pooling, upsampling): input [N, C, H, W] → [N, C, OH, OW].
struct PlaneSizes {
  int64_t planes, in_height, in_width, out_height, out_width;
};

template <class C>
struct MaxResult {
  C value;
  int64_t index;  // ih·W + iw of the first maximum in its plane, −1 for a window outside the plane
};

// Max pooling forward: the first maximum of the window (a NaN wins, the last NaN seen), as the CPU.
template <class C, class Read>
VIREO_HOST_DEVICE inline MaxResult<C> max_pool_element(const Pool2dGeometry& g, int64_t oh, int64_t ow, const Read& read) {
  const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  const TapRange rows = valid_taps(h0, g.dilation_h, g.kernel_h, g.in_height);
  const TapRange cols = valid_taps(w0, g.dilation_w, g.kernel_w, g.in_width);
  C best = -static_cast<C>(INFINITY);
  int64_t best_index = -1;
  if (rows.lo < rows.hi && cols.lo < cols.hi)
    best_index = (h0 + rows.lo * g.dilation_h) * g.in_width + w0 + cols.lo * g.dilation_w;
  for (int64_t i = rows.lo; i < rows.hi; ++i) {
    const int64_t row = (h0 + i * g.dilation_h) * g.in_width;
    for (int64_t j = cols.lo; j < cols.hi; ++j) {
      const int64_t at = row + w0 + j * g.dilation_w;
      const C v = read(at);
      const bool take = v > best || v != v;  // NaN wins, as in PyTorch
      best = take ? v : best;
      best_index = take ? at : best_index;
    }
  }
  return {best, best_index};
}

// Max pooling backward at input (ih, iw): Σ grad_out[o] over the windows o whose recorded maximum is it.
// read_grad and read_index take an output offset within the plane. Taps in decreasing order visit the
// outputs in increasing order, the order in which the CPU's scatter adds them.
template <class C, class ReadGrad, class ReadIndex>
VIREO_HOST_DEVICE inline C max_pool_backward_element(const Pool2dGeometry& g, int64_t ih, int64_t iw,
                                                     const ReadGrad& read_grad, const ReadIndex& read_index) {
  const int64_t target = ih * g.in_width + iw;
  C sum = 0;
  for (int64_t i = g.kernel_h - 1; i >= 0; --i) {
    const int64_t oh = pool_output_of_tap(ih, i, g.stride_h, g.pad_h, g.dilation_h, g.out_height);
    if (oh < 0) continue;
    for (int64_t j = g.kernel_w - 1; j >= 0; --j) {
      const int64_t ow = pool_output_of_tap(iw, j, g.stride_w, g.pad_w, g.dilation_w, g.out_width);
      if (ow < 0) continue;
      const int64_t o = oh * g.out_width + ow;
      if (read_index(o) == target) sum += read_grad(o);
    }
  }
  return sum;
}

template <class C, class Read>
VIREO_HOST_DEVICE inline C avg_pool_element(const Pool2dGeometry& g, int64_t oh, int64_t ow, const Read& read) {
  const AvgWindow win = avg_window(g, oh, ow);
  C sum = 0;
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += read(ih * g.in_width + iw);
  return win.divisor > 0 ? sum / static_cast<C>(win.divisor) : C(0);
}

// Σ grad_out[o] / divisor(o) over the windows holding (ih, iw), in increasing output order. avg_window's cut
// never removes a position of the plane, so every covering window holds it and has a divisor ≥ 1.
template <class C, class Read>
VIREO_HOST_DEVICE inline C avg_pool_backward_element(const Pool2dGeometry& g, int64_t ih, int64_t iw, const Read& read) {
  const IndexRange rows = avg_outputs_covering(ih, g.kernel_h, g.stride_h, g.pad_h, g.out_height);
  const IndexRange cols = avg_outputs_covering(iw, g.kernel_w, g.stride_w, g.pad_w, g.out_width);
  C sum = 0;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow)
      sum += read(oh * g.out_width + ow) / static_cast<C>(avg_window(g, oh, ow).divisor);
  return sum;
}

template <class C, class Read>
VIREO_HOST_DEVICE inline C adaptive_avg_element(const PlaneSizes& s, int64_t oh, int64_t ow, const Read& read) {
  const int64_t h0 = adaptive_start(oh, s.in_height, s.out_height), h1 = adaptive_end(oh, s.in_height, s.out_height);
  const int64_t w0 = adaptive_start(ow, s.in_width, s.out_width), w1 = adaptive_end(ow, s.in_width, s.out_width);
  C sum = 0;
  for (int64_t ih = h0; ih < h1; ++ih)
    for (int64_t iw = w0; iw < w1; ++iw) sum += read(ih * s.in_width + iw);
  return sum / static_cast<C>((h1 - h0) * (w1 - w0));
}

template <class C, class Read>
VIREO_HOST_DEVICE inline C adaptive_avg_backward_element(const PlaneSizes& s, int64_t ih, int64_t iw, const Read& read) {
  const IndexRange rows = adaptive_outputs_covering(ih, s.in_height, s.out_height);
  const IndexRange cols = adaptive_outputs_covering(iw, s.in_width, s.out_width);
  C sum = 0;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
    const int64_t h = adaptive_end(oh, s.in_height, s.out_height) - adaptive_start(oh, s.in_height, s.out_height);
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
      const int64_t w = adaptive_end(ow, s.in_width, s.out_width) - adaptive_start(ow, s.in_width, s.out_width);
      sum += read(oh * s.out_width + ow) / static_cast<C>(h * w);
    }
  }
  return sum;
}

// Nearest forward is a copy from offset nearest_source(oh)·W + nearest_source(ow); its backward sums the
// outputs that copied (ih, iw).
template <class C, class Read>
VIREO_HOST_DEVICE inline C nearest_backward_element(const PlaneSizes& s, int64_t ih, int64_t iw, const Read& read) {
  const IndexRange rows = nearest_outputs_of(ih, s.in_height, s.out_height);
  const IndexRange cols = nearest_outputs_of(iw, s.in_width, s.out_width);
  C sum = 0;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow) sum += read(oh * s.out_width + ow);
  return sum;
}

template <class C, class Read>
VIREO_HOST_DEVICE inline C bilinear_element(const PlaneSizes& s, int64_t oh, int64_t ow, bool align_corners,
                                            const Read& read) {
  const LinearTap<C> r = linear_tap<C>(oh, s.in_height, s.out_height, align_corners);
  const LinearTap<C> c = linear_tap<C>(ow, s.in_width, s.out_width, align_corners);
  const int64_t top = r.i0 * s.in_width, bottom = r.i1 * s.in_width;
  return r.lambda0 * (c.lambda0 * read(top + c.i0) + c.lambda1 * read(top + c.i1)) +
         r.lambda1 * (c.lambda0 * read(bottom + c.i0) + c.lambda1 * read(bottom + c.i1));
}

template <class C, class Read>
VIREO_HOST_DEVICE inline C bilinear_backward_element(const PlaneSizes& s, int64_t ih, int64_t iw, bool align_corners,
                                                     const Read& read) {
  const IndexRange rows = linear_outputs_of<C>(ih, s.in_height, s.out_height, align_corners);
  const IndexRange cols = linear_outputs_of<C>(iw, s.in_width, s.out_width, align_corners);
  C sum = 0;
  for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
    const C weight_h = linear_weight(linear_tap<C>(oh, s.in_height, s.out_height, align_corners), ih);
    if (weight_h == C(0)) continue;
    for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
      const C weight_w = linear_weight(linear_tap<C>(ow, s.in_width, s.out_width, align_corners), iw);
      sum += weight_h * weight_w * read(oh * s.out_width + ow);
    }
  }
  return sum;
}

}  // namespace vireo::cuda
