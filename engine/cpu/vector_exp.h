// exp for f32 written with arithmetic and bit operations only, so that the `omp simd` loops of the softmax
// and cross-entropy kernels vectorize it (glibc's expf is a scalar call: softmax spent 4 ns per element
// in it). The reference twin is std::exp; tests/engine/test_loss.cpp compares the two over the whole range.
//
//   exp(x) = 2^n · e^r,  n = round(x·log2 e),  r = x − n·ln 2  (|r| ≤ ln2/2, ln 2 split in two parts so
//   that n·ln2_hi is exact), e^r by Cephes' degree-6 polynomial (relative error below 2^-23 on that
//   interval), 2^n assembled in the exponent bits.
//
// Rounding uses the 1.5·2^23 trick: adding it leaves round(v) in the low mantissa bits, read back as an
// integer without a float-to-int conversion (which NaN would make undefined). The polynomial runs on
// inputs clamped to [−87.3, 88.7], f32's normal range; outside it the result is exactly 0 (so a −inf
// mask gives a zero probability) or +inf. NaN stays NaN.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

namespace vireo::cpu {

inline float exp_approx(float x) {
  constexpr float kMin = -87.33654f, kMax = 88.72283f;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5·2^23
  const float clamped = x < kMin ? kMin : (x > kMax ? kMax : x);  // NaN falls through unchanged
  const float shifted = clamped * kLog2e + kRound;
  const float n = shifted - kRound;
  const float r = (clamped - n * kLn2Hi) - n * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // The low bits of `shifted` hold n + 2^22 (two's complement within the mantissa); 2^n has exponent
  // field n + 127. n = 128 (x near kMax) is split into two factors so the field stays in range.
  const int32_t n_int = std::bit_cast<int32_t>(shifted) - std::bit_cast<int32_t>(kRound);
  const int32_t half = n_int >> 1;
  const float scale_a = std::bit_cast<float>((half + 127) << 23);
  const float scale_b = std::bit_cast<float>((n_int - half + 127) << 23);
  const float result = p * scale_a * scale_b;
  return x < kMin ? 0.0f : (x > kMax ? std::numeric_limits<float>::infinity() : result);
}

// The exp the f32/f64 kernels use: the vectorizable one for f32, std::exp for f64 (the gradient-check
// dtype, where accuracy matters more than speed).
template <class T>
inline T exp_kernel(T x);
template <>
inline float exp_kernel(float x) { return exp_approx(x); }
template <>
inline double exp_kernel(double x) { return __builtin_exp(x); }

}  // namespace vireo::cpu
