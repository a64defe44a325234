// CPU pooling and resampling kernels. Every kernel works plane by plane (one [H, W] slice of one channel of
// one image), planes spread over threads; a backward kernel adds into its own plane only, so there are no
// races and the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/conv.h"

namespace vireo::cpu {
namespace {

using kernels::Pool2dGeometry;

// Planes per thread chunk so that a chunk holds roughly `work` element visits at least.
int64_t plane_grain(int64_t work_per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_plane)); }

// The kernel taps k whose position start + k·dilation lies in [0, size): [lo, hi).
struct TapRange {
  int64_t lo, hi;
};
TapRange valid_taps(int64_t start, int64_t dilation, int64_t kernel, int64_t size) {
  const int64_t lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  const int64_t last = size - 1 - start;  // k·dilation ≤ last
  const int64_t hi = last < 0 ? 0 : std::min(kernel, last / dilation + 1);
  return {std::min(lo, kernel), std::max(std::min(lo, kernel), hi)};
}

// ---- max pooling ----
//   out[oh, ow] = max_{i, j} x[oh·sh − ph + i·dh, ow·sw − pw + j·dw]   (positions outside the plane skipped)
//   index[oh, ow] = ih·W + iw of the first maximum, as PyTorch (a NaN wins, the last NaN seen).
// A window with no position inside the plane (possible only with a dilation wider than the plane) gives
// −inf and index −1, which the backward and gather kernels skip.
// Windows of a size known at compile time (K×K, dilation 1, fully inside the plane): the tap loops unroll
// into branch-free selects. With a runtime window size GCC keeps a branch per tap, which mispredicts half
// the time on real activations and made the common 2×2 pooling ten times slower.
template <class T, int K>
inline void max_window_fixed(const T* plane, int64_t width, int64_t top, int64_t left, T& best_out,
                             int64_t& index_out) {
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_index = top * width + left;
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) {
      const int64_t at = (top + i) * width + left + j;
      const T v = plane[at];
      const bool take = (v > best) | (v != v);  // NaN wins, as in PyTorch
      best = take ? v : best;
      best_index = take ? at : best_index;
    }
  best_out = best;
  index_out = best_index;
}

template <class T>
void max_pool_typed(const Pool2dGeometry& g, const Tensor& x, const Tensor& out, const Tensor& indices) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  int64_t* ip = indices.data<int64_t>();
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  const bool square_undilated = g.kernel_h == g.kernel_w && g.dilation_h == 1 && g.dilation_w == 1;
  const int fixed_kernel = square_undilated && (g.kernel_h == 2 || g.kernel_h == 3) ? static_cast<int>(g.kernel_h) : 0;
  // The taps inside the plane depend only on the output row (or column): computed once here, since
  // valid_taps divides and a division per window would cost more than the window itself.
  std::vector<TapRange> row_taps(g.out_height), col_taps(g.out_width);
  for (int64_t oh = 0; oh < g.out_height; ++oh)
    row_taps[oh] = valid_taps(oh * g.stride_h - g.pad_h, g.dilation_h, g.kernel_h, g.in_height);
  for (int64_t ow = 0; ow < g.out_width; ++ow)
    col_taps[ow] = valid_taps(ow * g.stride_w - g.pad_w, g.dilation_w, g.kernel_w, g.in_width);
  parallel_for(0, g.planes, plane_grain(out_plane * g.kernel_h * g.kernel_w), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T* plane = xp + p * in_plane;
      for (int64_t oh = 0; oh < g.out_height; ++oh) {
        const int64_t h0 = oh * g.stride_h - g.pad_h;
        const TapRange rows = row_taps[oh];
        for (int64_t ow = 0; ow < g.out_width; ++ow) {
          const int64_t w0 = ow * g.stride_w - g.pad_w;
          const TapRange cols = col_taps[ow];
          const int64_t o = p * out_plane + oh * g.out_width + ow;
          const bool inside = rows.lo == 0 && rows.hi == g.kernel_h && cols.lo == 0 && cols.hi == g.kernel_w;
          if (fixed_kernel == 2 && inside) {
            max_window_fixed<T, 2>(plane, g.in_width, h0, w0, op[o], ip[o]);
            continue;
          }
          if (fixed_kernel == 3 && inside) {
            max_window_fixed<T, 3>(plane, g.in_width, h0, w0, op[o], ip[o]);
            continue;
          }
          T best = -std::numeric_limits<T>::infinity();
          int64_t best_index = -1;
          if (rows.lo < rows.hi && cols.lo < cols.hi) best_index = (h0 + rows.lo * g.dilation_h) * g.in_width + w0 + cols.lo * g.dilation_w;
          for (int64_t i = rows.lo; i < rows.hi; ++i) {
            const int64_t row = (h0 + i * g.dilation_h) * g.in_width;
            for (int64_t j = cols.lo; j < cols.hi; ++j) {
              const int64_t at = row + w0 + j * g.dilation_w;
              const T v = plane[at];
              // Branch-free select (a compare per tap on random data mispredicts half the time).
              // NaN wins, as in PyTorch: v != v is true only for NaN.
              const bool take = v > best || v != v;
              best = take ? v : best;
              best_index = take ? at : best_index;
            }
          }
          op[p * out_plane + oh * g.out_width + ow] = best;
          ip[p * out_plane + oh * g.out_width + ow] = best_index;
        }
      }
    }
  });
}

