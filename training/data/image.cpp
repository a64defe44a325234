// Image construction, layout conversion (HWC -> CHW) and channel conversion.
#include "training/data/image.h"

#include <algorithm>
#include <array>
#include <string>

namespace vireo::data {

Image::Image(int64_t height, int64_t width, int64_t channels, float value)
    : height(height), width(width), channels(channels) {
  VIREO_CHECK(height > 0 && width > 0 && channels > 0, "Image: a ", height, "x", width, "x", channels,
              " image has no pixels");
  pixels.assign(static_cast<size_t>(height * width * channels), value);
}

Image Image::from_u8(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels) {
  // b / 255 correctly rounded, as torchvision's ToTensor (x.float().div(255)), from a table of the 256 values.
  static const std::array<float, 256> kByteValue = [] {
    std::array<float, 256> table{};
    for (int b = 0; b < 256; ++b) table[static_cast<size_t>(b)] = static_cast<float>(b) / 255.0f;
    return table;
  }();
  Image image(height, width, channels);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = kByteValue[hwc[i]];
  return image;
}

std::string describe(const Image& image) {
  return std::to_string(image.height) + "x" + std::to_string(image.width) + "x" + std::to_string(image.channels);
}

void write_chw(const Image& image, float* destination) {
  const int64_t plane = image.height * image.width, channels = image.channels;
  const float* source = image.pixels.data();
  if (channels == 1) {
    std::copy(source, source + plane, destination);
    return;
  }
  for (int64_t c = 0; c < channels; ++c) {
    float* out = destination + c * plane;
    for (int64_t i = 0; i < plane; ++i) out[i] = source[i * channels + c];
  }
}

Tensor to_tensor(const Image& image) {
  Tensor tensor = Tensor::empty({image.channels, image.height, image.width});
  write_chw(image, tensor.data<float>());
  return tensor;
}

Image to_grayscale(const Image& image) {
  if (image.channels == 1) return image;
  VIREO_CHECK(image.channels == 3, "to_grayscale: needs a 1- or 3-channel image, got ", describe(image));
  Image gray(image.height, image.width, 1);
  const float* rgb = image.pixels.data();
  for (size_t i = 0; i < gray.pixels.size(); ++i)
    gray.pixels[i] = kLumaRed * rgb[3 * i] + kLumaGreen * rgb[3 * i + 1] + kLumaBlue * rgb[3 * i + 2];
  return gray;
}

Image convert_channels(const Image& image, int64_t channels) {
  VIREO_CHECK(channels == 1 || channels == 3, "convert_channels: asked for ", channels, " channels (1 or 3)");
  VIREO_CHECK(image.channels >= 1 && image.channels <= 4, "convert_channels: cannot read an image of ",
              image.channels, " channels (", describe(image), ")");
  if (image.channels == channels) return image;
  // Drop alpha first: gray+alpha -> gray, RGBA -> RGB.
  const int64_t colour = image.channels == 2 || image.channels == 1 ? 1 : 3;
  Image opaque = image;
  if (colour != image.channels) {
    opaque = Image(image.height, image.width, colour);
    const int64_t n = image.height * image.width;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < colour; ++c) opaque.pixels[i * colour + c] = image.pixels[i * image.channels + c];
  }
  if (colour == channels) return opaque;
  if (channels == 1) return to_grayscale(opaque);
  Image rgb(image.height, image.width, 3);
  for (size_t i = 0; i < opaque.pixels.size(); ++i)
    rgb.pixels[3 * i] = rgb.pixels[3 * i + 1] = rgb.pixels[3 * i + 2] = opaque.pixels[i];
  return rgb;
}

}  // namespace vireo::data
