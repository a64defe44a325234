// Pooling and resampling on the GPU (engine/kernels/conv.h), one thread per element, on contiguous NCHW
// tensors seen as planes (one [H, W] slice of one channel of one image).
//
// Forward kernels: one thread per output element, reading its window exactly as the CPU kernel does
// (engine/cpu/pool.cpp), in the same order, so f32 and f64 results are the CPU's bit for bit (bilinear up to
// the contraction of its final blend). Max pooling records ih·W + iw of the first maximum in its plane
// (a NaN wins, the last NaN seen; −1 for a window wholly outside the plane).
//
// Backward kernels: one thread per INPUT element gathers the output gradients that the forward took from it
// (engine/cuda/pool_math.h inverts each index map), visiting them in increasing output order — the order
// in which the CPU's scatter adds them — so no atomics, no dependence on scheduling, and again the CPU's
// sums. 16-bit types compute in f32.
#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/pool_math.h"
#include "engine/kernels/conv.h"

namespace vireo::cuda {
namespace {

#define VIREO_GRID_STRIDE_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); i += int64_t{gridDim.x} * blockDim.x)

// Plane sizes of the shape-driven kernels (adaptive pooling, upsampling): input [N, C, H, W], output [N, C, OH, OW].
struct PlaneSizes {
  int64_t planes, in_height, in_width, out_height, out_width;
};
PlaneSizes plane_sizes(const char* op, const Tensor& input, const Tensor& output) {
  VIREO_CHECK(input.dim() == 4 && output.dim() == 4 && input.is_contiguous() && output.is_contiguous() &&
                  input.dtype() == output.dtype(),
              op, ": needs contiguous [N, C, H, W] tensors of one dtype, got ", input.shape(), " (", input.dtype(),
              ") and ", output.shape(), " (", output.dtype(), ")");
  return {input.size(0) * input.size(1), input.size(2), input.size(3), output.size(2), output.size(3)};
}

// ---- max pooling ----

template <class T>
__global__ void max_pool_kernel(Pool2dGeometry g, const T* __restrict__ x, T* __restrict__ out,
                                int64_t* __restrict__ indices, int64_t n) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t ow = o % g.out_width, oh = o / g.out_width % g.out_height, p = o / (g.out_width * g.out_height);
    const T* plane = x + p * g.in_height * g.in_width;
    const int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
    const TapRange rows = valid_taps(h0, g.dilation_h, g.kernel_h, g.in_height);
    const TapRange cols = valid_taps(w0, g.dilation_w, g.kernel_w, g.in_width);
    C best = -INFINITY;
    int64_t best_index = -1;
    if (rows.lo < rows.hi && cols.lo < cols.hi)
      best_index = (h0 + rows.lo * g.dilation_h) * g.in_width + w0 + cols.lo * g.dilation_w;
    for (int64_t i = rows.lo; i < rows.hi; ++i) {
      const int64_t row = (h0 + i * g.dilation_h) * g.in_width;
      for (int64_t j = cols.lo; j < cols.hi; ++j) {
        const int64_t at = row + w0 + j * g.dilation_w;
        const C v = load(plane[at]);
        const bool take = v > best || v != v;  // NaN wins, as in PyTorch
        best = take ? v : best;
        best_index = take ? at : best_index;
      }
    }
    out[o] = store<T>(best);
    indices[o] = best_index;
  }
}

