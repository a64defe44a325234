// Element types. f32 is the working type; f64 exists for gradient checks and reference math; i64 holds
// indices and labels (argmax, topk, gather, cross-entropy targets).
//
// f16, bf16, i32, u8 and bool are storage types on the CPU: what checkpoints (safetensors) carry. Tensors of
// them are created, viewed, copied, converted (Tensor::to, copy_) and saved, but CPU compute kernels refuse
// them (engine/cpu/dtype_support.h) — convert to f32 first. The CUDA backend will compute in f16/bf16.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "engine/float16.h"

namespace vireo {

// New dtypes go at the end: the numeric values are not part of any file format, but keeping them stable
// keeps debugging output comparable.
enum class DType : uint8_t { f32, f64, i64, f16, bf16, i32, u8, boolean };

inline constexpr DType kAllDTypes[] = {DType::f32, DType::f64,  DType::i64, DType::f16,
                                       DType::bf16, DType::i32, DType::u8,  DType::boolean};

constexpr size_t element_size(DType dtype) {
  switch (dtype) {
    case DType::f64:
    case DType::i64: return 8;
    case DType::f32:
    case DType::i32: return 4;
    case DType::f16:
    case DType::bf16: return 2;
    case DType::u8:
    case DType::boolean: return 1;
  }
  return 0;
}

constexpr bool is_floating(DType dtype) {
  return dtype == DType::f32 || dtype == DType::f64 || dtype == DType::f16 || dtype == DType::bf16;
}

constexpr std::string_view name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
    case DType::boolean: return "bool";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType dtype) { return os << name(dtype); }

// The C++ element type of each dtype (Tensor::data<T>() checks it). bool is one byte holding 0 or 1.
template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<Half>() { return DType::f16; }
template <> constexpr DType dtype_of<BFloat16>() { return DType::bf16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<bool>() { return DType::boolean; }
static_assert(sizeof(bool) == 1, "DType::boolean stores one byte per element");

}  // namespace vireo