// grad_x[index[o]] += grad_out[o] within each plane.
template <class T>
void max_pool_backward_typed(const Pool2dGeometry& g, const Tensor& grad_out, const Tensor& indices,
                             const Tensor& grad_x) {
  const T* gp = grad_out.data<T>();
  const int64_t* ip = indices.data<int64_t>();
  T* dp = grad_x.data<T>();
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  parallel_for(0, g.planes, plane_grain(in_plane + out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* plane = dp + p * in_plane;
      std::fill(plane, plane + in_plane, T(0));
      for (int64_t o = 0; o < out_plane; ++o) {
        const int64_t at = ip[p * out_plane + o];
        if (at >= 0) plane[at] += gp[p * out_plane + o];
      }
    }
  });
}

// out[o] = x[index[o]] within each plane (0 where the index is −1).
template <class T>
void max_pool_gather_typed(const Pool2dGeometry& g, const Tensor& x, const Tensor& indices, const Tensor& out) {
  const T* xp = x.data<T>();
  const int64_t* ip = indices.data<int64_t>();
  T* op = out.data<T>();
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  parallel_for(0, g.planes, plane_grain(out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      for (int64_t o = 0; o < out_plane; ++o) {
        const int64_t at = ip[p * out_plane + o];
        op[p * out_plane + o] = at >= 0 ? xp[p * in_plane + at] : T(0);
      }
  });
}

// ---- average pooling (PyTorch's rule) ----
// The window [h0, h0 + kH) is first cut at the padded border H + ph; its size then is the divisor when
// count_include_pad, and the size after cutting it to the plane [0, H) otherwise:
//   out[oh, ow] = Σ_{window ∩ plane} x / divisor          (0 for a window wholly in the padding)
struct AvgWindow {
  int64_t h0, h1, w0, w1;  // the window cut to the plane
  int64_t divisor;
};
AvgWindow avg_window(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  int64_t h1 = std::min(h0 + g.kernel_h, g.in_height + g.pad_h), w1 = std::min(w0 + g.kernel_w, g.in_width + g.pad_w);
  const int64_t padded_size = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.in_height);
  w1 = std::min(w1, g.in_width);
  const int64_t inside = std::max<int64_t>(0, h1 - h0) * std::max<int64_t>(0, w1 - w0);
  return {h0, h1, w0, w1, g.count_include_pad ? padded_size : inside};
}

template <class T>
void avg_pool_typed(const Pool2dGeometry& g, const Tensor& x, const Tensor& out) {
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  parallel_for(0, g.planes, plane_grain(out_plane * g.kernel_h * g.kernel_w), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T* plane = xp + p * in_plane;
      for (int64_t oh = 0; oh < g.out_height; ++oh)
        for (int64_t ow = 0; ow < g.out_width; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow);
          T sum = 0;
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += plane[ih * g.in_width + iw];
          op[p * out_plane + oh * g.out_width + ow] = win.divisor > 0 ? sum / static_cast<T>(win.divisor) : T(0);
        }
    }
  });
}

template <class T>
void avg_pool_backward_typed(const Pool2dGeometry& g, const Tensor& grad_out, const Tensor& grad_x) {
  const T* gp = grad_out.data<T>();
  T* dp = grad_x.data<T>();
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  parallel_for(0, g.planes, plane_grain(out_plane * g.kernel_h * g.kernel_w), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* plane = dp + p * in_plane;
      std::fill(plane, plane + in_plane, T(0));
      for (int64_t oh = 0; oh < g.out_height; ++oh)
        for (int64_t ow = 0; ow < g.out_width; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow);
          if (win.divisor <= 0) continue;
          const T share = gp[p * out_plane + oh * g.out_width + ow] / static_cast<T>(win.divisor);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) plane[ih * g.in_width + iw] += share;
        }
    }
  });
}

