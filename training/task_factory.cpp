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

}  // namespace vireo::training
