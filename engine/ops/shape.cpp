// Views share their input's storage and record a backward that maps the gradient back through the
// inverse view; cat/stack/split are built from slices.
#include "engine/ops/shape.h"

#include <algorithm>
#include <numeric>
#include <optional>

#include "engine/kernels/copy.h"
#include "engine/ops.h"

namespace vireo {
namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

// Strides that let `new_shape` address the same elements as (old_shape, old_strides) in row-major order,
// or nothing when a copy is required (the rule torch's view uses: merged dimensions must be contiguous
// with each other).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& new_shape) {
  Shape new_strides(new_shape.size());
  if (old_shape.empty() || numel(old_shape) == 0) return contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 ||
        (old_shape[tensor_d - 1] != 1 && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

Shape infer_shape(const char* op, const Shape& requested, int64_t count) {
  Shape shape = requested;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      VIREO_CHECK(infer_at < 0, op, ": only one dimension can be -1 in ", requested);
      infer_at = static_cast<int64_t>(i);
    } else {
      VIREO_CHECK(shape[i] >= 0, op, ": invalid extent in ", requested);
      known *= shape[i];
    }
  }
  if (infer_at >= 0) {
    VIREO_CHECK(known > 0 && count % known == 0, op, ": shape ", requested, " cannot hold ", count, " elements");
    shape[infer_at] = count / known;
  }
  VIREO_CHECK(numel(shape) == count, op, ": shape ", requested, " is invalid for ", count, " elements");
  return shape;
}

}  // namespace

Tensor contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;
  Tensor out = Tensor::empty(x.shape(), x.options());
  kernels::copy(x.device(), x, out);
  return record("contiguous", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor clone(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.options());
  kernels::copy(x.device(), x, out);
  return record("clone", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), {dtype, x.device()});
  kernels::copy(x.device(), x, out);
  if (!is_floating(dtype)) return out;
  return record("to_dtype", out, {x}, [from = x.dtype()](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
}

Tensor view(const Tensor& x, const Shape& requested) {
  const Shape shape = infer_shape("view", requested, x.numel());
  auto strides = view_strides(x.shape(), x.strides(), shape);
  VIREO_CHECK(strides.has_value(), "view: a tensor of shape ", x.shape(), " with strides ", x.strides(),
              " cannot be viewed as ", shape, "; use reshape (which copies)");
  Tensor out = make_view(x, shape, *strides, x.offset());
  return record("view", out, {x}, [in_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(in_shape)};
  });
}

