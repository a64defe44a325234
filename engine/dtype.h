// Element types. f32 is the working type; f64 exists for gradient checks and reference math; i64 holds
// indices and labels (argmax, topk, gather, cross-entropy targets). bf16/f16 arrive with the CUDA backend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

namespace vireo {

enum class DType : uint8_t { f32, f64, i64 };

constexpr size_t element_size(DType dtype) { return dtype == DType::f32 ? 4 : 8; }
constexpr bool is_floating(DType dtype) { return dtype != DType::i64; }

constexpr std::string_view name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType dtype) { return os << name(dtype); }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }

}  // namespace vireo
