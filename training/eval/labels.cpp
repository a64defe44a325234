// Checks on class labels (training/eval/labels.h).
#include "training/eval/labels.h"

#include <algorithm>
#include <string>
#include <vector>

namespace vireo::eval {

void check_labels(const char* op, const char* what, const Tensor& labels, int64_t expected_count) {
  VIREO_CHECK(labels.defined() && labels.dtype() == DType::i64 && labels.dim() == 1 &&
                  labels.size(0) == expected_count,
              op, ": ", what, " labels must be i64 [", expected_count, "], got ",
              labels.defined() ? describe(labels) : std::string("an undefined tensor"));
}

int64_t resolve_num_classes(const char* op, int64_t given, std::initializer_list<const Tensor*> label_sets) {
  VIREO_CHECK(given >= 0, op, ": num_classes must be >= 0 (0: from the labels), got ", given);
  int64_t largest = -1;
  for (const Tensor* labels : label_sets) {
    const std::vector<double> values = labels->to_vector();
    for (size_t i = 0; i < values.size(); ++i) {
      const auto label = static_cast<int64_t>(values[i]);
      VIREO_CHECK(label >= 0 && (given == 0 || label < given), op, ": label ", label, " at index ", i,
                  " is outside [0, ", given == 0 ? std::string("num_classes") : std::to_string(given), ")");
      largest = std::max(largest, label);
    }
  }
  return given > 0 ? given : largest + 1;
}

}  // namespace vireo::eval
