// Indexing front ends. Each backward is another indexing op, so gradients of any order flow:
//   index_select ↔ index_add,   gather ↔ scatter_add.
#include "engine/ops/indexing.h"

#include "engine/kernels/copy.h"
#include "engine/kernels/elementwise.h"
#include "engine/kernels/indexing.h"
#include "engine/ops.h"

namespace vireo {
namespace {

void check_index(const char* op, const Tensor& x, const Tensor& index) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  VIREO_CHECK(index.defined(), op, ": the index is undefined");
  VIREO_CHECK(index.dtype() == DType::i64, op, ": the index must be i64, got ", describe(index));
  VIREO_CHECK(index.device() == x.device(), op, ": index ", describe(index), " and input ", describe(x),
              " are on different devices");
}

// [outer, extent, inner] around dimension `dim`.
struct Around {
  int64_t outer = 1, extent = 1, inner = 1;
  Around(const Shape& shape, int64_t dim) {
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
      (d < dim ? outer : d == dim ? extent : inner) *= shape[d];
  }
};

// A history-free view of `x` cut down to `extents` in every dimension but `dim` (the kernels' operand for
// gather and scatter_add, whose index may be smaller than the tensors it addresses).
Tensor narrowed(const Tensor& x, const Shape& extents, int64_t dim) {
  Tensor view = x.detach();
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != dim && extents[d] != x.shape()[d]) view = view.slice(d, 0, extents[d]);
  return view;
}

// zeros(shape) with src's slices added at `index` along `dim`: the backward of index_select, differentiable
// in src (its own backward is index_select again).
Tensor index_add_into_zeros(const Tensor& src, const Shape& shape, int64_t dim, const Tensor& index) {
  Tensor out = zeros(shape, src.options());
  const Around a(shape, dim);
  kernels::index_add(src.device(), out, dim, a.outer, a.extent, a.inner, index, src.detach().contiguous());
  return record("index_add", out, {src}, [dim, index](const Tensor& g) {
    return std::vector<Tensor>{index_select(g, dim, index)};
  }, {index});
}

}  // namespace

namespace detail {
// zeros(shape) with src scattered (and summed) at `index` along `dim`: the backward of gather,
// differentiable in src (its own backward is gather again). index and src share a shape.
Tensor scatter_add_into_zeros(const Tensor& src, const Shape& shape, int64_t dim, const Tensor& index) {
  Tensor out = zeros(shape, src.options());
  kernels::scatter_add(src.device(), narrowed(out, index.shape(), dim), dim, index, src.detach());
  return record("scatter_add", out, {src}, [dim, index](const Tensor& g) {
    return std::vector<Tensor>{gather(g, dim, index)};
  }, {index});
}
}  // namespace detail