Tensor reshape(const Tensor& x, const Shape& requested) {
  const Shape shape = infer_shape("reshape", requested, x.numel());
  if (view_strides(x.shape(), x.strides(), shape)) return view(x, shape);
  return view(contiguous(x), shape);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t start = wrap_dim("flatten", start_dim, x.dim()), end = wrap_dim("flatten", end_dim, x.dim());
  VIREO_CHECK(start <= end, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + start);
  int64_t merged = 1;
  for (int64_t d = start; d <= end; ++d) merged *= x.shape()[d];
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + end + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& order) {
  VIREO_CHECK(static_cast<int64_t>(order.size()) == x.dim(), "permute: order has ", order.size(),
              " entries for a tensor of shape ", x.shape());
  std::vector<int64_t> wrapped(order.size()), inverse(order.size());
  std::vector<bool> used(order.size(), false);
  Shape shape(order.size()), strides(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    wrapped[i] = wrap_dim("permute", order[i], x.dim());
    VIREO_CHECK(!used[wrapped[i]], "permute: dimension ", order[i], " is repeated");
    used[wrapped[i]] = true;
    inverse[wrapped[i]] = static_cast<int64_t>(i);
    shape[i] = x.shape()[wrapped[i]];
    strides[i] = x.strides()[wrapped[i]];
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  return record("permute", out, {x}, [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  std::vector<int64_t> order(x.dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim("transpose", dim0, x.dim())], order[wrap_dim("transpose", dim1, x.dim())]);
  return permute(x, order);
}

Tensor expand(const Tensor& x, const Shape& requested) {
  VIREO_CHECK(static_cast<int64_t>(requested.size()) >= x.dim(), "expand: cannot expand ", x.shape(), " to fewer dimensions ",
              requested);
  const size_t lead = requested.size() - x.shape().size();
  Shape shape(requested.size()), strides(requested.size());
  for (size_t i = 0; i < requested.size(); ++i) {
    if (i < lead) {
      VIREO_CHECK(requested[i] >= 0, "expand: a new leading dimension cannot be -1 in ", requested);
      shape[i] = requested[i];
      strides[i] = 0;
      continue;
    }
    const int64_t extent = x.shape()[i - lead];
    const int64_t want = requested[i] == -1 ? extent : requested[i];
    VIREO_CHECK(extent == want || extent == 1, "expand: cannot expand ", x.shape(), " to ", requested, " (dimension ", i,
                ": ", extent, " vs ", want, ")");
    shape[i] = want;
    strides[i] = extent == want ? x.strides()[i - lead] : 0;
  }
  if (shape == x.shape()) return x;
  Tensor out = make_view(x, shape, strides, x.offset());
  return record("expand", out, {x}, [in_shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, in_shape)};
  });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  const int64_t d = wrap_dim("unsqueeze", dim, x.dim() + 1);
  Shape shape = x.shape(), strides = x.strides();
  // Any stride works for an extent-1 dimension; this one keeps a contiguous tensor contiguous.
  const int64_t stride = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  Tensor out = make_view(x, shape, strides, x.offset());
  return record("unsqueeze", out, {x}, [d](const Tensor& g) { return std::vector<Tensor>{squeeze(g, d)}; });
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  if (x.dim() == 0) return x;
  const int64_t d = wrap_dim("squeeze", dim, x.dim());
  if (x.shape()[d] != 1) return x;
  Shape shape = x.shape();
  shape.erase(shape.begin() + d);
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x) {
  Shape shape;
  for (int64_t extent : x.shape())
    if (extent != 1) shape.push_back(extent);
  return reshape(x, shape);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  VIREO_CHECK(x.dim() > 0, "slice: cannot slice a 0-dimensional tensor");
  const int64_t d = wrap_dim("slice", dim, x.dim());
  VIREO_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t extent = x.shape()[d];
  auto clamp_index = [extent](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + extent : i, 0, extent); };
  const int64_t lo = clamp_index(start), hi = std::max(lo, clamp_index(end));
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = (hi - lo + step - 1) / step;
  strides[d] *= step;
  Tensor out = make_view(x, shape, strides, x.offset() + lo * x.strides()[d]);
  return record("slice", out, {x}, [in_shape = x.shape(), d, lo, hi, step](const Tensor& g) {
    Tensor grad = zeros(in_shape, g.options());
    grad.slice(d, lo, hi, step).copy_(g);
    return std::vector<Tensor>{grad};
  });
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  const int64_t d = wrap_dim("select", dim, x.dim());
  const int64_t extent = x.shape()[d];
  VIREO_CHECK(index >= -extent && index < extent, "select: index ", index, " is out of range for dimension ", dim,
              " of extent ", extent);
  const int64_t i = index < 0 ? index + extent : index;
  return squeeze(slice(x, d, i, i + 1), d);
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  VIREO_CHECK(!tensors.empty(), "cat: no tensors given");
  const Tensor& first = tensors[0];
  const int64_t d = wrap_dim("cat", dim, first.dim());
  Shape shape = first.shape();
  shape[d] = 0;
  for (const Tensor& t : tensors) {
    VIREO_CHECK(t.dim() == first.dim() && t.dtype() == first.dtype() && t.device() == first.device(), "cat: ",
                describe(t), " does not match ", describe(first));
    for (int64_t i = 0; i < t.dim(); ++i)
      VIREO_CHECK(i == d || t.shape()[i] == first.shape()[i], "cat: shapes ", first.shape(), " and ", t.shape(),
                  " differ outside dimension ", d);
    shape[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(shape, first.options());
  std::vector<int64_t> sizes;
  {
    NoGrad no_grad;
    int64_t at = 0;
    for (const Tensor& t : tensors) {
      kernels::copy(t.device(), t, out.slice(d, at, at + t.shape()[d]));
      at += t.shape()[d];
      sizes.push_back(t.shape()[d]);
    }
  }
  return record("cat", out, tensors, [sizes, d](const Tensor& g) { return split(g, sizes, d); });
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  VIREO_CHECK(!tensors.empty(), "stack: no tensors given");
  const int64_t d = wrap_dim("stack", dim, tensors[0].dim() + 1);
  std::vector<Tensor> expanded;
  for (const Tensor& t : tensors) {
    VIREO_CHECK(t.shape() == tensors[0].shape(), "stack: shapes ", tensors[0].shape(), " and ", t.shape(), " differ");
    expanded.push_back(unsqueeze(t, d));
  }
  return cat(expanded, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const int64_t d = wrap_dim("split", dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    VIREO_CHECK(s >= 0, "split: negative size");
    total += s;
  }
  VIREO_CHECK(total == x.shape()[d], "split: sizes add up to ", total, " but dimension ", d, " of ", x.shape(), " has ",
              x.shape()[d]);
  std::vector<Tensor> parts;
  int64_t at = 0;
  for (int64_t s : sizes) {
    parts.push_back(slice(x, d, at, at + s));
    at += s;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  VIREO_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  const int64_t d = wrap_dim("split", dim, x.dim());
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < x.shape()[d]; at += split_size) sizes.push_back(std::min(split_size, x.shape()[d] - at));
  return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  VIREO_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  const int64_t extent = x.shape()[wrap_dim("chunk", dim, x.dim())];
  return split(x, std::max<int64_t>(1, (extent + chunks - 1) / chunks), dim);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  VIREO_CHECK(x.dim() >= static_cast<int64_t>(shape.size()), "sum_to: cannot reduce ", x.shape(), " to ", shape);
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) dims.push_back(i);
  if (dims.empty()) return reshape(x, shape);
  return reshape(sum(x, dims, true), shape);
}

}  // namespace vireo
