// Primitive kernels for convolution, pooling and resampling on contiguous NCHW tensors.
//
// Convolution is one linear map with three faces. With the "image" x [N, C_in, H, W], the weight
// w [C_out, C_in / groups, kH, kW] and the "response" y [N, C_out, OH, OW]:
//   conv2d_forward:      y = x ⋆ w (+ bias)                    (conv2d's forward)
//   conv2d_input_grad:   x = the adjoint of ⋆ w applied to y   (conv2d's backward-input, conv_transpose2d's forward)
//   conv2d_weight_grad:  w = the correlation of y with x        (conv2d's and conv_transpose2d's weight gradient)
// Each is the others' derivative, which is how conv2d and conv_transpose2d share one set of kernels.
//
// Pooling and resampling kernels work plane by plane (a plane = one [H, W] slice of one channel of one
// image): x [N, C, H, W] → y [N, C, OH, OW]; each has a backward kernel that is its exact adjoint.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// Every size a convolution kernel needs, with PyTorch's meaning:
//   out_height = (in_height + 2·pad_h − dilation_h·(kernel_h − 1) − 1) / stride_h + 1   (floor)
// (and the same across the width). For conv_transpose2d the image side is its OUTPUT.
struct Conv2dGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0, in_height = 0, in_width = 0;     // image side
  int64_t out_channels = 0, out_height = 0, out_width = 0;  // response side
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

// response = image ⋆ weight + bias (bias may be undefined). Overwrites response.
inline Kernel<void(const Conv2dGeometry& geometry, const Tensor& image, const Tensor& weight, const Tensor& bias,
                   const Tensor& response)>
    conv2d_forward{"conv2d_forward"};
// image = adjointᵀ(response) + bias per image channel (bias may be undefined). Overwrites image.
inline Kernel<void(const Conv2dGeometry& geometry, const Tensor& response, const Tensor& weight, const Tensor& bias,
                   const Tensor& image)>
    conv2d_input_grad{"conv2d_input_grad"};
// weight = Σ_n response_n · im2col(image_n)ᵀ per group. Overwrites weight; the sum over images runs in
// a fixed order whatever the thread count.
inline Kernel<void(const Conv2dGeometry& geometry, const Tensor& image, const Tensor& response, const Tensor& weight)>
    conv2d_weight_grad{"conv2d_weight_grad"};

// Window geometry shared by max and average pooling (out = (in + 2·pad − dilation·(kernel − 1) − 1) / stride + 1).
struct Pool2dGeometry {
  int64_t planes = 0;  // N · C
  int64_t in_height = 0, in_width = 0, out_height = 0, out_width = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  bool count_include_pad = true;  // average pooling's divisor
};

// out = max over each window (padding counts as −inf; NaN wins), indices (i64) = ih·W + iw of the
// maximum within its plane, the first one on ties.
inline Kernel<void(const Pool2dGeometry& geometry, const Tensor& x, const Tensor& out, const Tensor& indices)>
    max_pool2d{"max_pool2d"};
// grad_x = 0, then grad_x[plane, indices[o]] += grad_out[o]: the adjoint of gathering at the indices.
inline Kernel<void(const Pool2dGeometry& geometry, const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x)>
    max_pool2d_backward{"max_pool2d_backward"};
// out[o] = x[plane, indices[o]]: max pooling with the winners already chosen (the adjoint of the above).
inline Kernel<void(const Pool2dGeometry& geometry, const Tensor& x, const Tensor& indices, const Tensor& out)>
    max_pool2d_gather{"max_pool2d_gather"};

inline Kernel<void(const Pool2dGeometry& geometry, const Tensor& x, const Tensor& out)> avg_pool2d{"avg_pool2d"};
inline Kernel<void(const Pool2dGeometry& geometry, const Tensor& grad_out, const Tensor& grad_x)>
    avg_pool2d_backward{"avg_pool2d_backward"};

// Sizes come from the tensors' shapes: x [N, C, H, W], out [N, C, OH, OW].
inline Kernel<void(const Tensor& x, const Tensor& out)> adaptive_avg_pool2d{"adaptive_avg_pool2d"};
inline Kernel<void(const Tensor& grad_out, const Tensor& grad_x)> adaptive_avg_pool2d_backward{
    "adaptive_avg_pool2d_backward"};
inline Kernel<void(const Tensor& x, const Tensor& out)> upsample_nearest2d{"upsample_nearest2d"};
inline Kernel<void(const Tensor& grad_out, const Tensor& grad_x)> upsample_nearest2d_backward{
    "upsample_nearest2d_backward"};
inline Kernel<void(const Tensor& x, const Tensor& out, bool align_corners)> upsample_bilinear2d{"upsample_bilinear2d"};
inline Kernel<void(const Tensor& grad_out, const Tensor& grad_x, bool align_corners)> upsample_bilinear2d_backward{
    "upsample_bilinear2d_backward"};

}  // namespace vireo::kernels
