// Feature evaluation of a backbone: kNN monitor and linear probe on frozen features (feature_evaluation.h).
#include "training/feature_evaluation.h"

#include <numeric>
#include <vector>

#include "engine/error.h"
#include "training/eval/knn.h"
#include "training/eval/linear_probe.h"
#include "training/recipe_builders.h"

namespace vireo::training {

FeatureEvaluation::FeatureEvaluation(const Recipe& recipe)
    : train_set_(make_dataset(recipe.data, data::Split::train)),
      test_set_(make_dataset(recipe.data, data::Split::test)),
      pipeline_(make_pipeline(recipe.data, data::Split::test)),
      loader_options_{.batch_size = recipe.eval.batch_size, .workers = recipe.data.workers},
      knn_(recipe.eval.knn),
      probe_(recipe.eval.linear_probe),
      seed_(recipe.run.seed) {
  const int64_t examples = recipe.eval.train_examples;
  if (examples > 0 && examples < train_set_->size()) {
    std::vector<int64_t> first(static_cast<size_t>(examples));
    std::iota(first.begin(), first.end(), int64_t{0});
    train_set_ = std::make_shared<data::Subset>(train_set_, std::move(first));
  }
}

void FeatureEvaluation::extract(models::Backbone& backbone) {
  const eval::FeatureOptions options{.source = eval::FeatureSource::backbone};
  train_features_ = eval::extract_features(backbone, train_set_, pipeline_, loader_options_, options);
  test_features_ = eval::extract_features(backbone, test_set_, pipeline_, loader_options_, options);
}

double FeatureEvaluation::knn_top1(models::Backbone& backbone) {
  extract(backbone);
  const int64_t classes = train_set_->num_classes();
  return eval::knn_classify(train_features_->features, train_features_->labels, test_features_->features,
                            test_features_->labels,
                            {.k = knn_.k, .temperature = knn_.temperature, .num_classes = classes})
      .top1;
}

double FeatureEvaluation::linear_top1() {
  VIREO_CHECK(train_features_ && test_features_, "FeatureEvaluation: linear_top1() before any features were extracted");
  const eval::LinearProbeOptions options{.epochs = probe_.epochs,
                                         .batch_size = probe_.batch_size,
                                         .lr = probe_.lr,
                                         .weight_decay = probe_.weight_decay,
                                         .seed = seed_,
                                         .num_classes = train_set_->num_classes()};
  return eval::linear_probe(train_features_->features, train_features_->labels, test_features_->features,
                            test_features_->labels, options)
      .test_top1;
}

double FeatureEvaluation::linear_top1(models::Backbone& backbone) {
  extract(backbone);
  return linear_top1();
}

}  // namespace vireo::training
