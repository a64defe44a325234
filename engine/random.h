// Counter-based random numbers (Philox-4x32-10, Salmon et al. 2011). A draw of n numbers takes the
// counters [offset, offset + n) of the stream named by the seed, so every element is a pure function of
// (seed, offset, index): results are identical for any number of threads and on any device.
#pragma once

#include <array>
#include <cstdint>

#include "engine/host_device.h"

namespace vireo {

// The four 32-bit words of one Philox evaluation, as a plain struct so the GPU kernels (engine/cuda) can
// compute the same stream: std::array is not usable in device code.
struct PhiloxWords {
  uint32_t word[4];
};

// One Philox-4x32-10 evaluation: ten rounds of the Philox-4x32 bijection, with the published multipliers
// and Weyl key increments, of a 128-bit counter under a 64-bit key.
VIREO_HOST_DEVICE inline PhiloxWords philox4x32_10(PhiloxWords counter, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kMultiplier0 = 0xD2511F53, kMultiplier1 = 0xCD9E8D57;
  constexpr uint32_t kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  uint32_t* c = counter.word;
  for (int round = 0; round < 10; ++round) {
    const uint64_t product0 = static_cast<uint64_t>(kMultiplier0) * c[0];
    const uint64_t product1 = static_cast<uint64_t>(kMultiplier1) * c[2];
    const PhiloxWords next = {{static_cast<uint32_t>(product1 >> 32) ^ c[1] ^ key0, static_cast<uint32_t>(product1),
                               static_cast<uint32_t>(product0 >> 32) ^ c[3] ^ key1, static_cast<uint32_t>(product0)}};
    counter = next;
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// Counter block `index` of the stream named by `seed`: what Generator::block returns, callable on the GPU.
VIREO_HOST_DEVICE inline PhiloxWords philox_block(uint64_t seed, uint64_t index) {
  return philox4x32_10({{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0, 0}},
                       static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// The same evaluation with std::array (host code).
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}

  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void manual_seed(uint64_t seed) {
    seed_ = seed;
    offset_ = 0;
  }
  void set_offset(uint64_t offset) { offset_ = offset; }  // for exact resume

  // Reserves `count` 128-bit counter blocks and returns the first; the caller evaluates them.
  uint64_t reserve(uint64_t count) {
    const uint64_t first = offset_;
    offset_ += count;
    return first;
  }

  // The four 32-bit words of counter block `block`.
  std::array<uint32_t, 4> block(uint64_t block) const;

  // Convenience draws on the host (one block each): uniform in [0, 1) and an integer in [0, n).
  double uniform();
  uint64_t below(uint64_t n);

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Maps 32 random bits to a float/double in [0, 1).
VIREO_HOST_DEVICE inline float uniform_float(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }
VIREO_HOST_DEVICE inline double uniform_double(uint32_t high, uint32_t low) {
  return static_cast<double>(((static_cast<uint64_t>(high) << 32) | low) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace vireo
