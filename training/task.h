// TrainingTask: what the trainer's loop asks of the kind of training a recipe names (`task:`) — the loss
// of a batch and the metrics of an evaluation. Everything else (data order, optimizer, schedule, EMA,
// checkpoints, logging) is the trainer's and the same for every task.
//
//   classification   cross-entropy on the labels; test top-1 accuracy   training/classification.h
//   ddpm             L_simple noise prediction; test loss, sample grid   training/ddpm.h
//   ssl              a self-supervised method (BYOL, SimCLR, DINO, …)    ssl/ssl_task.h (registered by
//                    ssl::register_tasks(), training/task_registry.h)
//
// One training step, as the trainer runs it (samples_seen counts the examples before this batch):
//   task.begin_step(samples_seen);  loss = task.loss(model, batch);  loss.backward();
//   task.before_optimizer_step(samples_seen);  optimizer.step();  task.after_optimizer_step(samples_seen);
// The hooks have empty defaults: a supervised task needs none of them, a self-supervised method reads
// its schedules (EMA momentum, temperatures) at samples_seen and updates its teacher after the step.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/tensor.h"
#include "training/checkpoint.h"
#include "training/data/loader.h"
#include "training/metrics_log.h"

namespace vireo::training {

class TrainingTask {
 public:
  virtual ~TrainingTask() = default;
  // The module the run trains, checkpoints and evaluates, built from `make_model` (the recipe's model
  // section; it may be called more than once, e.g. for a method's online and target networks). By
  // default the model itself; a self-supervised task wraps it in its method.
  virtual std::shared_ptr<nn::Module> build_model(const std::function<std::shared_ptr<nn::Module>()>& make_model) {
    return make_model();
  }
  // Checks, once, that `model` suits the task (a classifier with the dataset's class count, …); the
  // error names the recipe key to change.
  virtual void check_model(nn::Module& model) const = 0;
  // The parameters the optimizer updates, with their dotted names (parameter groups go by name): all of
  // the model's by default; a method leaves out its EMA teacher.
  virtual optim::NamedTensors trainable_parameters(nn::Module& model) const { return model.named_parameters(); }
  // Before loss(): the samples seen before this batch.
  virtual void begin_step(int64_t samples_seen) {}
  // The loss of one training batch: a 0-d tensor with history back to `model`'s parameters.
  virtual Tensor loss(nn::Module& model, const data::Batch& batch) = 0;
  // Called once before each evaluation (of the model and of its EMA) with where training stands; a task
  // that writes files per evaluation names them by it.
  virtual void begin_evaluation(const TrainingPosition& /*position*/) {}
  // Named values of the latest loss() besides the loss itself (an EMA momentum, an entropy term…),
  // logged with it in metrics.jsonl.
  virtual Metrics step_metrics() const { return {}; }
  // Between backward and the optimizer step, and after the step.
  virtual void before_optimizer_step(int64_t samples_seen) {}
  virtual void after_optimizer_step(int64_t samples_seen) {}
  // Appends the task's metrics of `model` (in eval mode, without gradients) to `metrics`, each name
  // prefixed by `prefix`: "" for the trained model, "ema_" for its moving average.
  virtual void evaluate(nn::Module& model, const std::string& prefix, Metrics& metrics) = 0;
  // Once, before the first step of a fresh run: metrics of the untrained model (a random-initialization
  // floor), logged at step 0. None by default.
  virtual void evaluate_initial(nn::Module& model, Metrics& metrics) {}
  // After the final evaluate() of the run, on the same model: the costlier end-of-run metrics (a linear
  // probe). None by default.
  virtual void evaluate_final(nn::Module& model, Metrics& metrics) {}
};

}  // namespace vireo::training
