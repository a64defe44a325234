// stb_image behind decode_image / write_png. stb's implementations live in Debian's libstb.so, so this
// file only includes the declarations. stbi_failure_reason is thread-local in that build, so decoding on
// several loader threads at once reports each thread's own failure.
#include "training/data/image_io.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

namespace vireo::data {

Image decode_image(const std::string& path, int64_t channels) {
  VIREO_CHECK(channels >= 0 && channels <= 4 && channels != 2, "decode_image: channels ", channels,
              " (0 for as stored, 1 or 3; 4 keeps alpha)");
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) fail("decode_image: ", path, ": no such file");
  int width = 0, height = 0, stored = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> pixels(stbi_load(path.c_str(), &width, &height, &stored, 0), stbi_image_free);
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
