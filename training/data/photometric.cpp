// Photometric operations in plain loops over interleaved (HWC) floats.
#include "training/data/photometric.h"

#include <algorithm>
#include <cmath>
#include <numbers>

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

// out[x] = Σ_k kernel[k] · in[reflect(x + k − R)] along every row, R = (size − 1)/2, the kernel odd-sized.
void filter_rows(Image& image, const std::vector<float>& kernel) {
  const auto kernel_size = static_cast<int64_t>(kernel.size());
  const int64_t radius = kernel_size / 2, h = image.height, w = image.width, c = image.channels;
  const int64_t row = w * c;
  // Each row reflected into a padded copy, then out[j] = Σ_k kernel[k]·padded[j + k·c].
  std::vector<float> padded(static_cast<size_t>((w + 2 * radius) * c));
  for (int64_t y = 0; y < h; ++y) {
    float* out = &image.pixels[static_cast<size_t>(y * row)];
    for (int64_t x = -radius; x < w + radius; ++x) {
      const float* source = out + reflect(x, w) * c;
      float* destination = padded.data() + (x + radius) * c;
      for (int64_t ch = 0; ch < c; ++ch) destination[ch] = source[ch];
    }
    std::fill(out, out + row, 0.0f);
    for (int64_t k = 0; k < kernel_size; ++k) {
      const float weight = kernel[static_cast<size_t>(k)];
      const float* source = padded.data() + k * c;
      for (int64_t j = 0; j < row; ++j) out[j] += weight * source[j];
    }
  }
}

// The same along every column: whole rows weighted and summed, the rows beyond the border reflected.
void filter_columns(Image& image, const std::vector<float>& kernel) {
  const auto kernel_size = static_cast<int64_t>(kernel.size());
  const int64_t radius = kernel_size / 2, h = image.height, row = image.width * image.channels;
  const std::vector<float> in = image.pixels;
  std::fill(image.pixels.begin(), image.pixels.end(), 0.0f);
  for (int64_t y = 0; y < h; ++y) {
    float* out = &image.pixels[static_cast<size_t>(y * row)];
    for (int64_t k = 0; k < kernel_size; ++k) {
      const float weight = kernel[static_cast<size_t>(k)];
      const float* source = &in[static_cast<size_t>(reflect(y + k - radius, h) * row)];
      for (int64_t j = 0; j < row; ++j) out[j] += weight * source[j];
    }
  }
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
  filter_rows(image, kernel);
  filter_columns(image, kernel);
}

void motion_blur(Image& image, double length) {
  VIREO_CHECK(length >= 0.0 && std::isfinite(length), "motion_blur: length ", length,
              " must be finite and non-negative");
  if (length <= 1.0) return;
  const double half = 0.5 * length;
  const auto radius = static_cast<int64_t>(std::ceil(half - 0.5));
  std::vector<float> kernel(static_cast<size_t>(2 * radius + 1));
  for (int64_t i = -radius; i <= radius; ++i) {
    const double overlap = std::min(static_cast<double>(i) + 0.5, half) - std::max(static_cast<double>(i) - 0.5, -half);
    kernel[static_cast<size_t>(i + radius)] = static_cast<float>(std::max(0.0, overlap) / length);
  }
  filter_rows(image, kernel);
}

void jpeg_quantize(Image& image, int64_t quality) {
  VIREO_CHECK(quality >= 1 && quality <= 100, "jpeg_quantize: quality ", quality, " must lie in [1, 100]");
  // The luminance quantization table of the JPEG standard (ITU T.81, Annex K.1), row-major over (v, u).
  static constexpr int kLuminance[64] = {16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
                                         14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
                                         18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
                                         49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
  const int64_t scale = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  double step[64];
  for (int i = 0; i < 64; ++i) step[i] = static_cast<double>(std::clamp<int64_t>((kLuminance[i] * scale + 50) / 100, 1, 255));
  // basis[u][x] = ½ C(u) cos((2x + 1)uπ/16): the 1-D orthonormal DCT-II, applied along both axes.
  double basis[8][8];
  for (int u = 0; u < 8; ++u)
    for (int x = 0; x < 8; ++x)
      basis[u][x] = 0.5 * (u == 0 ? 1.0 / std::sqrt(2.0) : 1.0) * std::cos((2 * x + 1) * u * std::numbers::pi / 16.0);

  const int64_t h = image.height, w = image.width, c = image.channels;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t top = 0; top < h; top += 8)
      for (int64_t left = 0; left < w; left += 8) {
        double block[8][8], rows[8][8], coefficients[8][8];
        for (int y = 0; y < 8; ++y)
          for (int x = 0; x < 8; ++x)
            block[y][x] = 255.0 * image.at(std::min(top + y, h - 1), std::min(left + x, w - 1), ch) - 128.0;
        // Forward: F = B · f · Bᵀ, then quantized to multiples of the table.
        for (int y = 0; y < 8; ++y)
          for (int u = 0; u < 8; ++u) {
            double total = 0.0;
            for (int x = 0; x < 8; ++x) total += basis[u][x] * block[y][x];
            rows[y][u] = total;
          }
        for (int v = 0; v < 8; ++v)
          for (int u = 0; u < 8; ++u) {
            double total = 0.0;
            for (int y = 0; y < 8; ++y) total += basis[v][y] * rows[y][u];
            coefficients[v][u] = std::round(total / step[v * 8 + u]) * step[v * 8 + u];
          }
        // Inverse: f = Bᵀ · F · B, rounded to the decoder's 8-bit levels.
        for (int v = 0; v < 8; ++v)
          for (int x = 0; x < 8; ++x) {
            double total = 0.0;
            for (int u = 0; u < 8; ++u) total += basis[u][x] * coefficients[v][u];
            rows[v][x] = total;
          }
        for (int y = 0; y < 8 && top + y < h; ++y)
          for (int x = 0; x < 8 && left + x < w; ++x) {
            double total = 0.0;
            for (int v = 0; v < 8; ++v) total += basis[v][y] * rows[v][x];
            image.at(top + y, left + x, ch) = static_cast<float>(std::clamp(std::round(total + 128.0), 0.0, 255.0) / 255.0);
          }
      }
}

void add_gaussian_noise(Image& image, double std, RandomStream& random) {
  VIREO_CHECK(std >= 0.0 && std::isfinite(std), "add_gaussian_noise: std ", std, " must be finite and non-negative");
  for (float& v : image.pixels) v = clamp01(v + static_cast<float>(std * random.normal()));
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
