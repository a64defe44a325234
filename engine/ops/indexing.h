// Indexing with index tensors (i64). Their backward scatters or gathers the gradient back.
#pragma once

#include "engine/tensor.h"

namespace vireo {

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index: 1-D
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // as torch.gather
// out = x with src added at `index` along `dim` (duplicates accumulate), as torch.scatter_add.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::f32);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);  // mask nonzero -> value

}  // namespace vireo
