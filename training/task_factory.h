// make_training_task: the TrainingTask a recipe's `task:` names — classification and ddpm built in, the
// others (ssl) from the task registry (training/task_registry.h). Used by the trainer for a run, and through
// build_task_and_model by `vireo eval` and the experiments, to rebuild a checkpoint's model and evaluate it
// the way its run did.
#pragma once

#include <memory>

#include "engine/nn/module.h"
#include "training/recipe.h"
#include "training/task.h"
#include "training/task_registry.h"

namespace vireo::training {

// The task of `recipe`; an unknown `task` fails naming the recipe and the task.
std::unique_ptr<TrainingTask> make_training_task(const Recipe& recipe, const TaskSetup& setup);

// The task of `recipe` and the module a run of it trains (for ssl the method, online and target networks
// included), built outside a trainer: the recipe's training set, an epoch one pass over it — schedules do
// not matter to an evaluation. The module is freshly initialized from the default generator (seed it first
// to draw it as a run does, or load a checkpoint's state into it).
struct TaskAndModel {
  std::unique_ptr<TrainingTask> task;
  std::shared_ptr<nn::Module> model;
};
TaskAndModel build_task_and_model(const Recipe& recipe);

}  // namespace vireo::training
