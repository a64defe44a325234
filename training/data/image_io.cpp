// stb_image behind decode_image / write_png. stb's implementations live in Debian's libstb.so, so this
// file only includes the declarations. stbi_failure_reason is thread-local in that build, so decoding on
// several loader threads at once reports each thread's own failure.
//
// Debian 12's stb_image is v2.27, and fuzzing it (tools/fuzz/image_fuzz.cpp) finds faults that a file
// can trigger, so decode_image checks three things before stb decodes:
//  - the format, from the first bytes: PNG, JPEG, BMP or PNM, the formats this reader is for. stb would
//    otherwise try GIF, PSD, PIC, HDR and, last, TGA, which has no signature and takes almost any bytes:
//    a 76-byte file read as TGA asked for gigabytes and minutes of decoding;
//  - the size, from the header (stbi_info): at most kLargestImagePixels pixels, so a corrupt header cannot
//    make decoding allocate gigabytes (stb also fills an image from a file far too short for it);
//  - in a JPEG, every Huffman table holds at most 256 codes: stb 2.27 builds a table of more without
//    checking (stbi__build_huffman), writing past its 257-entry arrays into the decoder's other state.
#include "training/data/image_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string_view>
#include <vector>

namespace vireo::data {
namespace {

// 2^25 pixels: a 33-megapixel photograph, far beyond any training image, and 512 MiB as RGBA floats.
constexpr int64_t kLargestImagePixels = int64_t{1} << 25;

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("decode_image: cannot open ", path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// The format the first bytes announce, or nullptr. None of these signatures can begin a GIF, PSD, PIC or
// HDR file, nor pass stb's TGA test (which wants 0 or 1 as the second byte), so stb reads the file as the
// format named here.
const char* sniff_format(const std::vector<uint8_t>& bytes) {
  static constexpr uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= sizeof kPng && std::equal(std::begin(kPng), std::end(kPng), bytes.begin())) return "PNG";
  if (bytes.size() < 2) return nullptr;
  if (bytes[0] == 0xFF && bytes[1] == 0xD8) return "JPEG";
  if (bytes[0] == 'B' && bytes[1] == 'M') return "BMP";
  if (bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6')) return "PNM";
  return nullptr;
}

// The DHT (define Huffman table) segment whose length field starts at `at`: tables one after another, each
// a class/slot byte, 16 counts of codes per length, then that many symbols. Walks it as stb does (reading
// zeros past the end of the file) and refuses a table of more than 256 codes. A class or slot stb refuses
// ends the walk: stb stops there too.
void check_huffman_segment(const std::vector<uint8_t>& bytes, size_t at, const std::string& path) {
  auto byte = [&](size_t i) -> int { return i < bytes.size() ? bytes[i] : 0; };
  int64_t remaining = (byte(at) << 8 | byte(at + 1)) - 2;
  size_t next = at + 2;
  while (remaining > 0) {
    const int table = byte(next);
    if (table >> 4 > 1 || (table & 15) > 3) return;
    int64_t codes = 0;
    for (int length = 1; length <= 16; ++length) codes += byte(next + static_cast<size_t>(length));
    if (codes > 256)
      fail("decode_image: ", path, ": corrupt JPEG: a Huffman table defines ", codes, " codes (at most 256)");
    next += 17 + static_cast<size_t>(codes);
    remaining -= 17 + codes;
  }
}

// Every DHT segment stb could read: the segments before the first scan, walked by their lengths (so that
// bytes inside APPn or COM payloads are not taken for markers), and after it every 0xFF 0xC4 in the file,
// since stb looks for markers byte by byte once scan data begins.
void check_huffman_tables(const std::vector<uint8_t>& bytes, const std::string& path) {
  size_t at = 2;  // after SOI
  while (at < bytes.size()) {
    if (bytes[at] != 0xFF) {  // not at a marker: stb skips ahead to the next 0xFF
      ++at;
      continue;
    }
    while (at < bytes.size() && bytes[at] == 0xFF) ++at;
    if (at >= bytes.size()) return;
    const uint8_t marker = bytes[at++];
    if (marker == 0xD8 || marker == 0xD9 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (marker == 0xDA) break;  // start of scan: entropy-coded data follows
    if (marker == 0xC4) check_huffman_segment(bytes, at, path);
    if (at + 1 >= bytes.size()) return;
    at += static_cast<size_t>(bytes[at] << 8 | bytes[at + 1]);
  }
  for (; at + 1 < bytes.size(); ++at)
    if (bytes[at] == 0xFF && bytes[at + 1] == 0xC4) check_huffman_segment(bytes, at + 2, path);
}

}  // namespace

Image decode_image(const std::string& path, int64_t channels) {
  VIREO_CHECK(channels >= 0 && channels <= 4 && channels != 2, "decode_image: channels ", channels,
              " (0 for as stored, 1 or 3; 4 keeps alpha)");
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) fail("decode_image: ", path, ": no such file");
  const std::vector<uint8_t> bytes = read_bytes(path);
  const char* format = sniff_format(bytes);
  if (!format) fail("decode_image: cannot decode ", path, ": not a PNG, JPEG, BMP or PNM file (by its first bytes)");
  if (std::string_view(format) == "JPEG") check_huffman_tables(bytes, path);
  // stb takes an int length; files past 2 GiB are refused by the size check below in any case.
  const int length = static_cast<int>(std::min<size_t>(bytes.size(), INT32_MAX));
  int width = 0, height = 0, stored = 0;
  if (!stbi_info_from_memory(bytes.data(), length, &width, &height, &stored))
    fail("decode_image: cannot decode ", path, " (stb_image: ", stbi_failure_reason(), ")");
  if (int64_t{width} * height > kLargestImagePixels)
    fail("decode_image: ", path, ": the ", format, " header claims ", width, "x", height, " pixels, more than the ",
         kLargestImagePixels, " this reader accepts (a corrupt header?)");
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
      stbi_load_from_memory(bytes.data(), length, &width, &height, &stored, 0), stbi_image_free);
  if (!pixels) fail("decode_image: cannot decode ", path, " (stb_image: ", stbi_failure_reason(), ")");
  Image image = Image::from_u8(pixels.get(), height, width, stored);
  if (channels == 0 || channels == stored) return image;
  if (channels == 4) fail("decode_image: ", path, " has ", stored, " channels, not 4");
  return convert_channels(image, channels);
}

void write_png(const std::string& path, const Image& image) {
  VIREO_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4, "write_png: ", path,
              ": cannot write a ", describe(image), " image (1, 3 or 4 channels)");
  std::vector<uint8_t> bytes(image.pixels.size());
  for (size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<uint8_t>(std::lround(std::clamp(image.pixels[i], 0.0f, 1.0f) * 255.0f));
  const int stride = static_cast<int>(image.width * image.channels);
  if (!stbi_write_png(path.c_str(), static_cast<int>(image.width), static_cast<int>(image.height),
                      static_cast<int>(image.channels), bytes.data(), stride))
    fail("write_png: cannot write ", path);
}

}  // namespace vireo::data
