// What `vireo eval CHECKPOINT` computes, with the model rebuilt from the recipe stored in the checkpoint —
// so a checkpoint is evaluated without the recipe file it was trained from:
//
//   classification       the test accuracy of the model (and of its EMA model when it holds one)
//   a feature-learning   the run's own feature evaluation of the backbone (training/feature_evaluation.h):
//   task (ssl)           kNN top-1 and the linear probe's top-1, as metrics.jsonl logs them at the end
//
// Overrides apply to that stored recipe: data.root=… to read the dataset from another folder, or
// eval.train_examples=0 eval.linear_probe.epochs=100 to probe an SSL backbone on the whole training set
// more thoroughly than the run's cheap end-of-run probe. Feature-learning tasks must be registered first
// (ssl::register_tasks(), as for training).
#pragma once

#include <string>
#include <vector>

#include "training/classification.h"
#include "training/metrics_log.h"
#include "training/recipe.h"

namespace vireo::training {

struct CheckpointEvaluation {
  Recipe recipe;               // the stored recipe with the overrides applied
  int64_t step = 0;            // the step the checkpoint was written at
  AccuracyCount model;         // the trained model's test top-1
  bool has_ema = false;
  AccuracyCount ema;           // the EMA model's, when has_ema
  Metrics features;            // a feature-learning task's evaluation ("knn_top1", "linear_top1"); then
                               // `model` and `ema` are empty
};

struct CheckpointEvaluationOptions {
  // Evaluate a fresh random initialization of the stored recipe (seeded with run.seed) instead of the
  // checkpoint's weights: the floor a trained model is judged against, here with the same (possibly
  // overridden) evaluation settings. step is then 0 and there is no EMA model.
  bool untrained = false;
};

CheckpointEvaluation evaluate_checkpoint(const std::string& path, const std::vector<std::string>& overrides = {},
                                         const CheckpointEvaluationOptions& options = {});

}  // namespace vireo::training
