// Linear probe on frozen features (training/eval/linear_probe.h).
#include "training/eval/linear_probe.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "engine/autograd.h"
#include "engine/nn/init.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "training/eval/classifier_accuracy.h"
#include "training/eval/labels.h"

namespace vireo::eval {

namespace {

void check_features(const char* what, const Tensor& features, const Tensor& labels) {
  VIREO_CHECK(features.defined() && features.dim() == 2 && features.size(0) >= 1 && is_floating(features.dtype()),
              "linear_probe: ", what, " features must be floating [N, D] with N >= 1, got ",
              features.defined() ? describe(features) : std::string("an undefined tensor"));
  check_labels("linear_probe", what, labels, features.size(0));
}

void check_options(const LinearProbeOptions& options) {
  VIREO_CHECK(options.epochs >= 1, "linear_probe: epochs must be >= 1, got ", options.epochs);
  VIREO_CHECK(options.batch_size >= 1, "linear_probe: batch_size must be >= 1, got ", options.batch_size);
  VIREO_CHECK(std::isfinite(options.lr) && options.lr > 0.0, "linear_probe: lr must be positive, got ", options.lr);
  VIREO_CHECK(options.momentum >= 0.0 && options.momentum < 1.0, "linear_probe: momentum must lie in [0, 1), got ",
              options.momentum);
  VIREO_CHECK(options.weight_decay >= 0.0, "linear_probe: weight_decay must be >= 0, got ", options.weight_decay);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const LinearProbeOptions& options, nn::Linear& classifier) {
  if (options.optimizer == ProbeOptimizer::adam)
    return std::make_unique<optim::Adam>(classifier.parameters(),
                                         optim::AdamOptions{.lr = options.lr, .weight_decay = options.weight_decay});
  return std::make_unique<optim::SGD>(
      classifier.parameters(),
      optim::SGDOptions{.lr = options.lr, .momentum = options.momentum, .weight_decay = options.weight_decay});
}

}  // namespace

LinearProbeResult linear_probe(const Tensor& train_features, const Tensor& train_labels,
                               const Tensor& test_features, const Tensor& test_labels,
                               const LinearProbeOptions& options) {
  check_features("train", train_features, train_labels);
  check_features("test", test_features, test_labels);
  VIREO_CHECK(train_features.size(1) == test_features.size(1), "linear_probe: train features ",
              describe(train_features), " and test features ", describe(test_features), " differ in width");
  check_options(options);
  const int64_t classes = resolve_num_classes("linear_probe", options.num_classes, {&train_labels, &test_labels});
  const int64_t examples = train_features.size(0), width = train_features.size(1);

  LinearProbeResult result;
  Tensor train_inputs = train_features.detach().to(DType::f32).contiguous();
  Tensor test_inputs = test_features.detach().to(DType::f32).contiguous();
  if (options.standardize) {
    NoGrad no_grad;
    // x̃ = (x − μ) / σ with the training set's per-dimension mean and (population) standard deviation; a
    // constant dimension (σ = 0) is only centred.
    result.feature_mean = mean(train_inputs, {0});
    result.feature_std = clamp(vireo::std(train_inputs, {0}, /*unbiased=*/false), 1e-6, std::nullopt);
    train_inputs = ((train_inputs - result.feature_mean) / result.feature_std).contiguous();
    test_inputs = ((test_inputs - result.feature_mean) / result.feature_std).contiguous();
  }

  Generator generator(options.seed);
  result.classifier = std::make_shared<nn::Linear>(width, classes);
  // W ~ N(0, 0.01²), b = 0
  nn::init::normal_(result.classifier->weight, 0.0, 0.01, &generator);
  nn::init::zeros_(result.classifier->bias);
  std::unique_ptr<optim::Optimizer> optimizer = make_optimizer(options, *result.classifier);
  // lr(s) = lr · (1 + cos(π s/S))/2 over S = epochs · N samples
  optim::LrScheduler scheduler(*optimizer,
                               optim::WarmupCosineSchedule({.total_samples = options.epochs * examples}));

  const Tensor labels = train_labels.detach().contiguous();
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const Tensor order = randperm(examples, {.dtype = DType::i64}, &generator);
    double loss_sum = 0.0;
    for (int64_t start = 0; start < examples; start += options.batch_size) {
      const int64_t count = std::min(options.batch_size, examples - start);
      const Tensor batch = order.narrow(0, start, count);
      const Tensor loss = cross_entropy((*result.classifier)(index_select(train_inputs, 0, batch)),
                                        index_select(labels, 0, batch));
      optimizer->zero_grad();
      loss.backward();
      optimizer->step();
      scheduler.advance(count);
      loss_sum += loss.item() * static_cast<double>(count);
    }
    result.epoch_losses.push_back(loss_sum / static_cast<double>(examples));
  }

  NoGrad no_grad;
  result.train_top1 = top_k_accuracy((*result.classifier)(train_inputs), labels, 1);
  result.test_top1 = top_k_accuracy((*result.classifier)(test_inputs), test_labels, 1);
  return result;
}

}  // namespace vireo::eval
