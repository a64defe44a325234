// RandomStream: the random numbers of one view of one sample in one epoch, as a pure function of
// (seed, epoch, sample index, view index). Augmentations draw from it, so what a sample looks like never
// depends on which loader thread built it, on the batch size, or on what other samples drew.
//
// It is the engine's Philox-4x32-10 (engine/random.h) with the seed as key and a 128-bit counter that
// spells out the stream's name and the draw number:
//   counter = [draw block, view, sample, epoch]   (32 bits each), key = seed (64 bits).
// Distinct (epoch, sample, view) are distinct counters, so streams never overlap; each block gives four
// 32-bit words, consumed in order.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "engine/random.h"

namespace vireo::data {

class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t epoch, uint64_t sample, uint64_t view);

  uint32_t next_u32();
  // Uniform in [0, 1) with 53 random bits, as torch.rand in double.
  double uniform();
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // An integer in [low, high) (torch.randint(low, high)); high > low.
  int64_t integer(int64_t low, int64_t high);
  // True with probability p (torch.rand(1) < p).
  bool bernoulli(double p) { return uniform() < p; }
  // A standard normal number. Box–Muller turns two uniforms into two independent normals; the second is
  // kept for the next call.
  double normal();

 private:
  std::array<uint32_t, 2> key_;
  std::array<uint32_t, 4> counter_;  // counter_[0] is the next block
  std::array<uint32_t, 4> words_{};
  int used_ = 4;  // words_ already handed out
  double spare_normal_ = 0.0;
  bool has_spare_normal_ = false;
};

// The view index reserved for the loader's shuffle stream (augmentation views count up from 0).
inline constexpr uint64_t kShuffleView = 0xFFFFFFFFu;

// A permutation of [0, n) that depends only on (seed, epoch): Fisher–Yates driven by the stream
// (seed, epoch, sample 0, kShuffleView).
std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, uint64_t epoch);

}  // namespace vireo::data
