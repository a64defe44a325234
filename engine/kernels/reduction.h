// The reduction primitive. Front ends lay the input out as a contiguous [outer, reduced, inner] block
// (permuting when the reduced dimensions are not adjacent) and the kernel reduces the middle axis.
#pragma once

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

enum class ReduceOp { sum, max, min };
// values[o, i] = reduce_r x[o, r, i]; for max/min, indices[o, i] (i64, when defined) = the first r attaining it.
// Sums of f32 accumulate in f64; the split across threads does not depend on the thread count.
inline Kernel<void(ReduceOp op, const Tensor& x, int64_t outer, int64_t reduced, int64_t inner, const Tensor& values,
                   const Tensor& indices)>
    reduce{"reduce"};

}  // namespace vireo::kernels
