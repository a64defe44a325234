// Primitive kernels that fill a tensor from Philox counter blocks [first_block, first_block + ceil(n/4)).
#pragma once

#include <cstdint>

#include "engine/dispatch.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace vireo::kernels {

enum class Distribution { uniform, normal };
// out (contiguous) = U[0,1) or N(0,1) draws. Element i reads only its own counter block, so the result
// does not depend on how the work is split across threads:
//   uniform f32: word i % 4 of block first_block + i / 4;
//   uniform f64: words (2·(i % 2), 2·(i % 2) + 1) of block first_block + i / 2;
//   normal: Box–Muller on block first_block + i / 2 (two 64-bit uniforms), element i taking the cosine
//   (even i) or sine (odd i) branch.
inline Kernel<void(const Tensor& out, Distribution distribution, const Generator& generator, uint64_t first_block)>
    random_fill{"random_fill"};

// How many counter blocks a draw of n elements uses (what the generator must reserve).
inline uint64_t random_blocks_needed(Distribution distribution, DType dtype, int64_t n) {
  const uint64_t per_block = distribution == Distribution::uniform && dtype == DType::f32 ? 4 : 2;
  return (static_cast<uint64_t>(n) + per_block - 1) / per_block;
}

}  // namespace vireo::kernels
