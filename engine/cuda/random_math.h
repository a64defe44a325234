// One element of random_fill (engine/kernels/random.h) as a function of (seed, first block, index), for
// host and device: the CUDA kernel calls these, and the host suite (tests/cuda/test_cuda_random.cpp) checks
// them against the CPU kernel, element for element. The counter blocks come from philox_block, the function
// behind the CPU's Generator::block.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/host_device.h"
#include "engine/random.h"

namespace vireo::cuda {

// Uniform f32: word i % 4 of block first_block + i / 4.
VIREO_HOST_DEVICE inline float uniform_f32_element(uint64_t seed, uint64_t first_block, int64_t i) {
  return uniform_float(philox_block(seed, first_block + static_cast<uint64_t>(i / 4)).word[i % 4]);
}

// Uniform f64 (and the 16-bit floats): words (2·(i % 2), 2·(i % 2) + 1) of block first_block + i / 2.
VIREO_HOST_DEVICE inline double uniform_f64_element(uint64_t seed, uint64_t first_block, int64_t i) {
  const PhiloxWords w = philox_block(seed, first_block + static_cast<uint64_t>(i / 2));
  const int pair = static_cast<int>(i % 2) * 2;
  return uniform_double(w.word[pair], w.word[pair + 1]);
}

// Normal: Box–Muller on block first_block + i / 2, the cosine branch for even i, the sine for odd i.
VIREO_HOST_DEVICE inline double normal_element(uint64_t seed, uint64_t first_block, int64_t i) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const PhiloxWords w = philox_block(seed, first_block + static_cast<uint64_t>(i / 2));
  // 1 − u keeps the logarithm's argument in (0, 1].
  const double u1 = 1.0 - uniform_double(w.word[0], w.word[1]), u2 = uniform_double(w.word[2], w.word[3]);
  const double radius = std::sqrt(-2.0 * std::log(u1)), angle = kTwoPi * u2;
  return i % 2 == 0 ? radius * std::cos(angle) : radius * std::sin(angle);
}

}  // namespace vireo::cuda
