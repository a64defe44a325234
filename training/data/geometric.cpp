// Geometric operations in plain loops over interleaved (HWC) floats.
#include "training/data/geometric.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <utility>

namespace vireo::data {
namespace {

// For each output index along one axis, the first input index it reads and the weights of the `taps`
// inputs from there: torch's _upsample_bilinear2d_aa / PIL's precompute_coeffs with the triangle filter.
// Every output reads the same number of inputs (zero weights pad the short ones, the window is shifted
// inside the axis), so the passes below run fixed-length loops.
struct AxisWeights {
  int64_t taps = 0;
  std::vector<int64_t> first;  // first input index read by each output index
  std::vector<float> weights;  // [output][tap], normalized to sum 1
};

AxisWeights axis_weights(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  // Shrinking by s stretches the triangle to half-width s; enlarging keeps half-width 1 (bilinear).
  const double support = scale >= 1.0 ? scale : 1.0;
  const double inverse_stretch = 1.0 / support;
  // Output o reads the inputs [low(o), high(o)) whose centres lie within `support` of its own.
  auto window = [&](int64_t o) {
    const double centre = scale * (static_cast<double>(o) + 0.5);
    return std::pair{std::max<int64_t>(static_cast<int64_t>(centre - support + 0.5), 0),
                     std::min<int64_t>(static_cast<int64_t>(centre + support + 0.5), in_size)};
  };
  AxisWeights axis;
  for (int64_t o = 0; o < out_size; ++o) axis.taps = std::max(axis.taps, window(o).second - window(o).first);
  axis.first.resize(static_cast<size_t>(out_size));
  axis.weights.assign(static_cast<size_t>(out_size * axis.taps), 0.0f);
  for (int64_t o = 0; o < out_size; ++o) {
    const double centre = scale * (static_cast<double>(o) + 0.5);
    const auto [low, high] = window(o);
    const int64_t first = std::min(low, in_size - axis.taps);
    auto triangle = [&](int64_t i) {
      return std::max(0.0, 1.0 - std::abs((static_cast<double>(i) - centre + 0.5) * inverse_stretch));
    };
    double total = 0.0;
    for (int64_t i = low; i < high; ++i) total += triangle(i);
    float* w = &axis.weights[static_cast<size_t>(o * axis.taps)];
    for (int64_t i = low; i < high; ++i) w[i - first] = total > 0.0 ? static_cast<float>(triangle(i) / total) : 0.0f;
    axis.first[static_cast<size_t>(o)] = first;
  }
  return axis;
}

// The horizontal pass of resized_crop: rows of `channels` interleaved values, each output value a
// weighted sum of `columns.taps` inputs. Channel and tap counts are template arguments for the common
// small cases (so the inner loops unroll) and run-time values (0) otherwise.
template <int kChannels, int kTaps>
void resample_rows(const float* in, int64_t in_row_stride, int64_t rows, const AxisWeights& columns,
                   int64_t out_width, float* out, int64_t runtime_channels) {
  const int64_t c = kChannels > 0 ? kChannels : runtime_channels;
  const int64_t taps = kTaps > 0 ? kTaps : columns.taps;
  for (int64_t y = 0; y < rows; ++y) {
    const float* row = in + y * in_row_stride;
    float* destination = out + y * out_width * c;
    for (int64_t x = 0; x < out_width; ++x) {
      const float* w = &columns.weights[static_cast<size_t>(x * taps)];
      const float* source = row + columns.first[static_cast<size_t>(x)] * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        float sum = 0.0f;
        for (int64_t j = 0; j < taps; ++j) sum += w[j] * source[j * c + ch];
        destination[x * c + ch] = sum;
      }
    }
  }
}

template <int kChannels>
void resample_rows_for_taps(const float* in, int64_t stride, int64_t rows, const AxisWeights& columns,
                            int64_t out_width, float* out, int64_t channels) {
  switch (columns.taps) {
    case 2: return resample_rows<kChannels, 2>(in, stride, rows, columns, out_width, out, channels);
    case 3: return resample_rows<kChannels, 3>(in, stride, rows, columns, out_width, out, channels);
    case 4: return resample_rows<kChannels, 4>(in, stride, rows, columns, out_width, out, channels);
    default: return resample_rows<kChannels, 0>(in, stride, rows, columns, out_width, out, channels);
  }
}

void check_region(const char* who, const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  VIREO_CHECK(height > 0 && width > 0 && top >= 0 && left >= 0 && top + height <= image.height &&
                  left + width <= image.width,
              who, ": region (top ", top, ", left ", left, ", height ", height, ", width ", width,
              ") is not inside the ", describe(image), " image");
}

}  // namespace

