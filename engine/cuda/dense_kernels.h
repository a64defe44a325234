// The element-wise helpers of the dense kernels (engine/cuda/dense_kernels.cu), launched on stream() by the
// host code of batched_gemm (engine/cuda/gemm.cpp) and the convolutions (engine/cuda/conv.cpp). Pointers,
// dtypes, PODs and Tensor handles only (engine/tensor.h is C++17-clean): the host side is g++ C++20, the
// launchers nvcc C++17.
#pragma once

#include <cstdint>

#include "engine/dtype.h"
#include "engine/kernels/conv.h"
#include "engine/tensor.h"

namespace vireo::cuda {

// The GEMM epilogue on out [batch..., M, N] (any strides):  out = scale(out) + bias[j]  where scale(out) is
// 0 when replace (beta = 0: out's contents, NaN included, are ignored), beta · out otherwise, and bias (a
// contiguous [N], or null) is added on every row. batched_gemm runs it before a cuBLAS call with beta = 1
// when there is a bias, and alone for K = 0.
void gemm_epilogue(const Tensor& out, bool replace, double beta, const void* bias);

// x[n, c, :, :] = bias[c] for a contiguous [N, C, plane] tensor: the convolutions start from the bias and
// accumulate the product onto it, so that a 16-bit result is rounded once.
void fill_channel_bias(DType dtype, void* x, const void* bias, int64_t batch, int64_t channels, int64_t plane);

// The column matrix of image n (engine/cuda/conv_geometry.h): col [C_in·kH·kW × OH·OW] for the contiguous
// image [C_in, H, W] at `image`.
void im2col(DType dtype, const kernels::Conv2dGeometry& geometry, const void* image, void* col);
// Its adjoint, by gathering (no atomics): image[c, ih, iw] = Σ over the column entries im2col took from it,
// added to the image's values when accumulate, overwriting them otherwise.
void col2im(DType dtype, const kernels::Conv2dGeometry& geometry, const void* col, void* image, bool accumulate);

// Tests: route every convolution through the im2col + cuBLAS fallback instead of cuDNN (engine/cuda/conv.cpp),
// so that the parity suite checks both paths on a GPU where cuDNN supports every shape.
void set_force_conv_fallback(bool force);

}  // namespace vireo::cuda