// ---- adaptive average pooling ----
// Output cell i along a dimension of input size `in` and output size `out` averages
//   [floor(i·in/out), ceil((i + 1)·in/out))
// (PyTorch's windows: they cover the input, overlap by at most one position, and are never empty).
int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

struct PlaneSizes {
  int64_t planes, in_height, in_width, out_height, out_width;
};
PlaneSizes plane_sizes(const Tensor& input, const Tensor& output) {
  return {input.size(0) * input.size(1), input.size(2), input.size(3), output.size(2), output.size(3)};
}

template <class T>
void adaptive_avg_typed(const Tensor& x, const Tensor& out) {
  const PlaneSizes s = plane_sizes(x, out);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const T* plane = xp + p * in_plane;
      for (int64_t oh = 0; oh < s.out_height; ++oh) {
        const int64_t h0 = adaptive_start(oh, s.in_height, s.out_height), h1 = adaptive_end(oh, s.in_height, s.out_height);
        for (int64_t ow = 0; ow < s.out_width; ++ow) {
          const int64_t w0 = adaptive_start(ow, s.in_width, s.out_width), w1 = adaptive_end(ow, s.in_width, s.out_width);
          T sum = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += plane[ih * s.in_width + iw];
          op[p * out_plane + oh * s.out_width + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

template <class T>
void adaptive_avg_backward_typed(const Tensor& grad_out, const Tensor& grad_x) {
  const PlaneSizes s = plane_sizes(grad_x, grad_out);
  const T* gp = grad_out.data<T>();
  T* dp = grad_x.data<T>();
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* plane = dp + p * in_plane;
      std::fill(plane, plane + in_plane, T(0));
      for (int64_t oh = 0; oh < s.out_height; ++oh) {
        const int64_t h0 = adaptive_start(oh, s.in_height, s.out_height), h1 = adaptive_end(oh, s.in_height, s.out_height);
        for (int64_t ow = 0; ow < s.out_width; ++ow) {
          const int64_t w0 = adaptive_start(ow, s.in_width, s.out_width), w1 = adaptive_end(ow, s.in_width, s.out_width);
          const T share = gp[p * out_plane + oh * s.out_width + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) plane[ih * s.in_width + iw] += share;
        }
      }
    }
  });
}

// ---- nearest upsampling ----
// src = min(floor(dst · scale), in − 1) with scale = in/out computed in f32, exactly as PyTorch's "nearest"
// (so a ratio such as 14/6 rounds the way PyTorch rounds it), with its exact shortcuts for equal sizes and
// for doubling.
int64_t nearest_source(int64_t dst, int64_t in, int64_t out) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  return std::min(static_cast<int64_t>(std::floor(static_cast<float>(dst) * scale)), in - 1);
}

std::vector<int64_t> nearest_sources(int64_t in, int64_t out) {
  std::vector<int64_t> sources(out);
  for (int64_t d = 0; d < out; ++d) sources[d] = nearest_source(d, in, out);
  return sources;
}

template <class T>
void nearest_typed(const Tensor& x, const Tensor& out) {
  const PlaneSizes s = plane_sizes(x, out);
  const std::vector<int64_t> rows = nearest_sources(s.in_height, s.out_height);
  const std::vector<int64_t> cols = nearest_sources(s.in_width, s.out_width);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  parallel_for(0, s.planes, plane_grain(out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      for (int64_t oh = 0; oh < s.out_height; ++oh) {
        const T* in = xp + p * in_plane + rows[oh] * s.in_width;
        T* o = op + p * out_plane + oh * s.out_width;
        for (int64_t ow = 0; ow < s.out_width; ++ow) o[ow] = in[cols[ow]];
      }
  });
}

