#include "engine/random.h"

namespace vireo {

std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  const PhiloxWords w = philox4x32_10({{counter[0], counter[1], counter[2], counter[3]}}, key[0], key[1]);
  return {w.word[0], w.word[1], w.word[2], w.word[3]};
}

std::array<uint32_t, 4> Generator::block(uint64_t index) const {
  const PhiloxWords w = philox_block(seed_, index);
  return {w.word[0], w.word[1], w.word[2], w.word[3]};
}

double Generator::uniform() {
  const auto words = block(reserve(1));
  return uniform_double(words[0], words[1]);
}

uint64_t Generator::below(uint64_t n) {
  const auto words = block(reserve(1));
  const uint64_t bits = (static_cast<uint64_t>(words[0]) << 32) | words[1];
  // Multiply-shift reduction; the bias is below 2^-32 for any n that fits a tensor.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(bits) * n) >> 64);
}

Generator& default_generator() {
  static Generator generator(0);
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace vireo
