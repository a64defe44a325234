// CPU kernels for copy (any strides, any dtype pair), fill and random fill.
#include <cmath>
#include <cstring>
#include <numbers>

#include "engine/cpu/strided.h"
#include "engine/kernels/copy.h"
#include "engine/kernels/random.h"

namespace vireo::cpu {
namespace {

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
        for (int64_t i = lo; i < hi; ++i) d[i] = static_cast<Dst>(s[i]);
      });
    }
    return;
  }
  for_each_row<2>(dst.shape(), {&src.strides(), &dst.strides()}, [&](auto offsets, int64_t n, auto inner) {
    const Src* sp = s + offsets[0];
    Dst* dp = d + offsets[1];
    if (inner[0] == 1 && inner[1] == 1) {
      for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<Dst>(sp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) dp[i * inner[1]] = static_cast<Dst>(sp[i * inner[0]]);
    }
  });
}

template <class Src>
void copy_from(const Tensor& src, const Tensor& dst) {
  switch (dst.dtype()) {
    case DType::f32: return copy_typed<Src, float>(src, dst);
    case DType::f64: return copy_typed<Src, double>(src, dst);
    case DType::i64: return copy_typed<Src, int64_t>(src, dst);
  }
}

void copy(const Tensor& src, const Tensor& dst) {
  switch (src.dtype()) {
    case DType::f32: return copy_from<float>(src, dst);
    case DType::f64: return copy_from<double>(src, dst);
    case DType::i64: return copy_from<int64_t>(src, dst);
  }
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
  switch (dst.dtype()) {
    case DType::f32: return fill_typed<float>(dst, static_cast<float>(value));
    case DType::f64: return fill_typed<double>(dst, value);
    case DType::i64: return fill_typed<int64_t>(dst, static_cast<int64_t>(value));
  }
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
    fail("random_fill: ", out.dtype(), " is not a floating dtype");
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::copy, DeviceType::cpu, copy);
VIREO_REGISTER_KERNEL(kernels::fill, DeviceType::cpu, fill);
VIREO_REGISTER_KERNEL(kernels::random_fill, DeviceType::cpu, random_fill);

}  // namespace vireo::cpu
