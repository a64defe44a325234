// The accuracy of a classifier: top-k accuracy of logits, and a whole evaluation set run through a model
// (top-1, top-5, the confusion matrix and the accuracy of each class) — a trainer's "test_top1".
//
//   top-k accuracy = #{ n : label_n is among the k largest logits of row n } / N
//
// Ties among logits rank the lower class index first (the engine's topk), so the figures are
// deterministic.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "training/data/loader.h"

namespace vireo::eval {

// logits [N, C], labels [N] i64 in [0, C); 1 ≤ k ≤ C. A fraction in [0, 1].
double top_k_accuracy(const Tensor& logits, const Tensor& labels, int64_t k = 1);

struct ClassifierEvaluation {
  double top1 = 0.0;
  std::optional<double> top5;              // with at least 5 classes
  Tensor predictions;                      // [N] i64, the argmax class of each example
  Tensor confusion;                        // [C, C] i64, rows the true class (training/eval/confusion.h)
  std::vector<double> per_class_accuracy;  // C values, NaN for a class without examples
};

// One pass of `model` (its output = logits [B, C]) over epoch 0 of `loader` (see extract_features), in eval
// mode without gradients.
ClassifierEvaluation evaluate_classifier(nn::Module& model, data::DataLoader& loader);

// The same from logits already computed: logits [N, C], labels [N] i64.
ClassifierEvaluation evaluate_logits(const Tensor& logits, const Tensor& labels);

}  // namespace vireo::eval
