// Photometric image operations (torchvision.transforms.functional's, on Image): brightness, contrast,
// saturation, hue, grayscale, solarize, gaussian blur, normalize. They change values, not positions, so
// they work in place. Colour adjustments expect values in [0, 1] and clamp their result to it, as
// torchvision does for float images.
#pragma once

#include <vector>

#include "training/data/image.h"

namespace vireo::data {

// The blend torchvision's colour adjustments are made of: clamp(factor·image + (1 − factor)·other, 0, 1).
// brightness blends with black: clamp(factor · x).
void adjust_brightness(Image& image, double factor);
// Blends with the mean luma of the whole image (the mean value of a 1-channel image).
void adjust_contrast(Image& image, double factor);
// Blends each pixel with its own luma; a 1-channel image is left unchanged.
void adjust_saturation(Image& image, double factor);
// Rotates hue by `shift` turns, shift in [−0.5, 0.5]: RGB → HSV, h ← (h + shift) mod 1, HSV → RGB, with
// torchvision's formulas. A 1-channel image is left unchanged.
void adjust_hue(Image& image, double shift);

// Every channel replaced by the pixel's luma 0.299 R + 0.587 G + 0.114 B (the channel count is kept, as
// torchvision's RandomGrayscale does); a 1-channel image is left unchanged.
void grayscale_keep_channels(Image& image);

// x ← 1 − x wherever x ≥ threshold.
void solarize(Image& image, double threshold);

// The normalized 1-D gaussian torchvision uses: k = size taps at −(size−1)/2 … (size−1)/2,
// w_i = exp(−½ (x_i/σ)²) / Σ_j exp(−½ (x_j/σ)²). size must be odd and positive, σ > 0.
std::vector<float> gaussian_kernel(int64_t size, double sigma);

// Separable gaussian blur (the kernel above along rows, then along columns), the image extended past its
// border by reflection without repeating the edge (torch's "reflect" padding).
void gaussian_blur(Image& image, int64_t kernel_size, double sigma);

// (x − mean_c) / std_c per channel; mean and std hold one value (for every channel) or one per channel.
void normalize(Image& image, const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace vireo::data
