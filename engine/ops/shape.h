// Views and layout: ops that change how elements are addressed (reshape, permute, slice, expand …) and
// ops that assemble or take apart tensors (cat, stack, split, chunk, pad). Views share storage; their
// backward maps the gradient back through the same view.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace vireo {

Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);
Tensor reshape(const Tensor& x, const Shape& shape);  // a view when the strides allow, else a copy; one -1
Tensor view(const Tensor& x, const Shape& shape);     // a view or an Error
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& order);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a dimension
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x);  // every extent-1 dimension
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);  // Python rules
Tensor select(const Tensor& x, int64_t dim, int64_t index);

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

enum class PadMode { constant, reflect, replicate };
// `pads` lists (before, after) pairs starting from the LAST dimension, as torch.nn.functional.pad.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::constant, double value = 0.0);

// Sums `x` over the dimensions that broadcasting expanded, back to `shape` (the backward of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace vireo
