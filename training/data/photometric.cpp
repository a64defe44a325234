// Photometric operations in plain loops over interleaved (HWC) floats.
#include "training/data/photometric.h"

#include <algorithm>
#include <cmath>

namespace vireo::data {
namespace {

inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

// clamp(factor·x + (1 − factor)·other) for every value, `other` one constant.
void blend_with_constant(Image& image, double factor, float other) {
  const float f = static_cast<float>(factor), offset = static_cast<float>((1.0 - factor) * other);
  for (float& v : image.pixels) v = clamp01(f * v + offset);
}

void check_factor(const char* who, double factor) {
  VIREO_CHECK(factor >= 0.0 && std::isfinite(factor), who, ": factor ", factor, " must be finite and non-negative");
}

void check_rgb(const char* who, const Image& image) {
  VIREO_CHECK(image.channels == 3, who, ": needs a 1- or 3-channel image, got ", describe(image));
}

// Reflection of index i into [0, n) without repeating the edge: … 2 1 | 0 1 2 … n−1 | n−2 n−3 …
int64_t reflect(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i = std::abs(i) % period;
  return i < n ? i : period - i;
}

}  // namespace

void adjust_brightness(Image& image, double factor) {
  check_factor("adjust_brightness", factor);
  blend_with_constant(image, factor, 0.0f);
}

void adjust_contrast(Image& image, double factor) {
  check_factor("adjust_contrast", factor);
  double total = 0.0;
  if (image.channels == 1) {
    for (float v : image.pixels) total += v;
  } else {
    check_rgb("adjust_contrast", image);
    for (size_t i = 0; i < image.pixels.size(); i += 3)
      total += kLumaRed * image.pixels[i] + kLumaGreen * image.pixels[i + 1] + kLumaBlue * image.pixels[i + 2];
  }
  const double mean = total / static_cast<double>(image.height * image.width);
  blend_with_constant(image, factor, static_cast<float>(mean));
}

void adjust_saturation(Image& image, double factor) {
  check_factor("adjust_saturation", factor);
  if (image.channels == 1) return;  // as torchvision (and PIL): a gray image has no saturation to change
  check_rgb("adjust_saturation", image);
  const float f = static_cast<float>(factor), g = 1.0f - f;
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    float* p = &image.pixels[i];
    const float luma = kLumaRed * p[0] + kLumaGreen * p[1] + kLumaBlue * p[2];
    for (int c = 0; c < 3; ++c) p[c] = clamp01(f * p[c] + g * luma);
  }
}

void adjust_hue(Image& image, double shift) {
  VIREO_CHECK(shift >= -0.5 && shift <= 0.5, "adjust_hue: shift ", shift, " is outside [-0.5, 0.5]");
  if (image.channels == 1) return;
  check_rgb("adjust_hue", image);
  const float s_shift = static_cast<float>(shift);
  // Chunks of pixels split into R, G, B planes, so that the per-pixel formulas below vectorize.
  constexpr int64_t kChunk = 256;
  float red[kChunk], green[kChunk], blue[kChunk];
  const int64_t count = image.height * image.width;
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t n = std::min(kChunk, count - start);
    float* p = &image.pixels[static_cast<size_t>(3 * start)];
    for (int64_t j = 0; j < n; ++j) red[j] = p[3 * j], green[j] = p[3 * j + 1], blue[j] = p[3 * j + 2];
    for (int64_t j = 0; j < n; ++j) {
      const float r = red[j], g = green[j], b = blue[j];
      // RGB -> HSV (torchvision's _rgb2hsv).
      const float maxc = r > g ? (r > b ? r : b) : (g > b ? g : b);
      const float minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
      const float chroma = maxc - minc;
      const bool gray = maxc == minc;
      const float saturation = chroma / (gray ? 1.0f : maxc);
      const float inverse_chroma = 1.0f / (gray ? 1.0f : chroma);
      const float rc = (maxc - r) * inverse_chroma, gc = (maxc - g) * inverse_chroma, bc = (maxc - b) * inverse_chroma;
      float hue = maxc == r ? bc - gc : maxc == g ? 2.0f + rc - bc : 4.0f + gc - rc;
      // fmod(hue / 6 + 1, 1), then the shift modulo 1; the arguments lie within one turn of [0, 1).
      hue = hue / 6.0f + 1.0f;
      hue = hue >= 1.0f ? hue - 1.0f : hue;
      hue += s_shift;
      hue = hue < 0.0f ? hue + 1.0f : hue >= 1.0f ? hue - 1.0f : hue;
      // HSV -> RGB (torchvision's _hsv2rgb).
      const float value = maxc;
      // floor by truncation (hue ≥ 0): std::floor would keep this loop from vectorizing.
      const float sector = static_cast<float>(static_cast<int>(hue * 6.0f)), fraction = hue * 6.0f - sector;
      const float pp = clamp01(value * (1.0f - saturation));
      const float qq = clamp01(value * (1.0f - saturation * fraction));
      const float tt = clamp01(value * (1.0f - saturation * (1.0f - fraction)));
      // Sector k of the hue circle gives (R, G, B) = (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q) for
      // k = 0 … 5 (6, from rounding, is 0 again).
      const float k = sector == 6.0f ? 0.0f : sector;
      float r_out = pp, g_out = pp, b_out = pp;
      r_out = k == 1.0f ? qq : r_out, r_out = k == 4.0f ? tt : r_out;
      r_out = k == 0.0f ? value : r_out, r_out = k == 5.0f ? value : r_out;
      g_out = k == 0.0f ? tt : g_out, g_out = k == 3.0f ? qq : g_out;
      g_out = k == 1.0f ? value : g_out, g_out = k == 2.0f ? value : g_out;
      b_out = k == 2.0f ? tt : b_out, b_out = k == 5.0f ? qq : b_out;
      b_out = k == 3.0f ? value : b_out, b_out = k == 4.0f ? value : b_out;
      red[j] = r_out, green[j] = g_out, blue[j] = b_out;
    }
    for (int64_t j = 0; j < n; ++j) p[3 * j] = red[j], p[3 * j + 1] = green[j], p[3 * j + 2] = blue[j];
  }
}

