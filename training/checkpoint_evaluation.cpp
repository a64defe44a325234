// evaluate_checkpoint: the recipe out of the checkpoint's metadata, the model out of its tensors, the
// test split through the recipe's test pipeline (a feature-learning task: its own evaluation).
#include "training/checkpoint_evaluation.h"

#include "engine/error.h"
#include "engine/random.h"
#include "training/checkpoint.h"
#include "training/recipe_builders.h"
#include "training/task_factory.h"

namespace vireo::training {
namespace {

// A feature-learning task's end-of-run evaluation of the checkpoint's model: the task and its model built
// as for training, the method's state loaded (unless `untrained`), then the task's evaluate() and
// evaluate_final() — the kNN monitor and the linear probe.
Metrics evaluate_features(const Recipe& recipe, const Checkpoint& checkpoint, const std::string& path, bool untrained) {
  const TaskAndModel built = build_task_and_model(recipe);
  if (!untrained) load_module_state(*built.model, checkpoint.model, "model", path, recipe.model.name);
  Metrics metrics;
  built.task->evaluate(*built.model, "", metrics);
  built.task->evaluate_final(*built.model, metrics);
  return metrics;
}

}  // namespace

CheckpointEvaluation evaluate_checkpoint(const std::string& path, const std::vector<std::string>& overrides,
                                         const CheckpointEvaluationOptions& options) {
  const Checkpoint checkpoint = load_checkpoint(path);
  CheckpointEvaluation result;
  result.recipe = parse_recipe(checkpoint.recipe_yaml, path + " (stored recipe)", overrides);
  result.step = options.untrained ? 0 : checkpoint.position.step;
  const Recipe& recipe = result.recipe;
  set_math_threads(recipe.run);
  if (options.untrained) manual_seed(recipe.run.seed);  // a fresh initialization, drawn as a run draws it
  if (recipe.task != "classification") {
    const TaskDefinition* registered = find_task(recipe.task);
    if (!registered || !registered->learns_features)
      fail(path, ": vireo eval measures test accuracy or learned features, which a '", recipe.task,
           "' checkpoint has neither of");
    result.features = evaluate_features(recipe, checkpoint, path, options.untrained);
    return result;
  }

  const auto test_set = make_dataset(recipe.data, data::Split::test);
  const data::Pipeline pipeline = make_pipeline(recipe.data, data::Split::test);
  const auto model = make_model(recipe.model);
  if (!options.untrained) load_module_state(*model, checkpoint.model, "model", path, recipe.model.name);
  result.model = top1_accuracy(*model, test_set, pipeline, recipe.eval.batch_size, recipe.data.workers);
  if (!options.untrained && !checkpoint.ema.empty()) {
    load_module_state(*model, checkpoint.ema, "ema", path, recipe.model.name);
    result.has_ema = true;
    result.ema = top1_accuracy(*model, test_set, pipeline, recipe.eval.batch_size, recipe.data.workers);
  }
  return result;
}

}  // namespace vireo::training
