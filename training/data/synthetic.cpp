// SyntheticDataset: the grating of the drawn class, plus noise, from the stream (seed, 0, index, 0).
#include "training/data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "training/data/random_stream.h"

namespace vireo::data {

SyntheticDataset::SyntheticDataset(SyntheticOptions options) : options_(options) {
  VIREO_CHECK(options_.size > 0 && options_.size <= 0xFFFFFFFFll, "SyntheticDataset: size ", options_.size,
              " must be in [1, 2^32)");
  VIREO_CHECK(options_.num_classes > 0, "SyntheticDataset: num_classes ", options_.num_classes, " must be positive");
  VIREO_CHECK(options_.channels > 0 && options_.height > 0 && options_.width > 0, "SyntheticDataset: image ",
              options_.height, "x", options_.width, "x", options_.channels, " must have positive sizes");
  VIREO_CHECK(options_.noise >= 0.0, "SyntheticDataset: noise ", options_.noise, " is negative");
}

Example SyntheticDataset::get(int64_t index) const {
  check_index("SyntheticDataset", index, options_.size);
  RandomStream random(options_.seed, 0, static_cast<uint64_t>(index), 0);
  const int64_t label = random.integer(0, options_.num_classes);
  constexpr double kTwoPi = 2.0 * std::numbers::pi;
  const int64_t h = options_.height, w = options_.width, c = options_.channels;
  const double angle = std::numbers::pi * static_cast<double>(label) / static_cast<double>(options_.num_classes);
  const double frequency = 1.0 + static_cast<double>(label % 3);
  const double along_x = kTwoPi * frequency * std::cos(angle) / static_cast<double>(w);
  const double along_y = kTwoPi * frequency * std::sin(angle) / static_cast<double>(w);
  // sin(a x + (b y + φ_c)) = sin(a x) cos(b y + φ_c) + cos(a x) sin(b y + φ_c): W + H·C sines instead of H·W·C.
  std::vector<double> sin_x(static_cast<size_t>(w)), cos_x(static_cast<size_t>(w));
  for (int64_t x = 0; x < w; ++x) {
    sin_x[static_cast<size_t>(x)] = std::sin(along_x * static_cast<double>(x));
    cos_x[static_cast<size_t>(x)] = std::cos(along_x * static_cast<double>(x));
  }
  Image image(h, w, c);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t ch = 0; ch < c; ++ch) {
      const double row_phase = along_y * static_cast<double>(y) + kTwoPi * static_cast<double>(ch) / 3.0;
      const double sin_row = std::sin(row_phase), cos_row = std::cos(row_phase);
      for (int64_t x = 0; x < w; ++x) {
        const double pattern = 0.5 + 0.4 * (sin_x[static_cast<size_t>(x)] * cos_row + cos_x[static_cast<size_t>(x)] * sin_row);
        image.at(y, x, ch) = static_cast<float>(pattern);
      }
    }
  if (options_.noise > 0.0)
    for (float& v : image.pixels) v = static_cast<float>(std::clamp(v + options_.noise * random.normal(), 0.0, 1.0));
  return {std::move(image), label};
}

}  // namespace vireo::data
