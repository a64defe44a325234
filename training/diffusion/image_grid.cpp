// A batch of images tiled into one picture (training/diffusion/image_grid.h).
#include "training/diffusion/image_grid.h"

#include <algorithm>
#include <cmath>

#include "training/data/image_io.h"

namespace vireo::diffusion {

data::Image image_grid(const Tensor& images, const ImageGridOptions& options) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(0) >= 1 && is_floating(images.dtype()) &&
                  (images.size(1) == 1 || images.size(1) == 3),
              "image_grid: expects floating images [N, C, H, W] with N >= 1 and C = 1 or 3, got ",
              images.defined() ? describe(images) : std::string("an undefined tensor"));
  VIREO_CHECK(options.columns >= 0, "image_grid: columns must be >= 0 (0: a square grid), got ", options.columns);
  VIREO_CHECK(options.padding >= 0, "image_grid: padding must be >= 0, got ", options.padding);
  const double low = options.value_range[0], high = options.value_range[1];
  VIREO_CHECK(std::isfinite(low) && std::isfinite(high) && low < high, "image_grid: value_range [", low, ", ", high,
              "] must be finite with low < high");

  const int64_t count = images.size(0), channels = images.size(1), height = images.size(2), width = images.size(3);
  const int64_t columns =
      options.columns > 0 ? options.columns : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int64_t rows = (count + columns - 1) / columns;
  const int64_t padding = options.padding;
  data::Image grid(rows * (height + padding) + padding, columns * (width + padding) + padding, channels,
                   options.pad_value);

  const Tensor values = images.detach().to(Device::cpu()).to(DType::f32).contiguous();
  const float* source = values.data<float>();
  const double scale = 1.0 / (high - low);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t top = padding + (i / columns) * (height + padding);
    const int64_t left = padding + (i % columns) * (width + padding);
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x) {
          const float v = source[((i * channels + c) * height + y) * width + x];
          // [low, high] -> [0, 1], clamped; a NaN (a diverged sample) shows as 0.
          const double unit = std::isnan(v) ? 0.0 : std::clamp((static_cast<double>(v) - low) * scale, 0.0, 1.0);
          grid.at(top + y, left + x, c) = static_cast<float>(unit);
        }
  }
  return grid;
}

void write_image_grid(const std::string& path, const Tensor& images, const ImageGridOptions& options) {
  data::write_png(path, image_grid(images, options));
}

}  // namespace vireo::diffusion
