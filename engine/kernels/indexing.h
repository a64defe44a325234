// Primitive kernels that move values by i64 index tensors. Front ends lay tensors out around the indexed
// dimension as [outer, extent, inner] and check shapes and dtypes; kernels check every index against the
// extent it addresses (only they can read the indices, wherever they live) and fail naming the op.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// out[o, j, i] = x[o, index[j], i]. x [outer, extent, inner] and out [outer, n, inner] contiguous, index [n];
// `dim` is the caller's dimension, for the message.
inline Kernel<void(const Tensor& x, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
                   const Tensor& out)>
    index_select{"index_select"};

// out[o, index[j], i] += src[o, j, i] (the backward of index_select). out [outer, extent, inner] and
// src [outer, n, inner] contiguous; duplicates accumulate in order of j, whatever the thread count.
inline Kernel<void(const Tensor& out, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
                   const Tensor& src)>
    index_add{"index_add"};

// out[p] = x[p with coordinate `dim` replaced by index[p]]. index and out contiguous, of one shape; x has that
// shape except along `dim`, with any strides (a narrowed view of the caller's tensor).
inline Kernel<void(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out)> gather{"gather"};

// out[p with coordinate `dim` replaced by index[p]] += src[p], for every p of index's shape. index
// contiguous; src of index's shape and out of index's shape except along `dim`, any strides (views into the
// caller's tensors). Duplicates accumulate in increasing order of the `dim` coordinate, whatever the thread
// count.
inline Kernel<void(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src)> scatter_add{"scatter_add"};

// out[p, c] = (labels[p] == c). labels contiguous [n], out contiguous [n, classes].
inline Kernel<void(const Tensor& labels, const Tensor& out)> one_hot{"one_hot"};

}  // namespace vireo::kernels