void grayscale_keep_channels(Image& image) {
  if (image.channels == 1) return;
  check_rgb("grayscale", image);
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    float* p = &image.pixels[i];
    p[0] = p[1] = p[2] = kLumaRed * p[0] + kLumaGreen * p[1] + kLumaBlue * p[2];
  }
}

void solarize(Image& image, double threshold) {
  const float t = static_cast<float>(threshold);
  for (float& v : image.pixels)
    if (v >= t) v = 1.0f - v;
}

std::vector<float> gaussian_kernel(int64_t size, double sigma) {
  VIREO_CHECK(size > 0 && size % 2 == 1, "gaussian_kernel: size ", size, " must be odd and positive");
  VIREO_CHECK(sigma > 0.0 && std::isfinite(sigma), "gaussian_kernel: sigma ", sigma, " must be positive");
  std::vector<double> weights(static_cast<size_t>(size));
  double total = 0.0;
  const double half = 0.5 * static_cast<double>(size - 1);
  for (int64_t i = 0; i < size; ++i) {
    const double x = (static_cast<double>(i) - half) / sigma;
    weights[static_cast<size_t>(i)] = std::exp(-0.5 * x * x);
    total += weights[static_cast<size_t>(i)];
  }
  std::vector<float> kernel(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) kernel[static_cast<size_t>(i)] = static_cast<float>(weights[static_cast<size_t>(i)] / total);
  return kernel;
}

void gaussian_blur(Image& image, int64_t kernel_size, double sigma) {
  const std::vector<float> kernel = gaussian_kernel(kernel_size, sigma);
  const int64_t radius = kernel_size / 2, h = image.height, w = image.width, c = image.channels;
  const int64_t row = w * c;
  // Along rows: each row reflected into a padded copy, then out[j] = Σ_k kernel[k]·padded[j + k·c].
  std::vector<float> padded(static_cast<size_t>((w + 2 * radius) * c));
  std::vector<float> across(image.pixels.size(), 0.0f);
  for (int64_t y = 0; y < h; ++y) {
    const float* in = &image.pixels[static_cast<size_t>(y * row)];
    for (int64_t x = -radius; x < w + radius; ++x) {
      const float* source = in + reflect(x, w) * c;
      float* destination = padded.data() + (x + radius) * c;
      for (int64_t ch = 0; ch < c; ++ch) destination[ch] = source[ch];
    }
    float* out = &across[static_cast<size_t>(y * row)];
    for (int64_t k = 0; k < kernel_size; ++k) {
      const float weight = kernel[static_cast<size_t>(k)];
      const float* source = padded.data() + k * c;
      for (int64_t j = 0; j < row; ++j) out[j] += weight * source[j];
    }
  }
  // Along columns: whole rows weighted and summed, the rows beyond the border reflected.
  std::fill(image.pixels.begin(), image.pixels.end(), 0.0f);
  for (int64_t y = 0; y < h; ++y) {
    float* out = &image.pixels[static_cast<size_t>(y * row)];
    for (int64_t k = 0; k < kernel_size; ++k) {
      const float weight = kernel[static_cast<size_t>(k)];
      const float* source = &across[static_cast<size_t>(reflect(y + k - radius, h) * row)];
      for (int64_t j = 0; j < row; ++j) out[j] += weight * source[j];
    }
  }
}

void normalize(Image& image, const std::vector<float>& mean, const std::vector<float>& std) {
  const int64_t c = image.channels;
  auto per_channel = [&](const std::vector<float>& values, const char* what) {
    VIREO_CHECK(values.size() == 1 || static_cast<int64_t>(values.size()) == c, "normalize: ", what, " has ",
                values.size(), " values for an image of ", c, " channels (give 1 or ", c, ")");
    return values.size() == 1 ? std::vector<float>(static_cast<size_t>(c), values[0]) : values;
  };
  const std::vector<float> m = per_channel(mean, "mean"), s = per_channel(std, "std");
  std::vector<float> inverse(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch) {
    VIREO_CHECK(s[static_cast<size_t>(ch)] > 0.0f, "normalize: std[", ch, "] = ", s[static_cast<size_t>(ch)], " must be positive");
    inverse[static_cast<size_t>(ch)] = 1.0f / s[static_cast<size_t>(ch)];
  }
  if (c == 1) {
    const float mean0 = m[0], inverse0 = inverse[0];
    for (float& v : image.pixels) v = (v - mean0) * inverse0;
    return;
  }
  for (size_t i = 0; i < image.pixels.size(); i += static_cast<size_t>(c))
    for (int64_t ch = 0; ch < c; ++ch) image.pixels[i + ch] = (image.pixels[i + ch] - m[static_cast<size_t>(ch)]) * inverse[static_cast<size_t>(ch)];
}

}  // namespace vireo::data