std::vector<float> fill_per_channel(const std::vector<float>& fill, int64_t channels, const char* who) {
  if (fill.size() == 1) return std::vector<float>(static_cast<size_t>(channels), fill[0]);
  VIREO_CHECK(static_cast<int64_t>(fill.size()) == channels, who, ": fill has ", fill.size(),
              " values for an image of ", channels, " channels (give 1 or ", channels, ")");
  return fill;
}

Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  check_region("crop", image, top, left, height, width);
  Image out(height, width, image.channels);
  const int64_t row = width * image.channels;
  for (int64_t y = 0; y < height; ++y) {
    const float* in = &image.pixels[static_cast<size_t>(((top + y) * image.width + left) * image.channels)];
    std::copy(in, in + row, out.pixels.begin() + y * row);
  }
  return out;
}

Image pad(const Image& image, int64_t padding, const std::vector<float>& fill) {
  VIREO_CHECK(padding >= 0, "pad: negative padding ", padding);
  const std::vector<float> colour = fill_per_channel(fill, image.channels, "pad");
  const int64_t c = image.channels;
  Image out(image.height + 2 * padding, image.width + 2 * padding, c);
  for (int64_t i = 0; i < out.height * out.width; ++i)
    std::copy(colour.begin(), colour.end(), out.pixels.begin() + i * c);
  for (int64_t y = 0; y < image.height; ++y)
    std::copy(image.pixels.begin() + y * image.width * c, image.pixels.begin() + (y + 1) * image.width * c,
              out.pixels.begin() + ((y + padding) * out.width + padding) * c);
  return out;
}

Image resized_crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width,
                   int64_t out_height, int64_t out_width) {
  check_region("resized_crop", image, top, left, height, width);
  VIREO_CHECK(out_height > 0 && out_width > 0, "resized_crop: output size ", out_height, "x", out_width, " is empty");
  if (height == out_height && width == out_width) return crop(image, top, left, height, width);
  const int64_t c = image.channels;
  const AxisWeights columns = axis_weights(width, out_width), rows = axis_weights(height, out_height);
  // Horizontal pass over the region's rows: [height, out_width, c].
  std::vector<float> across(static_cast<size_t>(height * out_width * c));
  const float* region = &image.pixels[static_cast<size_t>((top * image.width + left) * c)];
  const int64_t stride = image.width * c;
  if (c == 1) {
    resample_rows_for_taps<1>(region, stride, height, columns, out_width, across.data(), c);
  } else if (c == 3) {
    resample_rows_for_taps<3>(region, stride, height, columns, out_width, across.data(), c);
  } else {
    resample_rows_for_taps<0>(region, stride, height, columns, out_width, across.data(), c);
  }
  // Vertical pass: whole rows at a time, so the inner loop runs over contiguous floats.
  Image out(out_height, out_width, c);
  const int64_t row = out_width * c;
  for (int64_t y = 0; y < out_height; ++y) {
    const float* w = &rows.weights[static_cast<size_t>(y * rows.taps)];
    const int64_t first = rows.first[static_cast<size_t>(y)], taps = rows.taps;
    float* destination = &out.pixels[static_cast<size_t>(y * row)];
    for (int64_t j = 0; j < taps; ++j) {
      const float weight = w[j];
      if (weight == 0.0f) continue;
      const float* source = &across[static_cast<size_t>((first + j) * row)];
      for (int64_t i = 0; i < row; ++i) destination[i] += weight * source[i];
    }
  }
  return out;
}

