// The small pieces every report component is written with: text escaped for HTML, images as inline
// base64 PNG data URIs (so a report is one file that needs no network), and an atomic file write.
//
//   escape_html("a < b & \"c\"")            -> a &lt; b &amp; &quot;c&quot;
//   png_data_uri(image)                     -> data:image/png;base64,iVBORw0…
//
// Every string a component takes from data (run names, metric names, class names) goes through
// escape_html before it reaches the page, so a name cannot break the markup or inject a script.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "training/data/image.h"

namespace vireo::report {

// &, <, >, " and ' replaced by their entities: safe inside elements and quoted attributes.
std::string escape_html(const std::string& text);

// RFC 4648 base64 with '=' padding.
std::string base64(const std::vector<uint8_t>& bytes);

// An 8-bit PNG of `image` (values in [0, 1], clamped; 1, 3 or 4 channels), in memory.
std::vector<uint8_t> encode_png(const data::Image& image);
// "data:image/png;base64,…" of PNG bytes, or of an image encoded with encode_png.
std::string png_data_uri(const std::vector<uint8_t>& png);
std::string png_data_uri(const data::Image& image);

// A number for a page: %.4g ("0.8712", "1.2e+03"); "–" for NaN.
std::string format_value(double value);

// The whole file read as bytes; a missing or unreadable file is refused naming its path.
std::vector<uint8_t> read_file_bytes(const std::string& path);
// `text` written to `path` atomically (a temporary file beside it, renamed over it), refused naming the path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace vireo::report
