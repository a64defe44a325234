// TrainingTask: what the trainer's loop asks of the kind of training a recipe names (`task:`) — the loss
// of a batch and the metrics of an evaluation. Everything else (data order, optimizer, schedule, EMA,
// checkpoints, logging) is the trainer's and the same for every task.
//
//   classification   cross-entropy on the labels; test top-1 accuracy   training/classification.h
//   ddpm             L_simple noise prediction; test loss, sample grid   training/ddpm.h
//
// A task is built by make_task (training/trainer.cpp) from the recipe.
#pragma once

#include <string>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "training/checkpoint.h"
#include "training/data/loader.h"
#include "training/metrics_log.h"

namespace vireo::training {

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  // Checks, once, that `model` suits the task (a classifier with the dataset's class count, …); the
  // error names the recipe key to change.
  virtual void check_model(nn::Module& model) const = 0;
  // The loss of one training batch: a 0-d tensor with history back to `model`'s parameters.
  virtual Tensor loss(nn::Module& model, const data::Batch& batch) = 0;
  // Called once before each evaluation (of the model and of its EMA) with where training stands; a task
  // that writes files per evaluation names them by it.
  virtual void begin_evaluation(const TrainingPosition& /*position*/) {}
  // Appends the task's metrics of `model` (in eval mode, without gradients) to `metrics`, each name
  // prefixed by `prefix`: "" for the trained model, "ema_" for its moving average.
  virtual void evaluate(nn::Module& model, const std::string& prefix, Metrics& metrics) = 0;
};

}  // namespace vireo::training
