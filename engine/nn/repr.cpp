// Python-style value spellings (engine/nn/repr.h).
#include "engine/nn/repr.h"

#include <charconv>
#include <cmath>

namespace vireo::nn {

std::string repr_bool(bool value) { return value ? "True" : "False"; }

// Python prints the shortest digits that read back exactly, in scientific form when the decimal exponent
// is below −4 or at least 16, and always with a '.' or an exponent: 1.0, 0.1, 1e-05, 1e+16.
std::string repr_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return std::signbit(value) ? "-0.0" : "0.0";
  const int exponent = static_cast<int>(std::floor(std::log10(std::abs(value))));
  char buffer[64];
  const bool scientific = exponent < -4 || exponent >= 16;
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value,
                                    scientific ? std::chars_format::scientific : std::chars_format::fixed);
  std::string text(buffer, result.ptr);
  if (!scientific && text.find('.') == std::string::npos) text += ".0";
  return text;
}

std::string repr_tuple(const std::vector<int64_t>& values) {
  std::string out = "(";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + (values.size() == 1 ? ",)" : ")");
}

}  // namespace vireo::nn
