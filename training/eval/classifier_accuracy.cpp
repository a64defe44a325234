// Top-k accuracy and the evaluation of a classifier (training/eval/classifier_accuracy.h).
#include "training/eval/classifier_accuracy.h"

#include <algorithm>
#include <string>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "training/eval/confusion.h"
#include "training/eval/features.h"
#include "training/eval/labels.h"

namespace vireo::eval {

namespace {

void check_logits(const char* op, const Tensor& logits, const Tensor& labels) {
  VIREO_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) >= 1 && logits.size(1) >= 1 &&
                  is_floating(logits.dtype()),
              op, ": logits must be floating [N, C] with N, C >= 1, got ",
              logits.defined() ? describe(logits) : std::string("an undefined tensor"));
  check_labels(op, "the", labels, logits.size(0));
  resolve_num_classes(op, logits.size(1), {&labels});
}

}  // namespace

double top_k_accuracy(const Tensor& logits, const Tensor& labels, int64_t k) {
  check_logits("top_k_accuracy", logits, labels);
  VIREO_CHECK(k >= 1 && k <= logits.size(1), "top_k_accuracy: k = ", k, " must lie in [1, ", logits.size(1),
              "] (the number of classes of ", describe(logits), ")");
  NoGrad no_grad;
  const std::vector<double> best = topk(logits.detach(), k, 1).indices.to_vector();
  const std::vector<double> truth = labels.to_vector();
  int64_t correct = 0;
  for (size_t n = 0; n < truth.size(); ++n) {
    const auto row = best.begin() + static_cast<std::ptrdiff_t>(n * static_cast<size_t>(k));
    correct += std::find(row, row + k, truth[n]) != row + k;
  }
  return static_cast<double>(correct) / static_cast<double>(truth.size());
}

ClassifierEvaluation evaluate_logits(const Tensor& logits, const Tensor& labels) {
  check_logits("evaluate_logits", logits, labels);
  const int64_t classes = logits.size(1);
  ClassifierEvaluation evaluation;
  evaluation.top1 = top_k_accuracy(logits, labels, 1);
  if (classes >= 5) evaluation.top5 = top_k_accuracy(logits, labels, 5);
  NoGrad no_grad;
  evaluation.predictions = topk(logits.detach(), 1, 1).indices.flatten().contiguous();
  evaluation.confusion = confusion_matrix(evaluation.predictions, labels, classes);
  evaluation.per_class_accuracy = per_class_accuracy(evaluation.confusion);
  return evaluation;
}

ClassifierEvaluation evaluate_classifier(nn::Module& model, data::DataLoader& loader) {
  const FeatureSet logits = extract_features(model, loader);  // the model's output: its logits
  return evaluate_logits(logits.features, logits.labels);
}

}  // namespace vireo::eval
