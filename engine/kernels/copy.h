// Primitive kernels for moving values: strided copy (with dtype conversion) and fill.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// dst[i] = convert(src[i]) for every index of their common shape; any strides, any dtypes.
inline Kernel<void(const Tensor& src, const Tensor& dst)> copy{"copy"};
// dst[i] = value.
inline Kernel<void(const Tensor& dst, double value)> fill{"fill"};
// Copies between devices (both tensors contiguous, same dtype); registered by non-CPU backends.
inline Kernel<void(const Tensor& src, const Tensor& dst)> transfer{"transfer"};

}  // namespace vireo::kernels
