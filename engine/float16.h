// Half (IEEE binary16, "f16") and BFloat16 ("bf16"): the 16-bit floating storage types, and their exact
// conversions to and from f32.
//
// On the CPU these are storage types (checkpoints, mixed-precision weights): kernels compute in f32/f64, so
// all that matters here is that converting is exact — round to nearest, ties to even; NaN stays NaN, ±inf
// stays ±inf, overflow becomes ±inf, subnormals are kept. The bit manipulation is written out plainly:
//
//            sign  exponent (bias)   mantissa   largest finite   smallest subnormal
//   f32        1     8  (127)          23        3.4028e38        2^-149
//   f16        1     5  (15)           10        65504            2^-24
//   bf16       1     8  (127)           7        3.3895e38        2^-133
//
// bf16 is the top half of an f32, so its conversion only rounds the low 16 bits away. f16 re-biases the
// exponent and, below 2^-14, shifts the mantissa into a subnormal.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace vireo {

struct Half {
  uint16_t bits = 0;
};

struct BFloat16 {
  uint16_t bits = 0;
};

// std::bit_cast and std::bit_width, restated in C++17: nvcc compiles the CUDA backend's files, which include
// this header, as C++17 (the CMake we require cannot ask nvcc for C++20).
namespace detail {
template <class To, class From>
inline To bits_as(From value) {
  static_assert(sizeof(To) == sizeof(From));
  To out;
  std::memcpy(&out, &value, sizeof(To));
  return out;
}
inline int bit_width(uint64_t value) {
  int width = 0;
  for (; value != 0; value >>= 1) ++width;
  return width;
}
}  // namespace detail

// ---- f32 → f16, f16 → f32 ----

inline uint16_t half_bits_from_float(float value) {
  const uint32_t bits = detail::bits_as<uint32_t>(value);
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return sign | 0x7E00u;  // NaN → the quiet NaN
  // 65520 (bits 0x477FF000) lies halfway between 65504, the largest f16, and 65536, the next power of two;
  // the tie goes to the even neighbour 65536, which is past the range: infinity. Infinity itself lands here.
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;
  if (magnitude >= 0x38800000u) {  // ≥ 2^-14: a normal f16
    // Re-bias the exponent from 127 to 15, then drop the 13 low mantissa bits, rounding to nearest even:
    // adding 0x0FFF (half an ulp minus one) plus the lowest kept bit carries exactly when the dropped part
    // is above half, or equal to half with an odd kept part. A carry out of the mantissa bumps the
    // exponent, which is the right answer (1.11…1 rounds up to 10.0).
    const uint32_t rebiased = magnitude - ((127u - 15u) << 23);
    return sign | static_cast<uint16_t>((rebiased + 0x0FFFu + ((rebiased >> 13) & 1u)) >> 13);
  }
  // Below 2^-14 the result is a subnormal m·2^-24, m in [0, 1024]. Up to 2^-25 (half of the smallest
  // subnormal, a tie that goes to the even 0) everything rounds to zero.
  if (magnitude <= 0x33000000u) return sign;
  // value = mantissa·2^(exponent − 150) with the implicit leading 1, so m = value·2^24 is the mantissa
  // shifted right by 126 − exponent (14 to 24 places), rounded to nearest even. m = 1024 is the smallest
  // normal, 2^-14, which is also exactly right.
  const uint32_t exponent = magnitude >> 23;
  const uint32_t mantissa = (magnitude & 0x007FFFFFu) | 0x00800000u;
  const uint32_t shift = 126u - exponent;
  const uint32_t kept = mantissa >> shift;
  const uint32_t dropped = mantissa & ((1u << shift) - 1u);
  const uint32_t half_ulp = 1u << (shift - 1u);
  const uint32_t rounds_up = dropped > half_ulp || (dropped == half_ulp && (kept & 1u));
  return sign | static_cast<uint16_t>(kept + rounds_up);
}

inline float float_from_half_bits(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  const uint32_t mantissa = h & 0x03FFu;
  if (exponent == 0x1Fu) return detail::bits_as<float>(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa·2^-24, exact in f32
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  return detail::bits_as<float>(sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13));
}

// ---- f32 → bf16, bf16 → f32 ----

inline uint16_t bfloat16_bits_from_float(float value) {
  const uint32_t bits = detail::bits_as<uint32_t>(value);
  if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // NaN, quieted
  // Drop the low 16 bits, rounding to nearest even (0x7FFF is half an ulp minus one; add the lowest kept
  // bit for ties). Subnormals need nothing special (bf16 has f32's exponent), and a value past the largest
  // bf16 carries into the exponent and becomes infinity, as it should.
  return static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

inline float float_from_bfloat16_bits(uint16_t b) { return detail::bits_as<float>(static_cast<uint32_t>(b) << 16); }

// ---- sources wider than f32 ----
//
// Rounding f64 → f32 → f16 in two round-to-nearest steps can go wrong: a value just above a halfway point
// between two f16 numbers can first round down onto that point in f32, then tie to even the wrong way.
// Rounding the first step "to odd" — truncate, and set the last bit when anything was lost — keeps the
// information the second step needs, and f32 has more than two extra bits over f16 and bf16, so the second
// rounding then gives exactly the correctly rounded result (Boldo & Melquiond, "Emulation of FMA and
// correctly rounded sums: proved algorithms using rounding to odd", 2008).

inline float float_rounded_to_odd(double value) {
  const float nearest = static_cast<float>(value);
  if (static_cast<double>(nearest) == value || std::isnan(value)) return nearest;
  uint32_t bits = detail::bits_as<uint32_t>(nearest);
  // Round-to-nearest went away from zero: step back to the truncation (for ±inf, to the largest float).
  if (std::fabs(static_cast<double>(nearest)) > std::fabs(value)) --bits;
  return detail::bits_as<float>(bits | 1u);
}

inline float float_rounded_to_odd(int64_t value) {
  // Keep the 24 leading significant bits of |value| and fold everything below into the last kept bit.
  uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  const int width = detail::bit_width(magnitude);
  if (width > 24) {
    const int dropped = width - 24;
    const uint64_t lost = magnitude & ((uint64_t{1} << dropped) - 1);
    magnitude = (magnitude >> dropped << dropped) | (lost != 0 ? uint64_t{1} << dropped : 0);
  }
  const auto exact = static_cast<float>(magnitude);  // at most 24 significant bits: exact
  return value < 0 ? -exact : exact;
}

// ---- the conversions kernels use ----

inline Half half_from_float(float value) { return Half{half_bits_from_float(value)}; }
inline BFloat16 bfloat16_from_float(float value) { return BFloat16{bfloat16_bits_from_float(value)}; }
inline float to_float(Half value) { return float_from_half_bits(value.bits); }
inline float to_float(BFloat16 value) { return float_from_bfloat16_bits(value.bits); }

}  // namespace vireo
