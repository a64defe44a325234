// Shapes and the arithmetic on them that every op shares: element counts, contiguous strides,
// broadcasting and dimension wrapping, each failing with the name of the op that asked.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace vireo {

// A list of extents. A distinct type (not an alias) so that printing it is found by argument lookup.
struct Shape : std::vector<int64_t> {
  using std::vector<int64_t>::vector;
  Shape() = default;
  Shape(const std::vector<int64_t>& dims) : std::vector<int64_t>(dims) {}
};

std::string to_string(const Shape& shape);  // "[2, 3, 4]"

int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

// The shape two operands broadcast to (NumPy rules), or an Error naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Wraps a possibly negative dimension into [0, ndim), or an Error naming `op`.
int64_t wrap_dim(const char* op, int64_t dim, int64_t ndim);

// Wraps and sorts a list of dimensions; an empty list means "all dimensions".
std::vector<int64_t> wrap_dims(const char* op, const std::vector<int64_t>& dims, int64_t ndim);

inline std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << to_string(shape); }

}  // namespace vireo
