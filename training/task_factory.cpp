// make_training_task (task_factory.h).
#include "training/task_factory.h"

#include "engine/error.h"
#include "training/classification.h"
#include "training/ddpm.h"
#include "training/recipe_builders.h"

namespace vireo::training {

std::unique_ptr<TrainingTask> make_training_task(const Recipe& recipe, const TaskSetup& setup) {
  const data::Dataset& train_set = *setup.train_set;
  if (recipe.task == "classification") {
    return std::make_unique<ClassificationTask>(make_dataset(recipe.data, data::Split::test),
                                                make_pipeline(recipe.data, data::Split::test),
                                                ClassificationOptions{.label_smoothing = recipe.train.label_smoothing,
                                                                      .eval_batch_size = recipe.eval.batch_size,
                                                                      .eval_workers = recipe.data.workers,
                                                                      .num_classes = train_set.num_classes()});
  }
  if (recipe.task == "ddpm") {
    return std::make_unique<DdpmTask>(make_dataset(recipe.data, data::Split::test),
                                      make_pipeline(recipe.data, data::Split::test),
                                      DdpmOptions{.diffusion = recipe.diffusion,
                                                  .num_classes = train_set.num_classes(),
                                                  .eval_batch_size = recipe.eval.batch_size,
                                                  .eval_workers = recipe.data.workers,
                                                  .seed = recipe.run.seed,
                                                  .run_dir = recipe.run.dir,
                                                  .grid_from_ema = recipe.train.ema.enabled});
  }
  if (const TaskDefinition* registered = find_task(recipe.task)) return registered->make(setup);
  fail(recipe.source, ": task '", recipe.task, "' has no trainer");
}

TaskAndModel build_task_and_model(const Recipe& recipe) {
  const auto train_set = make_dataset(recipe.data, data::Split::train);
  const int64_t samples_per_epoch = train_set->size();
  TaskAndModel built;
  built.task = make_training_task(
      recipe, TaskSetup{.recipe = recipe,
                        .train_set = train_set,
                        .samples_per_epoch = samples_per_epoch,
                        .total_samples = samples_per_epoch * recipe.train.epochs,
                        .scaling = {.kappa = recipe.scaling.kappa, .ema_rule = recipe.scaling.ema_rule}});
  built.model = built.task->build_model([&recipe] { return make_model(recipe.model); });
  return built;
}

}  // namespace vireo::training
