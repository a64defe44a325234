// Confusion matrix and per-class accuracy (training/eval/confusion.h).
#include "training/eval/confusion.h"

#include <cmath>
#include <limits>
#include <string>

#include "training/eval/labels.h"

namespace vireo::eval {

Tensor confusion_matrix(const Tensor& predictions, const Tensor& labels, int64_t num_classes) {
  VIREO_CHECK(labels.defined() && labels.dim() == 1, "confusion_matrix: labels must be i64 [N], got ",
              labels.defined() ? describe(labels) : std::string("an undefined tensor"));
  check_labels("confusion_matrix", "true", labels, labels.size(0));
  check_labels("confusion_matrix", "predicted", predictions, labels.size(0));
  const int64_t classes = resolve_num_classes("confusion_matrix", num_classes, {&labels, &predictions});
  const std::vector<double> truth = labels.to_vector(), predicted = predictions.to_vector();
  std::vector<double> counts(static_cast<size_t>(classes * classes), 0.0);
  for (size_t n = 0; n < truth.size(); ++n)
    counts[static_cast<size_t>(static_cast<int64_t>(truth[n]) * classes + static_cast<int64_t>(predicted[n]))] += 1.0;
  return Tensor::from_vector(counts, {classes, classes}, {.dtype = DType::i64});
}

std::vector<double> per_class_accuracy(const Tensor& confusion) {
  VIREO_CHECK(confusion.defined() && confusion.dim() == 2 && confusion.size(0) == confusion.size(1),
              "per_class_accuracy: expects a square confusion matrix [C, C], got ",
              confusion.defined() ? describe(confusion) : std::string("an undefined tensor"));
  const int64_t classes = confusion.size(0);
  const std::vector<double> counts = confusion.to_vector();
  std::vector<double> accuracy(static_cast<size_t>(classes));
  for (int64_t i = 0; i < classes; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < classes; ++j) row += counts[static_cast<size_t>(i * classes + j)];
    // confusion[i][i] / Σ_j confusion[i][j]
    accuracy[static_cast<size_t>(i)] = row > 0.0 ? counts[static_cast<size_t>(i * classes + i)] / row
                                                 : std::numeric_limits<double>::quiet_NaN();
  }
  return accuracy;
}

}  // namespace vireo::eval
