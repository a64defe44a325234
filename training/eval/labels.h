// Class labels as every evaluation takes them — [N] i64 tensors with values in [0, C) — and the checks
// that refuse anything else with the caller's name, which set is wrong and how.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "engine/tensor.h"

namespace vireo::eval {

// Refuses labels that are not i64 [expected_count]. `op` and `what` ("train", "test") name them in errors.
void check_labels(const char* op, const char* what, const Tensor& labels, int64_t expected_count);

// The number of classes: `given` when > 0 (every label checked to lie in [0, given)), else 1 + the largest
// label of all the sets (every label checked to be >= 0).
int64_t resolve_num_classes(const char* op, int64_t given, std::initializer_list<const Tensor*> label_sets);

}  // namespace vireo::eval
