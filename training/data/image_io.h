// Image files: decoding PNG, JPEG, BMP and PNM with stb_image, writing PNG with stb_image_write.
#pragma once

#include <string>

#include "training/data/image.h"

namespace vireo::data {

// Decodes the image file at `path` into [0, 1] floats, converted to `channels` (1 or 3; 0 keeps what the
// file stores, 1 to 4). A missing, unreadable or corrupt file is refused with an Error naming the path
// and stb_image's diagnosis; so is a file of another format, or a header claiming more than 2^25 pixels.
Image decode_image(const std::string& path, int64_t channels = 0);

// Writes a 1-, 3- or 4-channel image as an 8-bit PNG (values clamped to [0, 1], then rounded to 1/255).
void write_png(const std::string& path, const Image& image);

}  // namespace vireo::data