template <class T>
__global__ void max_pool_backward_kernel(Pool2dGeometry g, const T* __restrict__ grad_out,
                                         const int64_t* __restrict__ indices, T* __restrict__ grad_x, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const int64_t iw = e % g.in_width, ih = e / g.in_width % g.in_height, p = e / (g.in_width * g.in_height);
    const int64_t target = ih * g.in_width + iw, out_plane = p * g.out_height * g.out_width;
    Compute<T> sum = 0;
    // Taps in decreasing order give outputs in increasing order, the CPU's order of addition.
    for (int64_t i = g.kernel_h - 1; i >= 0; --i) {
      const int64_t oh = pool_output_of_tap(ih, i, g.stride_h, g.pad_h, g.dilation_h, g.out_height);
      if (oh < 0) continue;
      for (int64_t j = g.kernel_w - 1; j >= 0; --j) {
        const int64_t ow = pool_output_of_tap(iw, j, g.stride_w, g.pad_w, g.dilation_w, g.out_width);
        if (ow < 0) continue;
        const int64_t o = out_plane + oh * g.out_width + ow;
        if (indices[o] == target) sum += load(grad_out[o]);
      }
    }
    grad_x[e] = store<T>(sum);
  }
}

template <class T>
__global__ void max_pool_gather_kernel(Pool2dGeometry g, const T* __restrict__ x, const int64_t* __restrict__ indices,
                                       T* __restrict__ out, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t p = o / (g.out_height * g.out_width), at = indices[o];
    out[o] = at >= 0 ? x[p * g.in_height * g.in_width + at] : store<T>(Compute<T>(0));
  }
}

// ---- average pooling ----

template <class T>
__global__ void avg_pool_kernel(Pool2dGeometry g, const T* __restrict__ x, T* __restrict__ out, int64_t n) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t ow = o % g.out_width, oh = o / g.out_width % g.out_height, p = o / (g.out_width * g.out_height);
    const T* plane = x + p * g.in_height * g.in_width;
    const AvgWindow win = avg_window(g, oh, ow);
    C sum = 0;
    for (int64_t ih = win.h0; ih < win.h1; ++ih)
      for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += load(plane[ih * g.in_width + iw]);
    out[o] = store<T>(win.divisor > 0 ? sum / static_cast<C>(win.divisor) : C(0));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(Pool2dGeometry g, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                         int64_t n) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const int64_t iw = e % g.in_width, ih = e / g.in_width % g.in_height, p = e / (g.in_width * g.in_height);
    const T* plane = grad_out + p * g.out_height * g.out_width;
    const IndexRange rows = avg_outputs_covering(ih, g.kernel_h, g.stride_h, g.pad_h, g.out_height);
    const IndexRange cols = avg_outputs_covering(iw, g.kernel_w, g.stride_w, g.pad_w, g.out_width);
    C sum = 0;
    for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
      for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
        const AvgWindow win = avg_window(g, oh, ow);  // holds (ih, iw): the cut never removes a plane position
        sum += load(plane[oh * g.out_width + ow]) / static_cast<C>(win.divisor);
      }
    grad_x[e] = store<T>(sum);
  }
}

// ---- adaptive average pooling ----

template <class T>
__global__ void adaptive_avg_kernel(PlaneSizes s, const T* __restrict__ x, T* __restrict__ out, int64_t n) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t ow = o % s.out_width, oh = o / s.out_width % s.out_height, p = o / (s.out_width * s.out_height);
    const T* plane = x + p * s.in_height * s.in_width;
    const int64_t h0 = adaptive_start(oh, s.in_height, s.out_height), h1 = adaptive_end(oh, s.in_height, s.out_height);
    const int64_t w0 = adaptive_start(ow, s.in_width, s.out_width), w1 = adaptive_end(ow, s.in_width, s.out_width);
    C sum = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) sum += load(plane[ih * s.in_width + iw]);
    out[o] = store<T>(sum / static_cast<C>((h1 - h0) * (w1 - w0)));
  }
}

