// Geometric image operations (torchvision.transforms.functional's, on Image): crop, pad, resize, flip,
// the four quarter turns, rotation by any angle. Each returns a new image; the random transforms in
// transforms.h draw their parameters and call these.
//
// Coordinates: pixel (y, x) covers the square [y, y+1) × [x, x+1), its centre at (y + ½, x + ½) — the
// convention of torch's interpolate (align_corners=False), grid_sample and PIL.
#pragma once

#include <vector>

#include "training/data/image.h"

namespace vireo::data {

// The region [top, top + height) × [left, left + width), which must lie inside the image.
Image crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width);

// `padding` pixels of constant `fill` on every side; fill holds one value for every channel or one per
// channel.
Image pad(const Image& image, int64_t padding, const std::vector<float>& fill);

// The region [top, top + height) × [left, left + width) resized to out_height × out_width with bilinear
// interpolation, antialiased when shrinking: torchvision's resized_crop(..., BILINEAR, antialias=True),
// which is PIL's BILINEAR filter. Each output pixel is a normalized triangle-weighted mean of the region's
// pixels around its centre, the triangle stretched by the shrink factor (so that shrinking averages
// rather than skips pixels); enlarging is plain bilinear interpolation, clamped at the region's edges.
Image resized_crop(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width,
                   int64_t out_height, int64_t out_width);
Image resize(const Image& image, int64_t out_height, int64_t out_width);

// Mirrors left and right.
Image horizontal_flip(const Image& image);

// Rotates by turns · 90° counter-clockwise (torch.rot90(x, turns, dims=(H, W))), exactly; odd turns swap
// height and width. Any integer is accepted and taken modulo 4.
Image quarter_turn(const Image& image, int64_t turns);

// Rotates by `degrees` counter-clockwise about the image centre, keeping the size (torchvision's
// rotate(expand=False)). Output pixel p samples the input at the point R(−θ)·(p − c) + c with bilinear
// interpolation, where c = ((W − 1)/2, (H − 1)/2) in pixel indices; the input is taken to continue beyond
// its border in the colour `fill` (one value or one per channel).
Image rotate(const Image& image, double degrees, const std::vector<float>& fill);

// One fill value per channel from a fill option of one value (for every channel) or `channels` values.
std::vector<float> fill_per_channel(const std::vector<float>& fill, int64_t channels, const char* who);

}  // namespace vireo::data
