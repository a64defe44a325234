// Element-wise helpers of the dense kernels (declared in engine/cuda/dense_kernels.h): the GEMM epilogue
// (beta and bias), the per-channel bias of the convolutions, and im2col / col2im for the convolution
// fallback (index math in engine/cuda/conv_geometry.h). One thread per output element, grid-stride loops;
// 16-bit types compute in f32 (device_types.cuh).
#include "engine/cuda/common.h"
#include "engine/cuda/conv_geometry.h"
#include "engine/cuda/dense_kernels.h"
#include "engine/cuda/device_types.cuh"

namespace vireo::cuda {
namespace {

#define VIREO_GRID_STRIDE_LOOP(i, n) \
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < (n); i += int64_t{gridDim.x} * blockDim.x)

template <class T>
__global__ void gemm_epilogue_kernel(T* out, OffsetCalculator<1> calc, int64_t n, int64_t columns, bool replace,
                                     Compute<T> beta, const T* __restrict__ bias) {
  VIREO_GRID_STRIDE_LOOP(linear, n) {
    int64_t offset[1];
    calc.offsets(linear, offset);
    Compute<T> value = replace ? Compute<T>(0) : beta * load(out[offset[0]]);
    if (bias) value += load(bias[linear % columns]);
    out[offset[0]] = store<T>(value);
  }
}

template <class T>
__global__ void channel_bias_kernel(T* x, const T* __restrict__ bias, int64_t n, int64_t channels, int64_t plane) {
  VIREO_GRID_STRIDE_LOOP(linear, n) x[linear] = bias[linear / plane % channels];
}

template <class T>
__global__ void im2col_kernel(Conv2dGeometry g, const T* __restrict__ image, T* __restrict__ col, int64_t n,
                              int64_t columns) {
  VIREO_GRID_STRIDE_LOOP(linear, n) {
    const int64_t source = im2col_source(g, linear / columns, linear % columns);
    col[linear] = source >= 0 ? image[source] : store<T>(Compute<T>(0));
  }
}

template <class T>
__global__ void col2im_kernel(Conv2dGeometry g, const T* __restrict__ col, T* __restrict__ image, int64_t n,
                              int64_t columns, bool accumulate) {
  VIREO_GRID_STRIDE_LOOP(linear, n) {
    const int64_t iw = linear % g.in_width, ih = linear / g.in_width % g.in_height;
    const int64_t c = linear / (g.in_width * g.in_height);
    Compute<T> sum = accumulate ? load(image[linear]) : Compute<T>(0);
    for_each_column_entry(g, c, ih, iw, [&](int64_t row, int64_t column) { sum += load(col[row * columns + column]); });
    image[linear] = store<T>(sum);
  }
}

}  // namespace

void gemm_epilogue(const Tensor& out, bool replace, double beta, const void* bias) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const int64_t columns = out.shape()[out.dim() - 1];
  const auto calc = make_offset_calculator<1>(out.shape(), {&out.strides()});
  dispatch_floating("batched_gemm", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gemm_epilogue_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<T*>(out.raw_data()), calc, n, columns, replace, static_cast<Compute<T>>(beta),
        static_cast<const T*>(bias));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void fill_channel_bias(DType dtype, void* x, const void* bias, int64_t batch, int64_t channels, int64_t plane) {
  const int64_t n = batch * channels * plane;
  if (n == 0) return;
  dispatch_floating("conv2d bias", dtype, [&](auto tag) {
    using T = decltype(tag);
    channel_bias_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(x), static_cast<const T*>(bias),
                                                                      n, channels, plane);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void im2col(DType dtype, const Conv2dGeometry& g, const void* image, void* col) {
  const ColumnShape shape = column_shape(g);
  const int64_t n = shape.rows_per_group * g.groups * shape.columns;
  if (n == 0) return;
  dispatch_floating("conv2d im2col", dtype, [&](auto tag) {
    using T = decltype(tag);
    im2col_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(g, static_cast<const T*>(image), static_cast<T*>(col),
                                                                n, shape.columns);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void col2im(DType dtype, const Conv2dGeometry& g, const void* col, void* image, bool accumulate) {
  const ColumnShape shape = column_shape(g);
  const int64_t n = g.in_channels * g.in_height * g.in_width;
  if (n == 0) return;
  dispatch_floating("conv2d col2im", dtype, [&](auto tag) {
    using T = decltype(tag);
    col2im_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(g, static_cast<const T*>(col), static_cast<T*>(image),
                                                                n, shape.columns, accumulate);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace vireo::cuda
