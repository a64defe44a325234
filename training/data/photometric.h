// Photometric image operations (torchvision.transforms.functional's, on Image): brightness, contrast,
// saturation, hue, grayscale, solarize, gaussian blur, normalize — and the corruptions of robustness
// evaluation (training/data/perturbations.h): motion blur, JPEG-like quantization, additive gaussian noise.
// They change values, not positions, so they work in place. Colour adjustments expect values in [0, 1]
// and clamp their result to it, as torchvision does for float images.
#pragma once

#include <vector>

#include "training/data/image.h"
#include "training/data/random_stream.h"

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

// Horizontal motion blur: every row averaged over a segment of `length` pixels centred on each pixel, the
// image extended by reflection as gaussian_blur. Tap i (offset −R … R) weighs the overlap of the pixel
// [i − ½, i + ½] with the segment [−length/2, length/2], divided by length, so the weights sum to 1 and a
// fractional length grades smoothly; length ≤ 1 leaves the image unchanged.
void motion_blur(Image& image, double length);

// The lossy step of baseline JPEG, on every channel alone (no YCbCr conversion, no chroma subsampling, no
// entropy coding, which loses nothing): values scaled to [−128, 127] (255·x − 128), cut into 8×8 blocks
// (the image extended by repeating its last row and column to a multiple of 8), each block's orthonormal
// 2-D DCT-II
//   F(u, v) = ¼ C(u) C(v) Σ_x Σ_y f(x, y) cos((2x + 1)uπ/16) cos((2y + 1)vπ/16),   C(0) = 1/√2, else 1
// rounded to multiples of the quality-scaled luminance table of the JPEG standard (Annex K.1), with the
// IJG scaling: S = 5000/quality below 50, else 200 − 2·quality; Q' = clamp(⌊(Q·S + 50)/100⌋, 1, 255);
// inverted, and rounded to 8-bit levels as a decoder does. quality in [1, 100]; 100 is a table of ones.
void jpeg_quantize(Image& image, int64_t quality);

// x ← clamp(x + std·z, 0, 1) with z ~ N(0, 1) drawn from `random`, one per value in storage order: the same
// stream gives the same z, so the noise of a larger std points the same way, only farther.
void add_gaussian_noise(Image& image, double std, RandomStream& random);

// (x − mean_c) / std_c per channel; mean and std hold one value (for every channel) or one per channel.
void normalize(Image& image, const std::vector<float>& mean, const std::vector<float>& std);

}  // namespace vireo::data
