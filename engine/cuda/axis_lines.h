// Strided tensors read along one axis, for the CUDA gather and scatter_add kernels
// (engine/cuda/indexing.cu). A tensor of shape S is cut into lines along `dim`: line l is the set of
// elements that share every coordinate but the one along `dim`, numbered row-major over S with that extent
// set to 1. Element j of line l of operand k sits at lines.offsets(l)[k] + j·dim_strides[k].
//
// One thread owns one line: a scatter_add thread adds its line's sources in increasing j, so duplicates
// accumulate in the CPU's order, and no two threads write one output element (an output element belongs
// to exactly one line: the one of its other coordinates).
#pragma once

#include <array>
#include <cstdint>

#include "engine/cuda/common.h"

namespace vireo::cuda {

template <int Operands>
struct AxisLines {
  OffsetCalculator<Operands> lines;  // over S with the extent along dim set to 1
  int64_t dim_strides[Operands] = {};
  int64_t count = 0;   // number of lines
  int64_t length = 0;  // elements per line: S[dim]

  VIREO_HOST_DEVICE void line_offsets(int64_t line, int64_t (&out)[Operands]) const { lines.offsets(line, out); }
};

// `shape` is the shape the lines run over (the index's, for gather and scatter_add); each operand gives its
// strides, of the same rank. Throws when the shape has too many non-mergeable dimensions.
template <int Operands>
AxisLines<Operands> make_axis_lines(const Shape& shape, const std::array<const Shape*, Operands>& strides, int64_t dim) {
  AxisLines<Operands> axis;
  Shape line_shape = shape;
  axis.length = shape.empty() ? 1 : shape[dim];
  if (!shape.empty()) line_shape[dim] = 1;
  axis.count = 1;
  for (int64_t extent : line_shape) axis.count *= extent;
  axis.lines = make_offset_calculator<Operands>(line_shape, strides);
  for (int k = 0; k < Operands; ++k) axis.dim_strides[k] = shape.empty() ? 0 : (*strides[k])[dim];
  return axis;
}

}  // namespace vireo::cuda