using detail::scatter_add_into_zeros;

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index("index_select", x, index);
  VIREO_CHECK(x.dim() >= 1, "index_select: the input must have at least one dimension, got ", describe(x));
  VIREO_CHECK(index.dim() <= 1, "index_select: the index must be 1-D, got ", describe(index));
  const int64_t d = wrap_dim("index_select", dim, x.dim());
  const Tensor flat_index = index.reshape({index.numel()}).contiguous();
  Shape shape = x.shape();
  shape[d] = flat_index.numel();
  Tensor out = Tensor::empty(shape, x.options());
  const Around a(x.shape(), d);
  kernels::index_select(x.device(), x.detach().contiguous(), d, a.outer, a.extent, a.inner, flat_index, out);
  if (!is_floating(x.dtype())) return out;
  return record("index_select", out, {x}, [d, flat_index, in_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{index_add_into_zeros(g, in_shape, d, flat_index)};
  }, {flat_index});
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index("gather", x, index);
  VIREO_CHECK(index.dim() == x.dim(), "gather: index ", index.shape(), " and input ", x.shape(),
              " must have the same number of dimensions");
  const int64_t d = wrap_dim("gather", dim, x.dim());
  for (int64_t k = 0; k < x.dim(); ++k)
    VIREO_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index ", index.shape(),
                " is larger than input ", x.shape(), " in dimension ", k);
  const Tensor idx = index.contiguous();
  Tensor out = Tensor::empty(index.shape(), x.options());
  if (x.dim() == 0) {  // the one index must be 0; the kernel checks it on a 1-element view
    kernels::gather(x.device(), x.detach().reshape({1}), 0, idx.reshape({1}), out.reshape({1}));
  } else {
    kernels::gather(x.device(), narrowed(x, index.shape(), d), d, idx, out);
  }
  if (!is_floating(x.dtype())) return out;
  return record("gather", out, {x}, [d, idx, in_shape = x.shape()](const Tensor& g) {
    if (in_shape.empty()) return std::vector<Tensor>{g};
    return std::vector<Tensor>{scatter_add_into_zeros(g, in_shape, d, idx)};
  }, {idx});
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index("scatter_add", x, index);
  VIREO_CHECK(src.defined(), "scatter_add: src is undefined");
  VIREO_CHECK(src.dtype() == x.dtype() && src.device() == x.device(), "scatter_add: src ", describe(src),
              " does not match the input ", describe(x));
  VIREO_CHECK(x.dim() >= 1, "scatter_add: the input must have at least one dimension, got ", describe(x));
  VIREO_CHECK(index.dim() == x.dim() && src.dim() == x.dim(), "scatter_add: input ", x.shape(), ", index ",
              index.shape(), " and src ", src.shape(), " must have the same number of dimensions");
  const int64_t d = wrap_dim("scatter_add", dim, x.dim());
  for (int64_t k = 0; k < x.dim(); ++k) {
    VIREO_CHECK(index.shape()[k] <= src.shape()[k], "scatter_add: index ", index.shape(), " is larger than src ",
                src.shape(), " in dimension ", k);
    VIREO_CHECK(k == d || index.shape()[k] <= x.shape()[k], "scatter_add: index ", index.shape(),
                " is larger than input ", x.shape(), " in dimension ", k);
  }
  const Tensor idx = index.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.options());
  kernels::copy(x.device(), x, out);
  kernels::scatter_add(x.device(), narrowed(out, index.shape(), d), d, idx, narrowed(src, index.shape(), d));
  if (!is_floating(x.dtype())) return out;
  const bool src_grad = src.requires_grad();
  return record("scatter_add", out, {x, src}, [d, idx, src_grad, src_shape = src.shape()](const Tensor& g) {
    Tensor g_src;
    if (src_grad) {
      g_src = gather(g, d, idx);
      if (g_src.shape() != src_shape) {
        // src larger than index: the positions it did not scatter get no gradient.
        std::vector<int64_t> pads;
        for (int64_t k = static_cast<int64_t>(src_shape.size()) - 1; k >= 0; --k) {
          pads.push_back(0);
          pads.push_back(src_shape[k] - g_src.shape()[k]);
        }
        g_src = pad(g_src, pads);
      }
    }
    return std::vector<Tensor>{g, g_src};
  }, {idx});
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  VIREO_CHECK(labels.defined(), "one_hot: the labels are undefined");
  VIREO_CHECK(labels.dtype() == DType::i64, "one_hot: labels must be i64, got ", describe(labels));
  if (num_classes == -1) {
    // As torch: one more than the largest label.
    VIREO_CHECK(labels.numel() > 0, "one_hot: cannot infer the number of classes from empty labels");
    num_classes = static_cast<int64_t>(amax(labels).item()) + 1;
  }
  VIREO_CHECK(num_classes > 0, "one_hot: num_classes must be positive (or -1 to infer it), got ", num_classes);
  Shape shape = labels.shape();
  shape.push_back(num_classes);
  Tensor out = Tensor::empty(shape, {dtype, labels.device()});
  kernels::one_hot(labels.device(), labels.reshape({labels.numel()}).contiguous(), out.reshape({labels.numel(), num_classes}));
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  VIREO_CHECK(x.defined() && mask.defined(), "masked_fill: an operand is undefined");
  VIREO_CHECK(mask.device() == x.device(), "masked_fill: mask ", describe(mask), " and input ", describe(x),
              " are on different devices");
  VIREO_CHECK(broadcast_shapes("masked_fill", x.shape(), mask.shape()) == x.shape(), "masked_fill: mask ",
              mask.shape(), " cannot be broadcast to the input's shape ", x.shape());
  const Tensor condition = mask.detach().to(x.dtype());
  Tensor out = Tensor::empty(x.shape(), x.options());
  kernels::where(x.device(), condition.expand(x.shape()), full({}, value, x.options()).expand(x.shape()), x.detach(),
                 out);
  if (!is_floating(x.dtype())) return out;
  return record("masked_fill", out, {x}, [condition](const Tensor& g) {
    return std::vector<Tensor>{where(condition, zeros({}, g.options()), g)};
  }, {condition});
}

}  // namespace vireo
