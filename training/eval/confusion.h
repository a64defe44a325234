// The confusion matrix of a classifier and the per-class accuracy read off it.
//
//   confusion[i][j] = #{ n : label_n = i and prediction_n = j }     rows: true class, columns: predicted
//   per_class_accuracy[i] = confusion[i][i] / Σ_j confusion[i][j]    (the recall of class i)
//
// Rows are the truth, as in scikit-learn's confusion_matrix, so a row sums to the class's example count.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace vireo::eval {

// predictions [N] i64 and labels [N] i64, both in [0, num_classes) -> [C, C] i64. num_classes 0: 1 + the
// largest value in either.
Tensor confusion_matrix(const Tensor& predictions, const Tensor& labels, int64_t num_classes = 0);

// confusion [C, C] (any numeric dtype) -> C accuracies in [0, 1]; NaN for a class without examples.
std::vector<double> per_class_accuracy(const Tensor& confusion);

}  // namespace vireo::eval
