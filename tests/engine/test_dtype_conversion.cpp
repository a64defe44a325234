// f16 and bf16 conversions, bit by bit: known patterns, and every rounding case checked against an
// independent reference that decodes the formats from their IEEE definition and picks the nearest value.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gradcheck.h"

using namespace vireo;

namespace {

uint32_t bits_of(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float float_of(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// A 16-bit float format described by its field widths, decoded from the definition: the value of a pattern
// is (−1)^s · 2^(e − bias) · 1.m for normal exponents and (−1)^s · 2^(1 − bias) · 0.m for e = 0.
struct Format16 {
  int mantissa_bits;
  int bias;

  int exponent_bits() const { return 15 - mantissa_bits; }
  uint16_t infinity() const { return static_cast<uint16_t>(((1u << exponent_bits()) - 1) << mantissa_bits); }

  double value(uint16_t bits) const {
    const int exponent = (bits >> mantissa_bits) & ((1 << exponent_bits()) - 1);
    const int mantissa = bits & ((1 << mantissa_bits) - 1);
    double magnitude;
    if (exponent == (1 << exponent_bits()) - 1) magnitude = mantissa ? std::nan("") : INFINITY;
    else if (exponent == 0) magnitude = std::ldexp(mantissa, 1 - bias - mantissa_bits);
    else magnitude = std::ldexp((1 << mantissa_bits) + mantissa, exponent - bias - mantissa_bits);
    return (bits & 0x8000) ? -magnitude : magnitude;
  }

  // The correctly rounded pattern of x: the nearest finite value, ties to the even pattern; past the
  // largest finite value the rounding continues as if the exponent went on, and lands on infinity.
  uint16_t round(double x) const {
    const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
    const double magnitude = std::fabs(x);
    if (std::isinf(x)) return sign | infinity();
    // Positive patterns 0 … infinity() are increasing in value; the one after the largest finite value
    // is infinity, whose "value" for rounding purposes is the next power of two.
    auto value_for_rounding = [&](uint32_t pattern) {
      return pattern == infinity() ? std::ldexp(1.0, (1 << (exponent_bits() - 1))) : value(static_cast<uint16_t>(pattern));
    };
    uint32_t low = 0, high = infinity();
    if (magnitude >= value_for_rounding(high)) return sign | infinity();
    while (high - low > 1) {  // invariant: value(low) <= magnitude < value(high)
      const uint32_t middle = (low + high) / 2;
      if (value_for_rounding(middle) <= magnitude) low = middle;
      else high = middle;
    }
    // Compare 2|x| with value(low) + value(high): both sides are exact in double.
    const double twice = 2 * magnitude, sum = value_for_rounding(low) + value_for_rounding(high);
    const uint32_t chosen = twice < sum ? low : twice > sum ? high : (low % 2 == 0 ? low : high);
    return static_cast<uint16_t>(sign | chosen);
  }
};

constexpr Format16 kHalf{10, 15};
constexpr Format16 kBFloat16{7, 127};

// Floats around every rounding decision of a format: each finite value, the midpoints to its neighbours,
// and the floats just below and above those midpoints.
std::vector<float> rounding_probes(const Format16& format) {
  std::vector<float> probes;
  for (uint32_t pattern = 0; pattern < format.infinity(); ++pattern) {
    const double low = format.value(static_cast<uint16_t>(pattern));
    const double high = pattern + 1 == format.infinity() ? std::ldexp(1.0, 1 << (format.exponent_bits() - 1))
                                                         : format.value(static_cast<uint16_t>(pattern + 1));
    const auto midpoint = static_cast<float>((low + high) / 2);  // exact: one bit more than the format
    for (float probe : {static_cast<float>(low), midpoint, std::nextafter(midpoint, 0.0f),
                        std::nextafter(midpoint, INFINITY)}) {
      probes.push_back(probe);
      probes.push_back(-probe);
    }
  }
  return probes;
}

}  // namespace

TEST_CASE("f16 known bit patterns") {
  CHECK(half_bits_from_float(1.0f) == 0x3C00);
  CHECK(half_bits_from_float(-2.0f) == 0xC000);
  CHECK(half_bits_from_float(0.5f) == 0x3800);
  CHECK(half_bits_from_float(0.0f) == 0x0000);
  CHECK(half_bits_from_float(-0.0f) == 0x8000);
  CHECK(half_bits_from_float(65504.0f) == 0x7BFF);                   // the largest f16
  CHECK(half_bits_from_float(65519.996f) == 0x7BFF);                 // just below the halfway point to 2^16
  CHECK(half_bits_from_float(65520.0f) == 0x7C00);                   // the tie goes to even: infinity
  CHECK(half_bits_from_float(1e10f) == 0x7C00);
  CHECK(half_bits_from_float(INFINITY) == 0x7C00);
  CHECK(half_bits_from_float(-INFINITY) == 0xFC00);
  CHECK(half_bits_from_float(std::ldexp(1.0f, -14)) == 0x0400);      // the smallest normal
  CHECK(half_bits_from_float(std::ldexp(1023.0f, -24)) == 0x03FF);   // the largest subnormal
  CHECK(half_bits_from_float(std::ldexp(1.0f, -24)) == 0x0001);      // the smallest subnormal
  CHECK(half_bits_from_float(std::ldexp(1.0f, -25)) == 0x0000);      // half of it: a tie, to the even 0
  CHECK(half_bits_from_float(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
  CHECK(half_bits_from_float(std::ldexp(3.0f, -25)) == 0x0002);      // 1.5 subnormal steps: tie to even 2
  CHECK(half_bits_from_float(-std::ldexp(1.0f, -30)) == 0x8000);     // underflow keeps the sign
  // Ties between normals: 1 + 2^-11 lies halfway between 0x3C00 and 0x3C01 and goes to the even 0x3C00;
  // 1 + 3·2^-11 lies halfway between 0x3C01 and 0x3C02 and goes to 0x3C02.
  CHECK(half_bits_from_float(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);
  CHECK(half_bits_from_float(1.0f + std::ldexp(3.0f, -11)) == 0x3C02);
  CHECK(half_bits_from_float(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3C01);
  CHECK(half_bits_from_float(0.1f) == 0x2E66);
  const uint16_t nan = half_bits_from_float(std::nanf(""));
  CHECK((nan & 0x7C00) == 0x7C00);
  CHECK((nan & 0x03FF) != 0);

  CHECK(float_from_half_bits(0x3C00) == 1.0f);
  CHECK(float_from_half_bits(0x7BFF) == 65504.0f);
  CHECK(float_from_half_bits(0x0001) == std::ldexp(1.0f, -24));
  CHECK(float_from_half_bits(0xFC00) == -INFINITY);
  CHECK(std::signbit(float_from_half_bits(0x8000)));
  CHECK(std::isnan(float_from_half_bits(0x7E00)));
}

TEST_CASE("bf16 known bit patterns") {
  CHECK(bfloat16_bits_from_float(1.0f) == 0x3F80);
  CHECK(bfloat16_bits_from_float(-1.0f) == 0xBF80);
  CHECK(bfloat16_bits_from_float(float_of(0x40490FDB)) == 0x4049);  // pi: the dropped bits are below half
  CHECK(bfloat16_bits_from_float(float_of(0x3F808000)) == 0x3F80);   // tie, to the even 0x3F80
  CHECK(bfloat16_bits_from_float(float_of(0x3F818000)) == 0x3F82);   // tie, to the even 0x3F82
  CHECK(bfloat16_bits_from_float(float_of(0x3F808001)) == 0x3F81);   // above the tie
  CHECK(bfloat16_bits_from_float(float_of(0x7F7F7FFF)) == 0x7F7F);   // just below the tie with infinity
  CHECK(bfloat16_bits_from_float(float_of(0x7F7F8000)) == 0x7F80);   // the tie: odd 0x7F7F rounds up to inf
  CHECK(bfloat16_bits_from_float(std::numeric_limits<float>::max()) == 0x7F80);
  CHECK(bfloat16_bits_from_float(-INFINITY) == 0xFF80);
  CHECK(bfloat16_bits_from_float(float_of(0x00010000)) == 0x0001);   // the smallest bf16 subnormal, 2^-133
  CHECK(bfloat16_bits_from_float(float_of(0x00008000)) == 0x0000);   // half of it: tie, to the even 0
  CHECK(bfloat16_bits_from_float(float_of(0x00008001)) == 0x0001);
  CHECK(bfloat16_bits_from_float(float_of(0x00018000)) == 0x0002);   // 1.5 steps: tie, to the even 2
  CHECK(bfloat16_bits_from_float(float_of(0x80000001)) == 0x8000);
  // A NaN whose payload sits only in the dropped bits must stay a NaN, not become infinity.
  const uint16_t nan = bfloat16_bits_from_float(float_of(0x7F800001));
  CHECK((nan & 0x7F80) == 0x7F80);
  CHECK((nan & 0x007F) != 0);
  CHECK((bfloat16_bits_from_float(float_of(0xFFC00000)) & 0x8000) != 0);  // a negative NaN keeps its sign

  CHECK(float_from_bfloat16_bits(0x3F80) == 1.0f);
  CHECK(float_from_bfloat16_bits(0x7F7F) == float_of(0x7F7F0000));
  CHECK(float_from_bfloat16_bits(0x0001) == std::ldexp(1.0f, -133));
}

TEST_CASE("every f16 and bf16 pattern decodes to its IEEE value and encodes back") {
  for (const auto* format : {&kHalf, &kBFloat16}) {
    const bool half = format == &kHalf;
    int64_t wrong = 0, nans = 0;
    uint32_t first_wrong = 0;
    for (uint32_t pattern = 0; pattern <= 0xFFFF; ++pattern) {
      const auto bits = static_cast<uint16_t>(pattern);
      const float decoded = half ? float_from_half_bits(bits) : float_from_bfloat16_bits(bits);
      const double expected = format->value(bits);
      bool right;
      if (std::isnan(expected)) {
        right = std::isnan(decoded);
        ++nans;
      } else {
        const uint16_t encoded = half ? half_bits_from_float(decoded) : bfloat16_bits_from_float(decoded);
        right = static_cast<double>(decoded) == expected && std::signbit(decoded) == std::signbit(expected) &&
                encoded == bits;
      }
      if (!right && wrong++ == 0) first_wrong = pattern;
    }
    INFO(std::string(half ? "f16" : "bf16"), ": first wrong pattern ", first_wrong);
    CHECK(wrong == 0);
    // 2 · (2^mantissa_bits − 1) NaN patterns (all-ones exponent, nonzero mantissa, either sign).
    CHECK(nans == 2 * ((1 << format->mantissa_bits) - 1));
  }
}

TEST_CASE("f32 to f16 and bf16 round to nearest even at every rounding decision") {
  for (const auto* format : {&kHalf, &kBFloat16}) {
    const bool half = format == &kHalf;
    const std::vector<float> probes = rounding_probes(*format);
    int64_t mismatches = 0;
    std::string first;
    for (float probe : probes) {
      const uint16_t actual = half ? half_bits_from_float(probe) : bfloat16_bits_from_float(probe);
      if (actual != format->round(probe) && mismatches++ == 0)
        first = "float bits " + std::to_string(bits_of(probe)) + " gave " + std::to_string(actual) + ", expected " +
                std::to_string(format->round(probe));
    }
    INFO(std::string(half ? "f16: " : "bf16: "), first);
    CHECK(mismatches == 0);
    CHECK(probes.size() > 4 * static_cast<size_t>(format->infinity()));
  }
}

TEST_CASE("f64 to f16 and bf16 round once through the copy kernel") {
  // Values a hair off the halfway points between neighbours: f64 → f32 → f16 in two round-to-nearest steps
  // would land exactly on the halfway point first and then tie the wrong way.
  for (const auto* format : {&kHalf, &kBFloat16}) {
    const bool half = format == &kHalf;
    std::vector<double> values;
    for (uint32_t pattern = 0; pattern + 1 < format->infinity(); pattern += 7) {
      const double midpoint = (format->value(static_cast<uint16_t>(pattern)) +
                               format->value(static_cast<uint16_t>(pattern + 1))) / 2;
      for (double offset : {-std::ldexp(midpoint, -40), 0.0, std::ldexp(midpoint, -40)}) {
        values.push_back(midpoint + offset);
        values.push_back(-(midpoint + offset));
      }
    }
    const int64_t n = static_cast<int64_t>(values.size());
    const Tensor converted = Tensor::from_vector(values, {n}, {.dtype = half ? DType::f16 : DType::bf16});
    int64_t mismatches = 0;
    std::string first;
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t actual = half ? converted.data<Half>()[i].bits : converted.data<BFloat16>()[i].bits;
      if (actual != format->round(values[i]) && mismatches++ == 0)
        first = "value " + std::to_string(values[i]) + " gave " + std::to_string(actual) + ", expected " +
                std::to_string(format->round(values[i]));
    }
    INFO(std::string(half ? "f16: " : "bf16: "), first);
    CHECK(mismatches == 0);
  }
  // The smallest case by hand: 1 + 2^-11 + 2^-40 is just above the tie between 0x3C00 and 0x3C01.
  const double above_tie = 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40);
  CHECK(Tensor::from_vector({above_tie}, {1}, {.dtype = DType::f16}).data<Half>()[0].bits == 0x3C01);
  CHECK(Tensor::from_vector({1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)}, {1}, {.dtype = DType::bf16})
            .data<BFloat16>()[0]
            .bits == 0x3F81);
}

TEST_CASE("i64 to bf16 rounds once even beyond 2^53") {
  // 2^60 + 2^52 + 1 is just above the halfway point between the bf16 neighbours 2^60 and 2^60 + 2^53; an
  // i64 → f64 conversion would round it onto the halfway point and the tie would then go down.
  Tensor big = Tensor::empty({2}, {.dtype = DType::i64});
  big.data<int64_t>()[0] = (int64_t{1} << 60) + (int64_t{1} << 52) + 1;
  big.data<int64_t>()[1] = -((int64_t{1} << 60) + (int64_t{1} << 52));  // exactly the tie: to the even 2^60
  const Tensor converted = big.to(DType::bf16);
  CHECK(converted.data<BFloat16>()[0].bits == 0x5D81);  // 2^60 is 0x5D80, one bf16 step up is 2^60 + 2^53
  CHECK(converted.data<BFloat16>()[1].bits == 0xDD80);
  CHECK(float_from_bfloat16_bits(0x5D81) == std::ldexp(1.0f, 60) + std::ldexp(1.0f, 53));
}
