// Primitive kernels for sorting and selecting along the middle axis of a contiguous [outer, extent, inner]
// block (each (o, i) is one row of `extent` elements, `inner` apart in memory). NaN compares above every
// number, as in torch: last when ascending, first when descending, and largest for topk.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// values/indices [outer, extent, inner]: each row sorted, stably (equal elements keep their order).
inline Kernel<void(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool descending,
                   const Tensor& values, const Tensor& indices)>
    sort{"sort"};

// values/indices [outer, k, inner]: the k largest (or smallest) of each row. sorted: best first, equal
// elements in index order; unsorted: the same k elements in increasing index order.
inline Kernel<void(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, int64_t k, bool largest, bool sorted,
                   const Tensor& values, const Tensor& indices)>
    topk{"topk"};

}  // namespace vireo::kernels