Image resize(const Image& image, int64_t out_height, int64_t out_width) {
  return resized_crop(image, 0, 0, image.height, image.width, out_height, out_width);
}

Image horizontal_flip(const Image& image) {
  Image out(image.height, image.width, image.channels);
  const int64_t c = image.channels, row = image.width * c;
  for (int64_t y = 0; y < image.height; ++y) {
    const float* in = &image.pixels[static_cast<size_t>(y * row)];
    float* destination = &out.pixels[static_cast<size_t>(y * row)];
    if (c == 1) {
      std::reverse_copy(in, in + row, destination);
      continue;
    }
    if (c == 3) {
      for (int64_t x = 0; x < image.width; ++x) {
        const float* source = in + (image.width - 1 - x) * 3;
        destination[3 * x] = source[0], destination[3 * x + 1] = source[1], destination[3 * x + 2] = source[2];
      }
      continue;
    }
    for (int64_t x = 0; x < image.width; ++x) {
      const float* source = in + (image.width - 1 - x) * c;
      for (int64_t ch = 0; ch < c; ++ch) destination[x * c + ch] = source[ch];
    }
  }
  return out;
}

Image quarter_turn(const Image& image, int64_t turns) {
  const int64_t k = ((turns % 4) + 4) % 4;
  if (k == 0) return image;
  const int64_t h = image.height, w = image.width, c = image.channels;
  Image out = k == 2 ? Image(h, w, c) : Image(w, h, c);
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x) {
      // Where output pixel (y, x) comes from, for a counter-clockwise turn of k quarters.
      const int64_t source_y = k == 1 ? x : k == 2 ? h - 1 - y : h - 1 - x;
      const int64_t source_x = k == 1 ? w - 1 - y : k == 2 ? w - 1 - x : y;
      for (int64_t ch = 0; ch < c; ++ch) out.at(y, x, ch) = image.at(source_y, source_x, ch);
    }
  return out;
}

Image rotate(const Image& image, double degrees, const std::vector<float>& fill) {
  const std::vector<float> colour = fill_per_channel(fill, image.channels, "rotate");
  const int64_t h = image.height, w = image.width, c = image.channels;
  const double theta = degrees * std::numbers::pi / 180.0;
  const double cosine = std::cos(theta), sine = std::sin(theta);
  const double centre_x = 0.5 * static_cast<double>(w - 1), centre_y = 0.5 * static_cast<double>(h - 1);
  Image out(h, w, c);
  for (int64_t y = 0; y < h; ++y) {
    const double dy = static_cast<double>(y) - centre_y;
    for (int64_t x = 0; x < w; ++x) {
      const double dx = static_cast<double>(x) - centre_x;
      // Rows grow downwards, so a counter-clockwise turn on screen reads its source through R(−θ) as:
      const double source_x = centre_x + dx * cosine - dy * sine;
      const double source_y = centre_y + dx * sine + dy * cosine;
      const double floor_x = std::floor(source_x), floor_y = std::floor(source_y);
      const float fx = static_cast<float>(source_x - floor_x), fy = static_cast<float>(source_y - floor_y);
      const int64_t x0 = static_cast<int64_t>(floor_x), y0 = static_cast<int64_t>(floor_y);
      const float weights[4] = {(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx};
      const int64_t tap_y[4] = {y0, y0, y0 + 1, y0 + 1}, tap_x[4] = {x0, x0 + 1, x0, x0 + 1};
      float* destination = &out.pixels[static_cast<size_t>((y * w + x) * c)];
      for (int64_t ch = 0; ch < c; ++ch) destination[ch] = 0.0f;
      for (int t = 0; t < 4; ++t) {
        const bool inside = tap_y[t] >= 0 && tap_y[t] < h && tap_x[t] >= 0 && tap_x[t] < w;
        const float* source = inside ? &image.pixels[static_cast<size_t>((tap_y[t] * w + tap_x[t]) * c)] : colour.data();
        for (int64_t ch = 0; ch < c; ++ch) destination[ch] += weights[t] * source[ch];
      }
    }
  }
  return out;
}

}  // namespace vireo::data