template <class T>
void nearest_backward_typed(const Tensor& grad_out, const Tensor& grad_x) {
  const PlaneSizes s = plane_sizes(grad_x, grad_out);
  const std::vector<int64_t> rows = nearest_sources(s.in_height, s.out_height);
  const std::vector<int64_t> cols = nearest_sources(s.in_width, s.out_width);
  const T* gp = grad_out.data<T>();
  T* dp = grad_x.data<T>();
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  parallel_for(0, s.planes, plane_grain(in_plane + out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* plane = dp + p * in_plane;
      std::fill(plane, plane + in_plane, T(0));
      for (int64_t oh = 0; oh < s.out_height; ++oh) {
        T* in = plane + rows[oh] * s.in_width;
        const T* g = gp + p * out_plane + oh * s.out_width;
        for (int64_t ow = 0; ow < s.out_width; ++ow) in[cols[ow]] += g[ow];
      }
    }
  });
}

// ---- bilinear upsampling (PyTorch's source coordinates) ----
//   align_corners:  src = dst · (in − 1)/(out − 1)            (0 when out = 1)
//   otherwise:      src = max(0, (dst + ½) · in/out − ½)
// then i0 = min(floor(src), in − 1), i1 = i0 + 1 (i0 at the last position), λ = src − i0 clamped to [0, 1]:
//   out = (1−λh)·((1−λw)·x[h0, w0] + λw·x[h0, w1]) + λh·((1−λw)·x[h1, w0] + λw·x[h1, w1])
// The coordinates are computed in the tensor's own type, as PyTorch's CPU kernel does.
template <class T>
struct LinearTap {
  int64_t i0, i1;
  T lambda0, lambda1;
};

template <class T>
std::vector<LinearTap<T>> linear_taps(int64_t in, int64_t out, bool align_corners) {
  std::vector<LinearTap<T>> taps(out);
  const T scale = align_corners ? (out > 1 ? static_cast<T>(in - 1) / static_cast<T>(out - 1) : T(0))
                                : static_cast<T>(in) / static_cast<T>(out);
  for (int64_t d = 0; d < out; ++d) {
    T src = align_corners ? scale * static_cast<T>(d) : scale * (static_cast<T>(d) + T(0.5)) - T(0.5);
    if (src < T(0)) src = T(0);
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    const T lambda1 = std::clamp(src - static_cast<T>(i0), T(0), T(1));
    taps[d] = {i0, i0 + (i0 < in - 1 ? 1 : 0), T(1) - lambda1, lambda1};
  }
  return taps;
}

template <class T>
void bilinear_typed(const Tensor& x, const Tensor& out, bool align_corners) {
  const PlaneSizes s = plane_sizes(x, out);
  const auto rows = linear_taps<T>(s.in_height, s.out_height, align_corners);
  const auto cols = linear_taps<T>(s.in_width, s.out_width, align_corners);
  const T* xp = x.data<T>();
  T* op = out.data<T>();
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  parallel_for(0, s.planes, plane_grain(4 * out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      for (int64_t oh = 0; oh < s.out_height; ++oh) {
        const LinearTap<T> r = rows[oh];
        const T* top = xp + p * in_plane + r.i0 * s.in_width;
        const T* bottom = xp + p * in_plane + r.i1 * s.in_width;
        T* o = op + p * out_plane + oh * s.out_width;
        for (int64_t ow = 0; ow < s.out_width; ++ow) {
          const LinearTap<T> c = cols[ow];
          o[ow] = r.lambda0 * (c.lambda0 * top[c.i0] + c.lambda1 * top[c.i1]) +
                  r.lambda1 * (c.lambda0 * bottom[c.i0] + c.lambda1 * bottom[c.i1]);
        }
      }
  });
}

template <class T>
void bilinear_backward_typed(const Tensor& grad_out, const Tensor& grad_x, bool align_corners) {
  const PlaneSizes s = plane_sizes(grad_x, grad_out);
  const auto rows = linear_taps<T>(s.in_height, s.out_height, align_corners);
  const auto cols = linear_taps<T>(s.in_width, s.out_width, align_corners);
  const T* gp = grad_out.data<T>();
  T* dp = grad_x.data<T>();
  const int64_t in_plane = s.in_height * s.in_width, out_plane = s.out_height * s.out_width;
  parallel_for(0, s.planes, plane_grain(in_plane + 4 * out_plane), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      T* plane = dp + p * in_plane;
      std::fill(plane, plane + in_plane, T(0));
      for (int64_t oh = 0; oh < s.out_height; ++oh) {
        const LinearTap<T> r = rows[oh];
        T* top = plane + r.i0 * s.in_width;
        T* bottom = plane + r.i1 * s.in_width;
        const T* g = gp + p * out_plane + oh * s.out_width;
        for (int64_t ow = 0; ow < s.out_width; ++ow) {
          const LinearTap<T> c = cols[ow];
          top[c.i0] += r.lambda0 * c.lambda0 * g[ow];
          top[c.i1] += r.lambda0 * c.lambda1 * g[ow];
          bottom[c.i0] += r.lambda1 * c.lambda0 * g[ow];
          bottom[c.i1] += r.lambda1 * c.lambda1 * g[ow];
        }
      }
    }
  });
}