template <class T>
__global__ void adaptive_avg_backward_kernel(PlaneSizes s, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                             int64_t n) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const int64_t iw = e % s.in_width, ih = e / s.in_width % s.in_height, p = e / (s.in_width * s.in_height);
    const T* plane = grad_out + p * s.out_height * s.out_width;
    const IndexRange rows = adaptive_outputs_covering(ih, s.in_height, s.out_height);
    const IndexRange cols = adaptive_outputs_covering(iw, s.in_width, s.out_width);
    C sum = 0;
    for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
      const int64_t h = adaptive_end(oh, s.in_height, s.out_height) - adaptive_start(oh, s.in_height, s.out_height);
      for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
        const int64_t w = adaptive_end(ow, s.in_width, s.out_width) - adaptive_start(ow, s.in_width, s.out_width);
        sum += load(plane[oh * s.out_width + ow]) / static_cast<C>(h * w);
      }
    }
    grad_x[e] = store<T>(sum);
  }
}

// ---- nearest upsampling ----

template <class T>
__global__ void nearest_kernel(PlaneSizes s, const T* __restrict__ x, T* __restrict__ out, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t ow = o % s.out_width, oh = o / s.out_width % s.out_height, p = o / (s.out_width * s.out_height);
    const int64_t ih = nearest_source(oh, s.in_height, s.out_height), iw = nearest_source(ow, s.in_width, s.out_width);
    out[o] = x[(p * s.in_height + ih) * s.in_width + iw];
  }
}

template <class T>
__global__ void nearest_backward_kernel(PlaneSizes s, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                        int64_t n) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const int64_t iw = e % s.in_width, ih = e / s.in_width % s.in_height, p = e / (s.in_width * s.in_height);
    const T* plane = grad_out + p * s.out_height * s.out_width;
    const IndexRange rows = nearest_outputs_of(ih, s.in_height, s.out_height);
    const IndexRange cols = nearest_outputs_of(iw, s.in_width, s.out_width);
    Compute<T> sum = 0;
    for (int64_t oh = rows.lo; oh < rows.hi; ++oh)
      for (int64_t ow = cols.lo; ow < cols.hi; ++ow) sum += load(plane[oh * s.out_width + ow]);
    grad_x[e] = store<T>(sum);
  }
}

// ---- bilinear upsampling ----

template <class T>
__global__ void bilinear_kernel(PlaneSizes s, const T* __restrict__ x, T* __restrict__ out, int64_t n,
                                bool align_corners) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t ow = o % s.out_width, oh = o / s.out_width % s.out_height, p = o / (s.out_width * s.out_height);
    const LinearTap<C> r = linear_tap<C>(oh, s.in_height, s.out_height, align_corners);
    const LinearTap<C> c = linear_tap<C>(ow, s.in_width, s.out_width, align_corners);
    const T* top = x + (p * s.in_height + r.i0) * s.in_width;
    const T* bottom = x + (p * s.in_height + r.i1) * s.in_width;
    out[o] = store<T>(r.lambda0 * (c.lambda0 * load(top[c.i0]) + c.lambda1 * load(top[c.i1])) +
                      r.lambda1 * (c.lambda0 * load(bottom[c.i0]) + c.lambda1 * load(bottom[c.i1])));
  }
}

template <class T>
__global__ void bilinear_backward_kernel(PlaneSizes s, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                         int64_t n, bool align_corners) {
  using C = Compute<T>;
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const int64_t iw = e % s.in_width, ih = e / s.in_width % s.in_height, p = e / (s.in_width * s.in_height);
    const T* plane = grad_out + p * s.out_height * s.out_width;
    const IndexRange rows = linear_outputs_of<C>(ih, s.in_height, s.out_height, align_corners);
    const IndexRange cols = linear_outputs_of<C>(iw, s.in_width, s.out_width, align_corners);
    C sum = 0;
    for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
      const C weight_h = linear_weight(linear_tap<C>(oh, s.in_height, s.out_height, align_corners), ih);
      if (weight_h == C(0)) continue;
      for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
        const C weight_w = linear_weight(linear_tap<C>(ow, s.in_width, s.out_width, align_corners), iw);
        sum += weight_h * weight_w * load(plane[oh * s.out_width + ow]);
      }
    }
    grad_x[e] = store<T>(sum);
  }
}

