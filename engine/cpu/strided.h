// Walking N tensors of one shape with arbitrary strides: the shape is cut into rows along its last
// dimension, and `body` gets each row's element offsets plus the per-tensor stride along the row. Kernels
// specialize the row loop when every stride is 1 (so the compiler vectorizes it).
#pragma once

#include <array>
#include <cstdint>

#include "engine/cpu/parallel.h"
#include "engine/shape.h"

namespace vireo::cpu {

template <size_t N, class Body>
void for_each_row(const Shape& shape, const std::array<const Shape*, N>& strides, Body&& body) {
  const int64_t ndim = static_cast<int64_t>(shape.size());
  std::array<int64_t, N> inner_strides{};
  if (ndim == 0) {
    std::array<int64_t, N> offsets{};
    body(offsets, int64_t{1}, inner_strides);
    return;
  }
  const int64_t row_length = shape[ndim - 1];
  for (size_t k = 0; k < N; ++k) inner_strides[k] = (*strides[k])[ndim - 1];
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < ndim; ++d) rows *= shape[d];
  if (rows == 0 || row_length == 0) return;
  parallel_for(0, rows, std::max<int64_t>(1, 32768 / row_length), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      std::array<int64_t, N> offsets{};
      int64_t rest = row;
      for (int64_t d = ndim - 2; d >= 0; --d) {
        const int64_t index = rest % shape[d];
        rest /= shape[d];
        for (size_t k = 0; k < N; ++k) offsets[k] += index * (*strides[k])[d];
      }
      body(offsets, row_length, inner_strides);
    }
  });
}

}  // namespace vireo::cpu
