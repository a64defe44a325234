// evaluate_checkpoint: the recipe out of the checkpoint's metadata, the model out of its tensors, the
// test split through the recipe's test pipeline.
#include "training/checkpoint_evaluation.h"

#include "engine/error.h"
#include "training/checkpoint.h"
#include "training/recipe_builders.h"

namespace vireo::training {

CheckpointEvaluation evaluate_checkpoint(const std::string& path, const std::vector<std::string>& overrides) {
  const Checkpoint checkpoint = load_checkpoint(path);
  CheckpointEvaluation result;
  result.recipe = parse_recipe(checkpoint.recipe_yaml, path + " (stored recipe)", overrides);
  result.step = checkpoint.position.step;
  const Recipe& recipe = result.recipe;
  if (recipe.task != "classification")
    fail(path, ": vireo eval measures test accuracy, which a '", recipe.task, "' checkpoint has none of");

  set_math_threads(recipe.run);
  const auto test_set = make_dataset(recipe.data, data::Split::test);
  const data::Pipeline pipeline = make_pipeline(recipe.data, data::Split::test);
  const auto model = make_model(recipe.model);
  load_module_state(*model, checkpoint.model, "model", path, recipe.model.name);
  result.model = top1_accuracy(*model, test_set, pipeline, recipe.eval.batch_size, recipe.data.workers);
  if (!checkpoint.ema.empty()) {
    load_module_state(*model, checkpoint.ema, "ema", path, recipe.model.name);
    result.has_ema = true;
    result.ema = top1_accuracy(*model, test_set, pipeline, recipe.eval.batch_size, recipe.data.workers);
  }
  return result;
}

}  // namespace vireo::training
