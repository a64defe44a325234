// RandomStream: Philox blocks consumed word by word; Box–Muller normals; the per-epoch shuffle.
#include "training/data/random_stream.h"

#include <cmath>
#include <numbers>
#include <utility>

#include "engine/error.h"

namespace vireo::data {

RandomStream::RandomStream(uint64_t seed, uint64_t epoch, uint64_t sample, uint64_t view)
    : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
      counter_{0, static_cast<uint32_t>(view), static_cast<uint32_t>(sample), static_cast<uint32_t>(epoch)} {
  VIREO_CHECK(epoch <= 0xFFFFFFFFu && sample <= 0xFFFFFFFFu && view <= 0xFFFFFFFFu,
              "RandomStream: epoch ", epoch, ", sample ", sample, " and view ", view, " must each fit 32 bits");
}

uint32_t RandomStream::next_u32() {
  if (used_ == 4) {
    VIREO_CHECK(counter_[0] != 0xFFFFFFFFu, "RandomStream: more than 2^34 draws from one sample's stream");
    words_ = philox4x32(counter_, key_);
    ++counter_[0];
    used_ = 0;
  }
  return words_[used_++];
}

double RandomStream::uniform() {
  const uint32_t high = next_u32();
  return uniform_double(high, next_u32());
}

int64_t RandomStream::integer(int64_t low, int64_t high) {
  VIREO_CHECK(high > low, "RandomStream::integer: empty range [", low, ", ", high, ")");
  const uint64_t span = static_cast<uint64_t>(high - low);
  const uint64_t bits = (static_cast<uint64_t>(next_u32()) << 32) | next_u32();
  // Multiply-shift reduction, as Generator::below: the bias is below 2^-32 for any span we use.
  return low + static_cast<int64_t>((static_cast<unsigned __int128>(bits) * span) >> 64);
}

double RandomStream::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // Box–Muller: with ρ = √(−2 ln u₁) and φ = 2π u₂, ρ cos φ and ρ sin φ are independent N(0, 1) for
  // independent uniforms u₁, u₂ (1 − u keeps the logarithm finite).
  const double u1 = 1.0 - uniform(), u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * std::numbers::pi * u2;
  spare_normal_ = radius * std::sin(angle);
  has_spare_normal_ = true;
  return radius * std::cos(angle);
}

std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, uint64_t epoch) {
  VIREO_CHECK(n >= 0, "shuffled_order: negative size ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  RandomStream random(seed, epoch, 0, kShuffleView);
  // Fisher–Yates: position i takes a uniformly chosen element of the not-yet-placed prefix [0, i].
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(random.integer(0, i + 1))]);
  return order;
}

}  // namespace vireo::data
