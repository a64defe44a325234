// A batch of images laid out as one picture — torchvision's make_grid + save_image — for looking at
// diffusion samples: rows of `columns` images, `padding` pixels of `pad_value` around and between them.
//
// Values are mapped from `value_range` [low, high] to [0, 1] by (v − low)/(high − low) and clamped; a
// written PNG then stores round(255 · that). Samples of a diffusion live in [−1, 1], the default.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "engine/tensor.h"
#include "training/data/image.h"

namespace vireo::diffusion {

struct ImageGridOptions {
  int64_t columns = 0;                           // images per row; 0: ⌈√N⌉
  int64_t padding = 2;                           // pixels around and between the images
  float pad_value = 0.0f;                        // in [0, 1] (0: black)
  std::array<double, 2> value_range = {-1.0, 1.0};
};

// images [N, C, H, W] (C = 1 or 3, any floating dtype) -> one Image of
//   height = rows · (H + padding) + padding,  width = columns · (W + padding) + padding,  rows = ⌈N / columns⌉,
// image i at row i / columns, column i % columns; empty cells of the last row stay pad_value.
data::Image image_grid(const Tensor& images, const ImageGridOptions& options = {});

// image_grid written as an 8-bit PNG at `path` (data::write_png).
void write_image_grid(const std::string& path, const Tensor& images, const ImageGridOptions& options = {});

}  // namespace vireo::diffusion
