// Feature extraction (model output, Backbone features, a hooked module — each against the direct call in
// eval mode), loader and in-memory sets alike, hooks removed and train/eval modes restored even after an
// error; then top-k accuracy, the confusion matrix and a whole classifier evaluation, by hand.
#include <cmath>
#include <vector>

#include "engine/nn/activation.h"
#include "engine/nn/container.h"
#include "engine/nn/linear.h"
#include "gradcheck.h"
#include "models/resnet.h"
#include "training/data/synthetic.h"
#include "training/eval/classifier_accuracy.h"
#include "training/eval/confusion.h"
#include "training/eval/features.h"

using namespace vireo;
using namespace vireo::eval;
using vireo::testing::check_error;

namespace {

std::shared_ptr<models::ResNet> tiny_resnet() {
  manual_seed(1);
  return models::resnet18({.num_classes = 5, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125});
}

std::shared_ptr<const data::Dataset> tiny_dataset(int64_t size = 30) {
  return std::make_shared<const data::SyntheticDataset>(
      data::SyntheticOptions{.size = size, .num_classes = 5, .channels = 1, .height = 8, .width = 8, .seed = 2});
}

double max_abs_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

}  // namespace

TEST_CASE("features from the output the backbone and a hooked avgpool equal the direct eval-mode calls") {
  auto model = tiny_resnet();
  const data::StackedDataset set = data::stack_dataset(*tiny_dataset(12));
  Tensor logits, pooled;
  {
    NoGrad no_grad;
    model->eval();
    logits = (*model)(set.images);
    pooled = model->forward_features(set.images);
    model->train();
  }
  REQUIRE(model->is_training());
  const FeatureSet output = extract_features(*model, set.images, set.labels, 5);
  const FeatureSet backbone = extract_features(*model, set.images, set.labels, 5, {.source = FeatureSource::backbone});
  const FeatureSet hooked = extract_features(*model, set.images, set.labels, 5,
                                             {.source = FeatureSource::module, .module_path = "avgpool"});
  CHECK(output.features.shape() == Shape{12, 5});
  CHECK(backbone.features.shape() == Shape{12, model->num_features()});
  CHECK(hooked.features.shape() == Shape{12, model->num_features()});  // [B, C, 1, 1] flattened
  CHECK(max_abs_difference(output.features, logits) < 1e-5);
  CHECK(max_abs_difference(backbone.features, pooled) < 1e-5);
  CHECK(max_abs_difference(hooked.features, pooled) < 1e-5);
  CHECK(hooked.labels.to_vector() == set.labels.to_vector());
  // The hook is gone and the model is back in training mode.
  CHECK(model->num_hooks() == 0);
  CHECK(model->is_training());
  CHECK_FALSE(hooked.features.requires_grad());
}

TEST_CASE("a loader pass and a dataset pass and the in-memory set give the same features and labels") {
  auto model = tiny_resnet();
  auto dataset = tiny_dataset(30);
  data::DataLoader loader(dataset, {data::Pipeline()}, {.batch_size = 7, .shuffle = false, .workers = 2});
  const data::StackedDataset set = data::stack_dataset(*dataset);
  const FeatureOptions options{.source = FeatureSource::module, .module_path = "layer4"};
  const FeatureSet from_loader = extract_features(*model, loader, options);
  const FeatureSet from_memory = extract_features(*model, set.images, set.labels, 4, options);
  CHECK(from_loader.size() == 30);
  CHECK(from_loader.features.shape() == from_memory.features.shape());
  CHECK(max_abs_difference(from_loader.features, from_memory.features) < 1e-5);
  CHECK(from_loader.labels.to_vector() == set.labels.to_vector());
  // The loader was read from the start of epoch 0 and is left at the start of epoch 1; a second pass
  // (from wherever the loader stands) gives the same set.
  // Straight from the dataset: the same again.
  const FeatureSet from_dataset = extract_features(*model, dataset, data::Pipeline(), {.batch_size = 8, .workers = 0}, options);
  CHECK(max_abs_difference(from_dataset.features, from_memory.features) < 1e-5);
  CHECK(from_dataset.labels.to_vector() == set.labels.to_vector());
  CHECK(loader.position() == data::LoaderPosition{1, 0});
  loader.next();
  const FeatureSet again = extract_features(*model, loader, options);
  CHECK(again.features.to_vector() == from_loader.features.to_vector());
}

