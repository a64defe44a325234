// CPU kernels for copy (any strides, any dtype pair), fill and random fill.
#include <cmath>
#include <cstring>
#include <numbers>
#include <type_traits>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/strided.h"
#include "engine/kernels/copy.h"
#include "engine/kernels/random.h"

namespace vireo::cpu {
namespace {

template <class T>
constexpr bool is_float16 = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// One element converted to another type, as torch converts:
//   floating → integer truncates toward zero (through i64, so that narrower integers wrap rather than
//   invoke undefined behaviour); anything → bool is "nonzero" (NaN is true); → f16/bf16 rounds to nearest
//   even, exactly once from any source (engine/float16.h rounds wide sources to odd first).
template <class Dst, class Src>
inline Dst convert(Src value) {
  if constexpr (std::is_same_v<Src, Dst>) {
    return value;
  } else if constexpr (is_float16<Src>) {
    return convert<Dst>(to_float(value));  // every f16 and bf16 value is exact in f32
  } else if constexpr (std::is_same_v<Dst, bool>) {
    return value != Src(0);
  } else if constexpr (is_float16<Dst>) {
    float narrowed;
    if constexpr (std::is_same_v<Src, float>) narrowed = value;
    else if constexpr (std::is_same_v<Src, double>) narrowed = float_rounded_to_odd(value);
    else narrowed = float_rounded_to_odd(static_cast<int64_t>(value));
    if constexpr (std::is_same_v<Dst, Half>) return half_from_float(narrowed);
    else return bfloat16_from_float(narrowed);
  } else if constexpr (std::is_integral_v<Dst> && std::is_floating_point_v<Src>) {
    return static_cast<Dst>(static_cast<int64_t>(value));
  } else {
    return static_cast<Dst>(value);
  }
}

// Runs body(T{}) with T the element type of `dtype`; copy and fill handle every dtype.
template <class Body>
void visit_every_dtype(DType dtype, Body&& body) {
  switch (dtype) {
    case DType::f32: return body(float{});
    case DType::f64: return body(double{});
    case DType::i64: return body(int64_t{});
    case DType::f16: return body(Half{});
    case DType::bf16: return body(BFloat16{});
    case DType::i32: return body(int32_t{});
    case DType::u8: return body(uint8_t{});
    case DType::boolean: return body(bool{});
  }
}

template <class Src, class Dst>
void copy_typed(const Tensor& src, const Tensor& dst) {
  const Src* s = static_cast<const Src*>(src.raw_data());
  Dst* d = static_cast<Dst*>(dst.raw_data());
  if (src.is_contiguous() && dst.is_contiguous()) {
    const int64_t n = dst.numel();
    if constexpr (std::is_same_v<Src, Dst>) {
      parallel_for(0, n, 1 << 16, [&](int64_t lo, int64_t hi) { std::memcpy(d + lo, s + lo, (hi - lo) * sizeof(Dst)); });
    } else {
      parallel_for(0, n, 1 << 15, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) d[i] = convert<Dst>(s[i]);
      });
    }
    return;
  }
  for_each_row<2>(dst.shape(), {&src.strides(), &dst.strides()}, [&](auto offsets, int64_t n, auto inner) {
    const Src* sp = s + offsets[0];
    Dst* dp = d + offsets[1];
    if (inner[0] == 1 && inner[1] == 1) {
      for (int64_t i = 0; i < n; ++i) dp[i] = convert<Dst>(sp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) dp[i * inner[1]] = convert<Dst>(sp[i * inner[0]]);
    }
  });
}

void copy(const Tensor& src, const Tensor& dst) {
  visit_every_dtype(src.dtype(), [&](auto src_tag) {
    visit_every_dtype(dst.dtype(), [&](auto dst_tag) { copy_typed<decltype(src_tag), decltype(dst_tag)>(src, dst); });
  });
}

template <class T>
void fill_typed(const Tensor& dst, T value) {
  T* d = static_cast<T*>(dst.raw_data());
  for_each_row<1>(dst.shape(), {&dst.strides()}, [&](auto offsets, int64_t n, auto inner) {
    T* p = d + offsets[0];
    for (int64_t i = 0; i < n; ++i) p[i * inner[0]] = value;
  });
}

void fill(const Tensor& dst, double value) {
  visit_every_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    fill_typed<T>(dst, convert<T>(value));
  });
}

template <class T>
void random_fill_typed(T* out, int64_t n, kernels::Distribution distribution, const Generator& generator,
                       uint64_t first_block) {
  parallel_for(0, n, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      if (distribution == kernels::Distribution::uniform) {
        if constexpr (std::is_same_v<T, float>) {
          out[i] = uniform_float(generator.block(first_block + i / 4)[i % 4]);
        } else {
          const auto w = generator.block(first_block + i / 2);
          const int pair = static_cast<int>(i % 2) * 2;
          out[i] = uniform_double(w[pair], w[pair + 1]);
        }
      } else {
        const auto w = generator.block(first_block + i / 2);
        // 1 − u keeps the logarithm's argument in (0, 1].
        const double u1 = 1.0 - uniform_double(w[0], w[1]), u2 = uniform_double(w[2], w[3]);
        const double radius = std::sqrt(-2.0 * std::log(u1)), angle = 2.0 * std::numbers::pi * u2;
        out[i] = static_cast<T>(i % 2 == 0 ? radius * std::cos(angle) : radius * std::sin(angle));
      }
    }
  });
}

void random_fill(const Tensor& out, kernels::Distribution distribution, const Generator& generator,
                 uint64_t first_block) {
  if (out.dtype() == DType::f32)
    random_fill_typed(out.data<float>(), out.numel(), distribution, generator, first_block);
  else if (out.dtype() == DType::f64)
    random_fill_typed(out.data<double>(), out.numel(), distribution, generator, first_block);
  else
    refuse_dtype("random_fill", out.dtype());
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::copy, DeviceType::cpu, copy);
VIREO_REGISTER_KERNEL(kernels::fill, DeviceType::cpu, fill);
VIREO_REGISTER_KERNEL(kernels::random_fill, DeviceType::cpu, random_fill);

}  // namespace vireo::cpu
