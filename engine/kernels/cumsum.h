// The cumulative-sum primitive, along the middle axis of a contiguous [outer, extent, inner] block.
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// out[o, r, i] = Σ_{r' ≤ r} x[o, r', i], or Σ_{r' ≥ r} when reverse (the backward of the forward sum).
// f32 accumulates in f64 (as torch on CPU), each row in order, so results do not depend on the thread count.
inline Kernel<void(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool reverse, const Tensor& out)>
    cumsum{"cumsum"};

}  // namespace vireo::kernels