TEST_CASE("mixed train and eval modes are restored module by module") {
  auto model = tiny_resnet();
  model->train();
  model->find("bn1").eval();
  const data::StackedDataset set = data::stack_dataset(*tiny_dataset(4));
  extract_features(*model, set.images, set.labels, 4);
  CHECK(model->is_training());
  CHECK_FALSE(model->find("bn1").is_training());
  CHECK(model->find("layer1.0.bn1").is_training());
}

TEST_CASE("an error inside the forward pass still removes the hook and restores the mode") {
  auto model = tiny_resnet();
  model->train();
  const Tensor wrong = zeros({2, 3, 8, 8});  // three channels into a one-channel stem
  CHECK_THROWS_AS(extract_features(*model, wrong, zeros({2}, {.dtype = DType::i64}), 2,
                                   {.source = FeatureSource::module, .module_path = "avgpool"}),
                  Error);
  CHECK(model->num_hooks() == 0);
  CHECK(model->is_training());
}

TEST_CASE("feature extraction arguments are checked") {
  auto model = tiny_resnet();
  const Tensor images = zeros({2, 1, 8, 8});
  const Tensor labels = zeros({2}, {.dtype = DType::i64});
  auto mlp = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 3));
  check_error([&] { extract_features(*mlp, zeros({2, 4}), labels, 2, {.source = FeatureSource::backbone}); },
              {"extract_features", "models::Backbone", "Sequential"});
  check_error([&] { extract_features(*model, images, labels, 2, {.source = FeatureSource::module}); },
              {"extract_features", "module_path"});
  check_error([&] { extract_features(*model, images, labels, 2, {.module_path = "avgpool"}); },
              {"extract_features", "avgpool", "FeatureSource::module"});
  CHECK_THROWS_AS(extract_features(*model, images, labels, 2, {.source = FeatureSource::module, .module_path = "layer9"}),
                  Error);
  check_error([&] { extract_features(*model, images, zeros({3}, {.dtype = DType::i64}), 2); },
              {"extract_features", "labels must be [2]"});
  check_error([&] { extract_features(*model, images, labels, 0); }, {"extract_features", "batch_size"});
  data::DataLoader loader(tiny_dataset(4), {data::Pipeline()}, {.batch_size = 2, .shuffle = false, .workers = 0});
  check_error([&] { extract_features(*model, loader, {.view = 1}); }, {"extract_features", "view 1", "1 view"});
  // A module that runs twice in one forward pass has no single output to read.
  auto layer = std::make_shared<nn::Linear>(3, 3);
  auto twice = std::make_shared<nn::Sequential>(std::vector<std::shared_ptr<nn::Module>>{layer, layer});
  check_error([&] { extract_features(*twice, zeros({2, 3}), labels, 2, {.source = FeatureSource::module, .module_path = "0"}); },
              {"extract_features", "module '0' ran 2 times"});
  CHECK(twice->num_hooks() == 0);
}

TEST_CASE("top-k accuracy by hand with ties ranked by class index") {
  const Tensor logits = Tensor::from_vector({0.1, 0.7, 0.2,    // argmax 1
                                             0.5, 0.5, 0.0,    // tie: 0 ranks first
                                             0.0, 0.3, 0.9,    // argmax 2
                                             0.4, 0.1, 0.2},   // argmax 0, then 2
                                            {4, 3});
  const Tensor labels = vireo::testing::indices({1, 1, 0, 2}, {4});
  CHECK(top_k_accuracy(logits, labels, 1) == doctest::Approx(0.25));
  CHECK(top_k_accuracy(logits, labels, 2) == doctest::Approx(0.75));  // 1, 1 (second), 2 (second)
  CHECK(top_k_accuracy(logits, labels, 3) == doctest::Approx(1.0));
  check_error([&] { top_k_accuracy(logits, labels, 4); }, {"top_k_accuracy", "k = 4", "[1, 3]"});
  check_error([&] { top_k_accuracy(logits, vireo::testing::indices({1, 1, 0, 3}, {4}), 1); }, {"label 3", "[0, 3)"});
}

