// Order keys for the CUDA sort and topk (engine/cuda/sort.cu): each value becomes an unsigned integer whose
// unsigned order is the order the kernels promise, so a stable radix sort of (key, index) pairs gives the
// stable sort. For floats (as the CPU's f32 path, engine/cpu/sort.cpp): flip every bit of a negative, set
// the sign bit of a positive; every NaN becomes the one quiet NaN (the largest key, so NaN sorts above every
// number, as in torch) and −0 becomes +0 (equal, so ties keep index order). Integers: flip the sign bit.
// Descending order complements the key (not the index), so equal values still keep their index order.
// f16 and bf16 values are exact in f32 and use its keys.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>

#include "engine/cuda/common.h"

namespace vireo::cuda {

template <class To, class From>
VIREO_HOST_DEVICE inline To bit_copy(From value) {
  static_assert(sizeof(To) == sizeof(From), "bit_copy needs types of one size");
  To result;
  memcpy(&result, &value, sizeof(To));
  return result;
}

VIREO_HOST_DEVICE inline uint32_t order_key(float v, bool descending) {
  v = v != v ? bit_copy<float>(0x7fc00000u) : (v == 0.0f ? 0.0f : v);
  const uint32_t bits = bit_copy<uint32_t>(v);
  const uint32_t key = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return descending ? ~key : key;
}

VIREO_HOST_DEVICE inline uint64_t order_key(double v, bool descending) {
  v = v != v ? bit_copy<double>(0x7ff8000000000000ull) : (v == 0.0 ? 0.0 : v);
  const uint64_t bits = bit_copy<uint64_t>(v);
  const uint64_t sign = 0x8000000000000000ull;
  const uint64_t key = (bits & sign) ? ~bits : (bits | sign);
  return descending ? ~key : key;
}

VIREO_HOST_DEVICE inline uint64_t order_key(int64_t v, bool descending) {
  const uint64_t key = static_cast<uint64_t>(v) ^ 0x8000000000000000ull;
  return descending ? ~key : key;
}

}  // namespace vireo::cuda