// ---- host side ----

void check_pool(const char* op, const Pool2dGeometry& g, const Tensor& in, const Tensor& out) {
  VIREO_CHECK(in.is_contiguous() && out.is_contiguous() && in.dtype() == out.dtype(), op,
              ": needs contiguous tensors of one dtype, got ", in.dtype(), " and ", out.dtype());
  VIREO_CHECK(in.numel() == g.planes * g.in_height * g.in_width && out.numel() == g.planes * g.out_height * g.out_width,
              op, ": tensors of shape ", in.shape(), " and ", out.shape(), " do not match the geometry (", g.planes,
              " planes of ", g.in_height, "×", g.in_width, " → ", g.out_height, "×", g.out_width, ")");
}

void check_indices(const char* op, const Tensor& indices, int64_t outputs) {
  VIREO_CHECK(indices.dtype() == DType::i64 && indices.is_contiguous() && indices.numel() == outputs, op,
              ": indices must be a contiguous i64 tensor of ", outputs, " elements, got ", indices.dtype(), " ",
              indices.shape());
}

// Launches kernel<T> over n elements with T from the tensor's dtype.
#define VIREO_POOL_LAUNCH(op, dtype, n, kernel, ...)                                   \
  do {                                                                                 \
    if ((n) == 0) return;                                                              \
    dispatch_floating(op, dtype, [&](auto tag) {                                       \
      using T = decltype(tag);                                                         \
      kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(__VA_ARGS__);                \
      VIREO_CUDA_CHECK_LAUNCH();                                                       \
    });                                                                                \
  } while (0)

template <class T>
const T* in_ptr(const Tensor& t) { return static_cast<const T*>(t.raw_data()); }
template <class T>
T* out_ptr(const Tensor& t) { return static_cast<T*>(t.raw_data()); }

