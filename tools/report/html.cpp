// The report's HTML primitives (html.h): escaping, base64 PNG data URIs and file helpers.
#include "tools/report/html.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/error.h"

namespace vireo::report {

std::string escape_html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string base64(const std::vector<uint8_t>& bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  // Each group of three bytes (24 bits) becomes four 6-bit letters; a short last group is padded with '='.
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t count = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = static_cast<uint32_t>(bytes[i]) << 16;
    if (count > 1) group |= static_cast<uint32_t>(bytes[i + 1]) << 8;
    if (count > 2) group |= bytes[i + 2];
    out += kAlphabet[(group >> 18) & 63];
    out += kAlphabet[(group >> 12) & 63];
    out += count > 1 ? kAlphabet[(group >> 6) & 63] : '=';
    out += count > 2 ? kAlphabet[group & 63] : '=';
  }
  return out;
}

std::vector<uint8_t> encode_png(const data::Image& image) {
  VIREO_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4,
              "encode_png: an image of 1, 3 or 4 channels, got ", image.channels);
  VIREO_CHECK(image.height > 0 && image.width > 0, "encode_png: an empty image (", image.height, "x", image.width, ")");
  std::vector<uint8_t> pixels(image.pixels.size());
  for (size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<uint8_t>(std::lround(255.0f * std::clamp(image.pixels[i], 0.0f, 1.0f)));
  std::vector<uint8_t> png;
  const auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* begin = static_cast<const uint8_t*>(data);
    out->insert(out->end(), begin, begin + size);
  };
  const int channels = static_cast<int>(image.channels);
  if (!stbi_write_png_to_func(append, &png, static_cast<int>(image.width), static_cast<int>(image.height), channels,
                              pixels.data(), static_cast<int>(image.width) * channels))
    fail("encode_png: stb could not encode a ", image.height, "x", image.width, " image");
  return png;
}

std::string png_data_uri(const std::vector<uint8_t>& png) { return "data:image/png;base64," + base64(png); }

std::string png_data_uri(const data::Image& image) { return png_data_uri(encode_png(image)); }

std::string format_value(double value) {
  if (std::isnan(value)) return "–";
  char text[32];
  std::snprintf(text, sizeof(text), "%.4g", value);
  return text;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open the file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail(path, ": cannot read the file");
  return bytes;
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      fail(path, ": cannot write the file (through ", temporary, ")");
    }
  }
  std::error_code failure;
  std::filesystem::rename(temporary, path, failure);
  if (failure) fail(path, ": cannot write the file: ", failure.message());
}

}  // namespace vireo::report
