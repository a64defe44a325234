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
// sums. 16-bit types compute in f32. Each kernel's per-element body is a function of engine/cuda/pool_math.h,
// which the suite runs on the CPU.
#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/pool_math.h"
#include "engine/kernels/conv.h"

namespace vireo::cuda {
namespace {

#define VIREO_GRID_STRIDE_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); i += int64_t{gridDim.x} * blockDim.x)

PlaneSizes plane_sizes(const char* op, const Tensor& input, const Tensor& output) {
  VIREO_CHECK(input.dim() == 4 && output.dim() == 4 && input.is_contiguous() && output.is_contiguous() &&
                  input.dtype() == output.dtype(),
              op, ": needs contiguous [N, C, H, W] tensors of one dtype, got ", input.shape(), " (", input.dtype(),
              ") and ", output.shape(), " (", output.dtype(), ")");
  return {input.size(0) * input.size(1), input.size(2), input.size(3), output.size(2), output.size(3)};
}

// Element e of a [planes, height, width] tensor as (plane, row, column).
struct PlanePosition {
  int64_t plane, row, column;
};
__device__ __forceinline__ PlanePosition position(int64_t e, int64_t height, int64_t width) {
  return {e / (height * width), e / width % height, e % width};
}

// A reader of one plane in the compute type: read(offset) = load(plane[offset]).
template <class T>
struct PlaneReader {
  const T* plane;
  __device__ __forceinline__ Compute<T> operator()(int64_t offset) const { return load(plane[offset]); }
};

// ---- max pooling ----

template <class T>
__global__ void max_pool_kernel(Pool2dGeometry g, const T* __restrict__ x, T* __restrict__ out,
                                int64_t* __restrict__ indices, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const PlanePosition at = position(o, g.out_height, g.out_width);
    const auto best = max_pool_element<Compute<T>>(g, at.row, at.column,
                                                   PlaneReader<T>{x + at.plane * g.in_height * g.in_width});
    out[o] = store<T>(best.value);
    indices[o] = best.index;
  }
}

template <class T>
__global__ void max_pool_backward_kernel(Pool2dGeometry g, const T* __restrict__ grad_out,
                                         const int64_t* __restrict__ indices, T* __restrict__ grad_x, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const PlanePosition at = position(e, g.in_height, g.in_width);
    const int64_t plane_start = at.plane * g.out_height * g.out_width;
    const int64_t* plane_indices = indices + plane_start;
    grad_x[e] = store<T>(max_pool_backward_element<Compute<T>>(
        g, at.row, at.column, PlaneReader<T>{grad_out + plane_start},
        [plane_indices](int64_t o) { return plane_indices[o]; }));
  }
}

template <class T>
__global__ void max_pool_gather_kernel(Pool2dGeometry g, const T* __restrict__ x, const int64_t* __restrict__ indices,
                                       T* __restrict__ out, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const int64_t plane = o / (g.out_height * g.out_width), at = indices[o];
    out[o] = at >= 0 ? x[plane * g.in_height * g.in_width + at] : store<T>(Compute<T>(0));
  }
}

// ---- average pooling ----

template <class T>
__global__ void avg_pool_kernel(Pool2dGeometry g, const T* __restrict__ x, T* __restrict__ out, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const PlanePosition at = position(o, g.out_height, g.out_width);
    out[o] = store<T>(
        avg_pool_element<Compute<T>>(g, at.row, at.column, PlaneReader<T>{x + at.plane * g.in_height * g.in_width}));
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(Pool2dGeometry g, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                         int64_t n) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const PlanePosition at = position(e, g.in_height, g.in_width);
    grad_x[e] = store<T>(avg_pool_backward_element<Compute<T>>(
        g, at.row, at.column, PlaneReader<T>{grad_out + at.plane * g.out_height * g.out_width}));
  }
}

// ---- adaptive average pooling ----

template <class T>
__global__ void adaptive_avg_kernel(PlaneSizes s, const T* __restrict__ x, T* __restrict__ out, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const PlanePosition at = position(o, s.out_height, s.out_width);
    out[o] = store<T>(adaptive_avg_element<Compute<T>>(s, at.row, at.column,
                                                       PlaneReader<T>{x + at.plane * s.in_height * s.in_width}));
  }
}

template <class T>
__global__ void adaptive_avg_backward_kernel(PlaneSizes s, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                             int64_t n) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const PlanePosition at = position(e, s.in_height, s.in_width);
    grad_x[e] = store<T>(adaptive_avg_backward_element<Compute<T>>(
        s, at.row, at.column, PlaneReader<T>{grad_out + at.plane * s.out_height * s.out_width}));
  }
}

// ---- nearest upsampling ----

template <class T>
__global__ void nearest_kernel(PlaneSizes s, const T* __restrict__ x, T* __restrict__ out, int64_t n) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const PlanePosition at = position(o, s.out_height, s.out_width);
    const int64_t ih = nearest_source(at.row, s.in_height, s.out_height);
    const int64_t iw = nearest_source(at.column, s.in_width, s.out_width);
    out[o] = x[(at.plane * s.in_height + ih) * s.in_width + iw];
  }
}

template <class T>
__global__ void nearest_backward_kernel(PlaneSizes s, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                        int64_t n) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const PlanePosition at = position(e, s.in_height, s.in_width);
    grad_x[e] = store<T>(nearest_backward_element<Compute<T>>(
        s, at.row, at.column, PlaneReader<T>{grad_out + at.plane * s.out_height * s.out_width}));
  }
}

// ---- bilinear upsampling ----

template <class T>
__global__ void bilinear_kernel(PlaneSizes s, const T* __restrict__ x, T* __restrict__ out, int64_t n,
                                bool align_corners) {
  VIREO_GRID_STRIDE_LOOP(o, n) {
    const PlanePosition at = position(o, s.out_height, s.out_width);
    out[o] = store<T>(bilinear_element<Compute<T>>(s, at.row, at.column, align_corners,
                                                   PlaneReader<T>{x + at.plane * s.in_height * s.in_width}));
  }
}

template <class T>
__global__ void bilinear_backward_kernel(PlaneSizes s, const T* __restrict__ grad_out, T* __restrict__ grad_x,
                                         int64_t n, bool align_corners) {
  VIREO_GRID_STRIDE_LOOP(e, n) {
    const PlanePosition at = position(e, s.in_height, s.in_width);
    grad_x[e] = store<T>(bilinear_backward_element<Compute<T>>(
        s, at.row, at.column, align_corners, PlaneReader<T>{grad_out + at.plane * s.out_height * s.out_width}));
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
