// Counter-based random numbers (Philox-4x32-10, Salmon et al. 2011). A draw of n numbers takes the
// counters [offset, offset + n) of the stream named by the seed, so every element is a pure function of
// (seed, offset, index): results are identical for any number of threads and on any device.
#pragma once

#include <array>
#include <cstdint>

namespace vireo {

// One Philox-4x32-10 evaluation: 4 random 32-bit words from a 128-bit counter and a 64-bit key.
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
inline float uniform_float(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f); }
inline double uniform_double(uint32_t high, uint32_t low) {
  return static_cast<double>(((static_cast<uint64_t>(high) << 32) | low) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace vireo
