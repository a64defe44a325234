// Sorting along one dimension (stable), and the k largest or smallest entries.
#pragma once

#include "engine/ops/reduction.h"

namespace vireo {

ValuesIndices sort(const Tensor& x, int64_t dim = -1, bool descending = false);
ValuesIndices topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

}  // namespace vireo
