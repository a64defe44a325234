// Primitive kernels for padding. Per dimension d, output position p reads input position
//   s = p − before[d]                     when 0 ≤ s < extent
//   constant:  none (the fill value)      otherwise
//   reflect:   −s, or 2·(extent − 1) − s  (mirror about the edge element, which is not repeated)
//   replicate: clamp(s, 0, extent − 1)
// and a padded tensor reads, in every dimension at once, the input element at those positions.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/dispatch.h"
#include "engine/ops/shape.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// out = x padded; x and out contiguous, before[d] (negative crops, constant mode only) per dimension.
inline Kernel<void(const Tensor& x, const Tensor& out, const std::vector<int64_t>& before, PadMode mode, double value)>
    pad{"pad"};

// The backward of a reflect or replicate pad along one dimension, which sends each output position's
// gradient to the input position it read:
//   grad_in[o, s, i] = Σ_{j : source(j) = s} grad_out[o, j, i]
// grad_out [outer, padded extent, inner] and grad_in [outer, extent, inner] contiguous. Each sum runs in
// increasing j whatever the thread count.
inline Kernel<void(const Tensor& grad_out, const Tensor& grad_in, int64_t outer, int64_t inner, int64_t before,
                   PadMode mode)>
    pad_fold{"pad_fold"};

// Where output position p of a padded dimension reads (−1: the fill value). Shared by the CPU kernels and
// the tests' reference loops.
inline int64_t pad_source(int64_t p, int64_t before, int64_t extent, PadMode mode) {
  const int64_t s = p - before;
  if (s >= 0 && s < extent) return s;
  switch (mode) {
    case PadMode::constant: return -1;
    case PadMode::reflect: return s < 0 ? -s : 2 * (extent - 1) - s;
    case PadMode::replicate: return s < 0 ? 0 : extent - 1;
  }
  return -1;
}

}  // namespace vireo::kernels