void max_pool2d(const Pool2dGeometry& g, const Tensor& x, const Tensor& out, const Tensor& indices) {
  check_pool(__func__, g, x, out);
  check_indices(__func__, indices, out.numel());
  const int64_t n = out.numel();
  VIREO_POOL_LAUNCH(__func__, x.dtype(), n, max_pool_kernel, g, in_ptr<T>(x), out_ptr<T>(out),
                    out_ptr<int64_t>(indices), n);
}
void max_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x) {
  check_pool(__func__, g, grad_x, grad_out);
  check_indices(__func__, indices, grad_out.numel());
  const int64_t n = grad_x.numel();
  VIREO_POOL_LAUNCH(__func__, grad_x.dtype(), n, max_pool_backward_kernel, g, in_ptr<T>(grad_out),
                    in_ptr<int64_t>(indices), out_ptr<T>(grad_x), n);
}
void max_pool2d_gather(const Pool2dGeometry& g, const Tensor& x, const Tensor& indices, const Tensor& out) {
  check_pool(__func__, g, x, out);
  check_indices(__func__, indices, out.numel());
  const int64_t n = out.numel();
  VIREO_POOL_LAUNCH(__func__, x.dtype(), n, max_pool_gather_kernel, g, in_ptr<T>(x), in_ptr<int64_t>(indices),
                    out_ptr<T>(out), n);
}
void avg_pool2d(const Pool2dGeometry& g, const Tensor& x, const Tensor& out) {
  check_pool(__func__, g, x, out);
  const int64_t n = out.numel();
  VIREO_POOL_LAUNCH(__func__, x.dtype(), n, avg_pool_kernel, g, in_ptr<T>(x), out_ptr<T>(out), n);
}
void avg_pool2d_backward(const Pool2dGeometry& g, const Tensor& grad_out, const Tensor& grad_x) {
  check_pool(__func__, g, grad_x, grad_out);
  const int64_t n = grad_x.numel();
  VIREO_POOL_LAUNCH(__func__, grad_x.dtype(), n, avg_pool_backward_kernel, g, in_ptr<T>(grad_out), out_ptr<T>(grad_x), n);
}
void adaptive_avg_pool2d(const Tensor& x, const Tensor& out) {
  const PlaneSizes s = plane_sizes(__func__, x, out);
  const int64_t n = out.numel();
  VIREO_POOL_LAUNCH(__func__, x.dtype(), n, adaptive_avg_kernel, s, in_ptr<T>(x), out_ptr<T>(out), n);
}
void adaptive_avg_pool2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
  const PlaneSizes s = plane_sizes(__func__, grad_x, grad_out);
  const int64_t n = grad_x.numel();
  VIREO_POOL_LAUNCH(__func__, grad_x.dtype(), n, adaptive_avg_backward_kernel, s, in_ptr<T>(grad_out),
                    out_ptr<T>(grad_x), n);
}
void upsample_nearest2d(const Tensor& x, const Tensor& out) {
  const PlaneSizes s = plane_sizes(__func__, x, out);
  const int64_t n = out.numel();
  VIREO_POOL_LAUNCH(__func__, x.dtype(), n, nearest_kernel, s, in_ptr<T>(x), out_ptr<T>(out), n);
}
void upsample_nearest2d_backward(const Tensor& grad_out, const Tensor& grad_x) {
  const PlaneSizes s = plane_sizes(__func__, grad_x, grad_out);
  const int64_t n = grad_x.numel();
  VIREO_POOL_LAUNCH(__func__, grad_x.dtype(), n, nearest_backward_kernel, s, in_ptr<T>(grad_out), out_ptr<T>(grad_x), n);
}
void upsample_bilinear2d(const Tensor& x, const Tensor& out, bool align_corners) {
  const PlaneSizes s = plane_sizes(__func__, x, out);
  const int64_t n = out.numel();
  VIREO_POOL_LAUNCH(__func__, x.dtype(), n, bilinear_kernel, s, in_ptr<T>(x), out_ptr<T>(out), n, align_corners);
}
void upsample_bilinear2d_backward(const Tensor& grad_out, const Tensor& grad_x, bool align_corners) {
  const PlaneSizes s = plane_sizes(__func__, grad_x, grad_out);
  const int64_t n = grad_x.numel();
  VIREO_POOL_LAUNCH(__func__, grad_x.dtype(), n, bilinear_backward_kernel, s, in_ptr<T>(grad_out), out_ptr<T>(grad_x),
                    n, align_corners);
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::max_pool2d, DeviceType::cuda, max_pool2d);
VIREO_REGISTER_KERNEL(kernels::max_pool2d_backward, DeviceType::cuda, max_pool2d_backward);
VIREO_REGISTER_KERNEL(kernels::max_pool2d_gather, DeviceType::cuda, max_pool2d_gather);
VIREO_REGISTER_KERNEL(kernels::avg_pool2d, DeviceType::cuda, avg_pool2d);
VIREO_REGISTER_KERNEL(kernels::avg_pool2d_backward, DeviceType::cuda, avg_pool2d_backward);
VIREO_REGISTER_KERNEL(kernels::adaptive_avg_pool2d, DeviceType::cuda, adaptive_avg_pool2d);
VIREO_REGISTER_KERNEL(kernels::adaptive_avg_pool2d_backward, DeviceType::cuda, adaptive_avg_pool2d_backward);
VIREO_REGISTER_KERNEL(kernels::upsample_nearest2d, DeviceType::cuda, upsample_nearest2d);
VIREO_REGISTER_KERNEL(kernels::upsample_nearest2d_backward, DeviceType::cuda, upsample_nearest2d_backward);
VIREO_REGISTER_KERNEL(kernels::upsample_bilinear2d, DeviceType::cuda, upsample_bilinear2d);
VIREO_REGISTER_KERNEL(kernels::upsample_bilinear2d_backward, DeviceType::cuda, upsample_bilinear2d_backward);

}  // namespace vireo::cuda