// ---- dtype dispatch ----
#define VIREO_POOL_DISPATCH(dtype, call)               \
  dispatch_floating(__func__, dtype, [&](auto tag) { \
    using T = decltype(tag);                         \
    call;                                            \
  })

void max_pool2d(const Pool2dGeometry& g, const Tensor& x, const Tensor& out, const Tensor& indices) {
  VIREO_POOL_DISPATCH(x.dtype(), max_pool_typed<T>(g, x, out, indices));
}
void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x) {
  VIREO_POOL_DISPATCH(grad_out.dtype(), max_pool_backward_typed<T>(g, grad_out, indices, grad_x));
}
void max_pool2d_gather(const Pool2dGeometry& g, const Tensor& x, const Tensor& indices, const Tensor& out) {
  VIREO_POOL_DISPATCH(x.dtype(), max_pool_gather_typed<T>(g, x, indices, out));
}
void avg_pool2d(const Pool2dGeometry& g, const Tensor& x, const Tensor& out) {
  VIREO_POOL_DISPATCH(x.dtype(), avg_pool_typed<T>(g, x, out));
}
void avg_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_out, const Tensor& grad_x) {
  VIREO_POOL_DISPATCH(grad_out.dtype(), avg_pool_backward_typed<T>(g, grad_out, grad_x));
}
void adaptive_avg_pool2d(const Tensor& x, const Tensor& out) {
  VIREO_POOL_DISPATCH(x.dtype(), adaptive_avg_typed<T>(x, out));
}
void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
  VIREO_POOL_DISPATCH(grad_out.dtype(), adaptive_avg_backward_typed<T>(grad_out, grad_x));
}
void upsample_nearest2d(const Tensor& x, const Tensor& out) {
  VIREO_POOL_DISPATCH(x.dtype(), nearest_typed<T>(x, out));
}
void upsample_nearest2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
  VIREO_POOL_DISPATCH(grad_out.dtype(), nearest_backward_typed<T>(grad_out, grad_x));
}
void upsample_bilinear2d(const Tensor& x, const Tensor& out, bool align_corners) {
  VIREO_POOL_DISPATCH(x.dtype(), bilinear_typed<T>(x, out, align_corners));
}
void upsample_bilinear2d_backward(const Tensor& grad_out, const Tensor& grad_x, bool align_corners) {
  VIREO_POOL_DISPATCH(grad_out.dtype(), bilinear_backward_typed<T>(grad_out, grad_x, align_corners));
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::max_pool2d, DeviceType::cpu, max_pool2d);
VIREO_REGISTER_KERNEL(kernels::max_pool2d_backward, DeviceType::cpu, max_pool2d_backward);
VIREO_REGISTER_KERNEL(kernels::max_pool2d_gather, DeviceType::cpu, max_pool2d_gather);
VIREO_REGISTER_KERNEL(kernels::avg_pool2d, DeviceType::cpu, avg_pool2d);
VIREO_REGISTER_KERNEL(kernels::avg_pool2d_backward, DeviceType::cpu, avg_pool2d_backward);
VIREO_REGISTER_KERNEL(kernels::adaptive_avg_pool2d, DeviceType::cpu, adaptive_avg_pool2d);
VIREO_REGISTER_KERNEL(kernels::adaptive_avg_pool2d_backward, DeviceType::cpu, adaptive_avg_pool2d_backward);
VIREO_REGISTER_KERNEL(kernels::upsample_nearest2d, DeviceType::cpu, upsample_nearest2d);
VIREO_REGISTER_KERNEL(kernels::upsample_nearest2d_backward, DeviceType::cpu, upsample_nearest2d_backward);
VIREO_REGISTER_KERNEL(kernels::upsample_bilinear2d, DeviceType::cpu, upsample_bilinear2d);
VIREO_REGISTER_KERNEL(kernels::upsample_bilinear2d_backward, DeviceType::cpu, upsample_bilinear2d_backward);

}  // namespace vireo::cpu