TEST_CASE("the confusion matrix and per-class accuracy by hand") {
  const Tensor predictions = vireo::testing::indices({0, 1, 1, 2, 2, 2, 0}, {7});
  const Tensor labels = vireo::testing::indices({0, 1, 2, 2, 2, 1, 0}, {7});
  const Tensor confusion = confusion_matrix(predictions, labels);
  // Rows are the true class: class 0 predicted 0 twice; class 1 once right, once as 2; class 2 once as 1,
  // twice right.
  CHECK(confusion.dtype() == DType::i64);
  CHECK(confusion.to_vector() == std::vector<double>{2, 0, 0, 0, 1, 1, 0, 1, 2});
  const std::vector<double> accuracy = per_class_accuracy(confusion);
  REQUIRE(accuracy.size() == 3);
  CHECK(accuracy[0] == 1.0);
  CHECK(accuracy[1] == 0.5);
  CHECK(accuracy[2] == doctest::Approx(2.0 / 3.0));
  // A class without examples has no accuracy.
  const std::vector<double> four = per_class_accuracy(confusion_matrix(predictions, labels, 4));
  REQUIRE(four.size() == 4);
  CHECK(std::isnan(four[3]));
  check_error([&] { confusion_matrix(predictions, labels, 2); }, {"confusion_matrix", "label 2", "[0, 2)"});
  check_error([&] { confusion_matrix(predictions.narrow(0, 0, 6), labels); }, {"confusion_matrix", "predicted labels"});
  check_error([&] { per_class_accuracy(zeros({2, 3})); }, {"per_class_accuracy", "square"});
}

TEST_CASE("evaluate_classifier over a loader equals the evaluation of the direct logits") {
  auto model = tiny_resnet();
  auto dataset = tiny_dataset(20);
  data::DataLoader loader(dataset, {data::Pipeline()}, {.batch_size = 6, .shuffle = false, .workers = 1});
  const data::StackedDataset set = data::stack_dataset(*dataset);
  Tensor logits;
  {
    NoGrad no_grad;
    model->eval();
    logits = (*model)(set.images);
    model->train();
  }
  const ClassifierEvaluation evaluation = evaluate_classifier(*model, loader);
  // By hand: argmax per row, then the counts.
  const std::vector<double> values = logits.to_vector(), truth = set.labels.to_vector();
  int64_t correct = 0;
  std::vector<double> predictions;
  for (int64_t n = 0; n < 20; ++n) {
    int64_t best = 0;
    for (int64_t c = 1; c < 5; ++c)
      if (values[static_cast<size_t>(n * 5 + c)] > values[static_cast<size_t>(n * 5 + best)]) best = c;
    predictions.push_back(static_cast<double>(best));
    correct += best == static_cast<int64_t>(truth[static_cast<size_t>(n)]);
  }
  CHECK(evaluation.predictions.to_vector() == predictions);
  CHECK(evaluation.top1 == doctest::Approx(static_cast<double>(correct) / 20.0));
  REQUIRE(evaluation.top5.has_value());
  CHECK(*evaluation.top5 == 1.0);  // five classes: the true one is always among the five
  CHECK(evaluation.confusion.shape() == Shape{5, 5});
  double counted = 0.0;
  for (double count : evaluation.confusion.to_vector()) counted += count;
  CHECK(counted == 20.0);
  CHECK(evaluation.per_class_accuracy.size() == 5);
}
