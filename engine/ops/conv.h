// Convolutions, pooling and resampling on NCHW tensors.
#pragma once

#include <array>

#include "engine/tensor.h"

namespace vireo {

using Pair = std::array<int64_t, 2>;  // (height, width)

struct Conv2dOptions {
  Pair stride{1, 1};
  Pair padding{0, 0};
  Pair dilation{1, 1};
  int64_t groups = 1;
};
// x [N, C_in, H, W], weight [C_out, C_in / groups, kH, kW], bias [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Conv2dOptions options = {});

struct ConvTranspose2dOptions {
  Pair stride{1, 1};
  Pair padding{0, 0};
  Pair output_padding{0, 0};
  Pair dilation{1, 1};
  int64_t groups = 1;
};
// x [N, C_in, H, W], weight [C_in, C_out / groups, kH, kW] (PyTorch's layout), bias [C_out].
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        ConvTranspose2dOptions options = {});

struct Pool2dOptions {
  Pair kernel{2, 2};
  Pair stride{0, 0};  // {0, 0} means "equal to the kernel", as PyTorch's default
  Pair padding{0, 0};
  Pair dilation{1, 1};        // max_pool2d only
  bool count_include_pad = true;  // avg_pool2d only
};
Tensor max_pool2d(const Tensor& x, Pool2dOptions options);
Tensor avg_pool2d(const Tensor& x, Pool2dOptions options);
Tensor adaptive_avg_pool2d(const Tensor& x, Pair output_size);

// Resize to `size` (H, W). Nearest uses PyTorch's "nearest" rule (floor(dst · in/out)).
Tensor upsample_nearest2d(const Tensor& x, Pair size);
Tensor upsample_bilinear2d(const Tensor& x, Pair size, bool align_corners = false);

}  // namespace vireo
