// Image: the one picture type of the data layer — height × width × channels floats, interleaved (HWC),
// values in [0, 1] as stored (Normalize may move them). Datasets decode into it, every transform works on
// it in plain loops, and the loader writes it out channel-planar (CHW) straight into its batch tensor.
//
// Why HWC floats and not CHW Tensors: an augmentation touches one small image at a time; interleaved
// floats keep a pixel's channels together for the colour transforms, cost no dispatch or autograd
// bookkeeping, and chained transforms (blur after jitter) do not lose precision to 8-bit rounding.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace vireo::data {

struct Image {
  int64_t height = 0, width = 0, channels = 0;
  std::vector<float> pixels;  // pixels[(y * width + x) * channels + c]

  Image() = default;
  Image(int64_t height, int64_t width, int64_t channels, float value = 0.0f);

  // 8-bit interleaved pixels (what every file format stores), scaled to [0, 1] by 1/255.
  static Image from_u8(const uint8_t* hwc, int64_t height, int64_t width, int64_t channels);

  float& at(int64_t y, int64_t x, int64_t c) { return pixels[static_cast<size_t>((y * width + x) * channels + c)]; }
  float at(int64_t y, int64_t x, int64_t c) const {
    return pixels[static_cast<size_t>((y * width + x) * channels + c)];
  }
  int64_t numel() const { return height * width * channels; }
};

// A height × width in pixels (crop and resize targets).
struct Size {
  int64_t height = 0, width = 0;
};

// "28x28x1": how errors describe an image.
std::string describe(const Image& image);

// Writes the image channel-planar (CHW) at `destination`, which holds channels·height·width floats.
void write_chw(const Image& image, float* destination);

// The image as a [C, H, W] f32 tensor: torchvision's ToTensor for one image.
Tensor to_tensor(const Image& image);

// ITU-R 601 luma, the weights torchvision and PIL use for grayscale: 0.299 R + 0.587 G + 0.114 B.
inline constexpr float kLumaRed = 0.299f, kLumaGreen = 0.587f, kLumaBlue = 0.114f;

// One channel of luma from an RGB image (a 1-channel image is returned unchanged).
Image to_grayscale(const Image& image);

// The image with 1 or 3 channels, whatever it had (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA): alpha is
// dropped (as PIL's convert), gray is repeated into RGB, RGB is reduced to its luma.
Image convert_channels(const Image& image, int64_t channels);

}  // namespace vireo::data
