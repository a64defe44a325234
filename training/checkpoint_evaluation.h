// What `vireo eval CHECKPOINT` computes: the test accuracy of a checkpoint's model (and of its EMA model
// when it holds one), rebuilt from the recipe stored in the checkpoint — so a checkpoint is evaluated
// without the recipe file it was trained from. Overrides (data.root=…, eval.batch_size=…) apply to that
// stored recipe, e.g. to read the dataset from another folder.
#pragma once

#include <string>
#include <vector>

#include "training/classification.h"
#include "training/recipe.h"

namespace vireo::training {

struct CheckpointEvaluation {
  Recipe recipe;               // the stored recipe with the overrides applied
  int64_t step = 0;            // the step the checkpoint was written at
  AccuracyCount model;         // the trained model's test top-1
  bool has_ema = false;
  AccuracyCount ema;           // the EMA model's, when has_ema
};

CheckpointEvaluation evaluate_checkpoint(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace vireo::training
