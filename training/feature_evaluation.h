// FeatureEvaluation: what a self-supervised run's backbone is worth, measured on frozen features of the
// unaugmented images (data.test_transforms applied to both splits):
//
//   knn_top1      weighted kNN (training/eval/knn.h, k = 20, T = 0.07): the training set's features are the
//                 memory bank, the test set is classified — the monitor of every evaluated epoch
//   linear_top1   a linear probe (training/eval/linear_probe.h) trained on the training features, its test
//                 top-1 — at the end of the run
//   floor_linear_top1  the same probe on the untrained (randomly initialized) backbone, once before
//                 training: the floor a learned representation must clear
//
// eval.train_examples limits the training examples used (the first N), eval.knn and eval.linear_probe
// hold the settings (recipe.h).
#pragma once

#include <memory>
#include <optional>

#include "models/backbone.h"
#include "training/data/dataset.h"
#include "training/data/transforms.h"
#include "training/eval/features.h"
#include "training/metrics_log.h"
#include "training/recipe.h"

namespace vireo::training {

class FeatureEvaluation {
 public:
  // The evaluation sets of `recipe` (data.train_subset, data.test_subset and eval.train_examples applied).
  explicit FeatureEvaluation(const Recipe& recipe);

  // Extracts the features of both splits with `backbone` (in eval mode, without gradients) and keeps them
  // for linear_probe(); returns the kNN test top-1.
  double knn_top1(models::Backbone& backbone);
  // The linear probe's test top-1 on the features of the latest knn_top1() call.
  double linear_top1();
  // Extracts the features and probes them (for the floor: no kNN needed).
  double linear_top1(models::Backbone& backbone);

 private:
  void extract(models::Backbone& backbone);

  std::shared_ptr<const data::Dataset> train_set_, test_set_;
  data::Pipeline pipeline_;
  data::LoaderOptions loader_options_;
  KnnRecipe knn_;
  LinearProbeRecipe probe_;
  uint64_t seed_ = 0;
  std::optional<eval::FeatureSet> train_features_, test_features_;
};

}  // namespace vireo::training
