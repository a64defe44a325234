// Convolution geometry on the GPU: what cuDNN's descriptors are given, and the index math of the im2col
// fallback. Host and device code both include it (VIREO_HOST_DEVICE), and the suite tests it on the CPU
// (tests/cuda/test_cuda_conv.cpp) against the CPU convolution kernels.
//
// Layouts (engine/kernels/conv.h): image x [N, C_in, H, W], weight w [C_out, C_in/groups, kH, kW], response
// y [N, C_out, OH, OW], all contiguous NCHW — exactly cuDNN's NCHW tensor and filter descriptors, with
// groups given to the convolution descriptor (cudnnSetConvolutionGroupCount) and cross-correlation mode
// (no kernel flip), as PyTorch.
//
// The fallback's column matrix of one image, with rows r = (c, i, j) over all C_in channels and columns
// p = (oh, ow):
//
//   col[r = (c·kH + i)·kW + j, p = oh·OW + ow] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]   (0 outside)
//
// Group g owns rows [g·K, (g+1)·K), K = (C_in/groups)·kH·kW, so per group
//   forward      Y[g] = W[g] · col[g]                      ([C_out/groups × K] · [K × OH·OW])
//   input grad   col[g] = W[g]ᵀ · dY[g], then dX = col2im(col)
//   weight grad  dW[g] += dY[g] · col[g]ᵀ   (summed over the images in order)
// col2im is written as a gather: each image element sums the column entries that were taken from it
// (the taps i, j for which oh = (ih + ph − i·dh) / sh is a whole number in range), so no two threads write
// one element and the result does not depend on scheduling.
#pragma once

#include <climits>
#include <cstdint>

#include "engine/cuda/common.h"
#include "engine/kernels/conv.h"

namespace vireo::cuda {

using kernels::Conv2dGeometry;

// PyTorch's output size along one dimension (floor division; ≤ 0 when the kernel does not fit).
VIREO_HOST_DEVICE inline int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                                                  int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// Everything cuDNN's four descriptors take, as ints (cuDNN's legacy API is int).
struct CudnnConvParams {
  int image[4];     // N, C_in, H, W
  int filter[4];    // C_out, C_in/groups, kH, kW
  int response[4];  // N, C_out, OH, OW
  int pad[2], stride[2], dilation[2];
  int groups;
};

// Checks that the geometry is consistent (channels divide by groups, the response size follows from the
// image size) and fits cuDNN's int arguments; `op` names the caller in errors.
inline CudnnConvParams cudnn_conv_params(const char* op, const Conv2dGeometry& g) {
  VIREO_CHECK(g.groups >= 1 && g.in_channels % g.groups == 0 && g.out_channels % g.groups == 0, op, ": ",
              g.in_channels, " input and ", g.out_channels, " output channels do not divide into ", g.groups,
              " groups");
  VIREO_CHECK(g.out_height == conv_output_size(g.in_height, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h) &&
                  g.out_width == conv_output_size(g.in_width, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w),
              op, ": a ", g.in_height, "×", g.in_width, " image gives a ",
              conv_output_size(g.in_height, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h), "×",
              conv_output_size(g.in_width, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w), " response, not ",
              g.out_height, "×", g.out_width);
  auto to_int = [op](int64_t value, const char* what) {
    VIREO_CHECK(value >= 0 && value <= INT_MAX, op, ": ", what, " = ", value, " exceeds cuDNN's int range");
    return static_cast<int>(value);
  };
  CudnnConvParams p{};
  p.image[0] = to_int(g.batch, "batch");
  p.image[1] = to_int(g.in_channels, "in_channels");
  p.image[2] = to_int(g.in_height, "in_height");
  p.image[3] = to_int(g.in_width, "in_width");
  p.filter[0] = to_int(g.out_channels, "out_channels");
  p.filter[1] = to_int(g.in_channels / g.groups, "in_channels / groups");
  p.filter[2] = to_int(g.kernel_h, "kernel_h");
  p.filter[3] = to_int(g.kernel_w, "kernel_w");
  p.response[0] = p.image[0];
  p.response[1] = p.filter[0];
  p.response[2] = to_int(g.out_height, "out_height");
  p.response[3] = to_int(g.out_width, "out_width");
  p.pad[0] = to_int(g.pad_h, "pad_h");
  p.pad[1] = to_int(g.pad_w, "pad_w");
  p.stride[0] = to_int(g.stride_h, "stride_h");
  p.stride[1] = to_int(g.stride_w, "stride_w");
  p.dilation[0] = to_int(g.dilation_h, "dilation_h");
  p.dilation[1] = to_int(g.dilation_w, "dilation_w");
  p.groups = to_int(g.groups, "groups");
  return p;
}

// The fallback's GEMM sizes for one group.
struct ColumnShape {
  int64_t rows_per_group;  // K = C_in/groups · kH · kW
  int64_t columns;         // OH · OW
};
VIREO_HOST_DEVICE inline ColumnShape column_shape(const Conv2dGeometry& g) {
  return {g.in_channels / g.groups * g.kernel_h * g.kernel_w, g.out_height * g.out_width};
}

// The offset within one image [C_in, H, W] that col[row, column] reads, or −1 for padding.
VIREO_HOST_DEVICE inline int64_t im2col_source(const Conv2dGeometry& g, int64_t row, int64_t column) {
  const int64_t kernel_area = g.kernel_h * g.kernel_w;
  const int64_t c = row / kernel_area, i = row % kernel_area / g.kernel_w, j = row % g.kernel_w;
  const int64_t oh = column / g.out_width, ow = column % g.out_width;
  const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
  const int64_t iw = ow * g.stride_w - g.pad_w + j * g.dilation_w;
  if (ih < 0 || ih >= g.in_height || iw < 0 || iw >= g.in_width) return -1;
  return (c * g.in_height + ih) * g.in_width + iw;
}

// The output position along one dimension whose tap `tap` reads input position `in`, or −1 when none does:
// out·stride − pad + tap·dilation = in.
VIREO_HOST_DEVICE inline int64_t output_of_tap(int64_t in, int64_t tap, int64_t stride, int64_t pad, int64_t dilation,
                                               int64_t out_size) {
  const int64_t t = in + pad - tap * dilation;
  if (t < 0 || t % stride != 0) return -1;
  const int64_t out = t / stride;
  return out < out_size ? out : -1;
}

// col2im for one image element (c, ih, iw): visits every column entry im2col took from it, as
// visit(row, column), in increasing row order.
template <class Visit>
VIREO_HOST_DEVICE inline void for_each_column_entry(const Conv2dGeometry& g, int64_t c, int64_t ih, int64_t iw,
                                                    Visit&& visit) {
  for (int64_t i = 0; i < g.kernel_h; ++i) {
    const int64_t oh = output_of_tap(ih, i, g.stride_h, g.pad_h, g.dilation_h, g.out_height);
    if (oh < 0) continue;
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      const int64_t ow = output_of_tap(iw, j, g.stride_w, g.pad_w, g.dilation_w, g.out_width);
      if (ow < 0) continue;
      visit((c * g.kernel_h + i) * g.kernel_w + j, oh * g.out_width + ow);
    }
  }
}

}  // namespace vireo::cuda
