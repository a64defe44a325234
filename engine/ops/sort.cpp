// sort and topk front ends. The values carry the gradient: each output element is one input element, so
// the gradient goes back to the position `indices` names (a scatter into zeros along the same dimension).
#include "engine/ops/sort.h"

#include "engine/kernels/sort.h"
#include "engine/ops.h"

namespace vireo {

namespace detail {
Tensor scatter_add_into_zeros(const Tensor& src, const Shape& shape, int64_t dim, const Tensor& index);
}

namespace {

struct Rows {
  int64_t dim = 0, outer = 1, extent = 1, inner = 1;
};

Rows rows_of(const char* op, const Tensor& x, int64_t dim) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  Rows rows;
  rows.dim = wrap_dim(op, dim, x.dim());
  for (int64_t d = 0; d < x.dim(); ++d)
    (d < rows.dim ? rows.outer : d == rows.dim ? rows.extent : rows.inner) *= x.shape()[d];
  return rows;
}

// Records the gradient path of `values` (taken from x at `indices` along `dim`).
Tensor record_selection(const char* op, const Tensor& values, const Tensor& x, int64_t dim, const Tensor& indices) {
  if (!is_floating(x.dtype())) return values;
  return record(op, values, {x}, [dim, indices, in_shape = x.shape()](const Tensor& g) {
    if (in_shape.empty()) return std::vector<Tensor>{g};
    return std::vector<Tensor>{detail::scatter_add_into_zeros(g, in_shape, dim, indices)};
  }, {indices});
}

}  // namespace

ValuesIndices sort(const Tensor& x, int64_t dim, bool descending) {
  const Rows rows = rows_of("sort", x, dim);
  Tensor values = Tensor::empty(x.shape(), x.options());
  Tensor indices = Tensor::empty(x.shape(), {DType::i64, x.device()});
  kernels::sort(x.device(), x.detach().contiguous(), rows.outer, rows.extent, rows.inner, descending, values, indices);
  return {record_selection("sort", values, x, rows.dim, indices), indices};
}

ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  const Rows rows = rows_of("topk", x, dim);
  VIREO_CHECK(k >= 0 && k <= rows.extent, "topk: k = ", k, " is out of range for dimension ", rows.dim, " of ",
              x.shape(), " (extent ", rows.extent, ")");
  Shape shape = x.shape();
  if (!shape.empty()) shape[rows.dim] = k;
  Tensor values = Tensor::empty(shape, x.options());
  Tensor indices = Tensor::empty(shape, {DType::i64, x.device()});
  kernels::topk(x.device(), x.detach().contiguous(), rows.outer, rows.extent, rows.inner, k, largest, sorted, values,
                indices);
  return {record_selection("topk", values, x, rows.dim, indices), indices};
}

}  // namespace vireo
