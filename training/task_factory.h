// make_training_task: the TrainingTask a recipe's `task:` names — classification and ddpm built in, the
// others (ssl) from the task registry (training/task_registry.h). Used by the trainer for a run and by
// `vireo eval` to evaluate a checkpoint the way its run evaluated it.
#pragma once

#include <memory>

#include "training/recipe.h"
#include "training/task.h"
#include "training/task_registry.h"

namespace vireo::training {

// The task of `recipe`; an unknown `task` fails naming the recipe and the task.
std::unique_ptr<TrainingTask> make_training_task(const Recipe& recipe, const TaskSetup& setup);

}  // namespace vireo::training
