// Trainer: a recipe run end to end — the loop every task shares.
//
//   for each epoch e, for each batch b (from the loader, seeded: batch (e, b) is the same in every run):
//     loss = task.loss(model, batch);  backward;  optional gradient clipping;  optimizer step (with the
//     task's hooks around it: training/task.h)
//     schedule.advance(batch size)       (the learning rate is a function of samples seen)
//     ema.update(model, ρ)               (when train.ema.enabled)
//     every run.log_every steps:         a line of metrics.jsonl (loss, lr, img_per_s, the task's step metrics)
//     every run.checkpoint_every steps:  RUN_DIR/checkpoint.safetensors (training/checkpoint.h)
//   after evaluated epochs: the evaluators' metrics of the model (and of its EMA, prefixed "ema_")
//   at the end: a final evaluation when the last epoch had none (the final one adds the task's end-of-run
//   metrics, e.g. a linear probe), and a final checkpoint; before the first step of a fresh run, the
//   task's initial metrics (e.g. the random-initialization floor) at step 0
//
// Determinism: the same recipe, seed and thread count give a bit-identical loss curve — the loader's
// batches are a pure function of (seed, epoch, batch), every kernel reduces in a fixed order for a given
// thread count, and the only other randomness (initialization, dropout) comes from the default generator,
// seeded from run.seed. A run resumed from a checkpoint restores all of it (weights, optimizer and
// schedule state, generator, loader position, the loss averaged since the last log line) and so continues
// the uninterrupted run's metrics exactly.
//
// Data parallel (training/dist, `mpirun -np N vireo train …`): every rank builds the same run; each
// batch is the global batch of data.batch_size × ranks examples, of which rank r loads shard r. The model
// (its BatchNorm layers synchronized) is broadcast from rank 0 at the start; each rank's backward is of
// its loss weighted by n_r/N, and the bucketed all-reduce of the gradients then gives every rank the
// global batch's gradient, so their optimizer steps keep the parameters identical (checked by a hash after
// the start, and after every step in a debug build). The logged loss is the global batch's. Rank 0 alone
// writes the run folder: metrics, resolved recipe and checkpoints; every rank evaluates (the same
// numbers). An error on any rank ends every rank of the job.
//
// The run folder (run.dir) receives recipe.resolved.yaml, metrics.jsonl and checkpoint.safetensors. A run
// that does not resume starts its folder afresh: the metrics log is rewritten and an earlier run's
// checkpoint removed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/optim/grad_scaler.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "training/checkpoint.h"
#include "training/dist/communicator.h"
#include "training/dist/gradient_reducer.h"
#include "training/data/loader.h"
#include "training/metrics_log.h"
#include "training/model_ema.h"
#include "training/progress.h"
#include "training/recipe.h"
#include "training/task.h"

namespace vireo::training {

// An evaluation run after evaluated epochs: appends named metrics of `model` (the trained model with
// prefix "", its EMA with "ema_") to `metrics`.
using Evaluator = std::function<void(nn::Module& model, const std::string& prefix, Metrics& metrics)>;

struct TrainerOptions {
  ProgressStyle progress = ProgressStyle::automatic;
};

struct TrainingSummary {
  std::string run_dir;
  int64_t steps = 0;             // the step count reached
  int64_t epochs_completed = 0;
  bool finished = false;         // false when the run stopped at run.stop_after_steps, to be resumed
  Metrics last_evaluation;       // the latest evaluation's metrics (test_top1, …); empty if none ran
  double seconds = 0.0;          // wall time of this process's share of the run
  double training_seconds = 0.0, evaluation_seconds = 0.0;
  std::vector<double> epoch_seconds;  // training time of each epoch completed by this process
};

class Trainer {
 public:
  // Builds the datasets, loader, model, optimizer and schedule (and loads the checkpoint when
  // run.resume); creates the run folder and writes recipe.resolved.yaml. Throws vireo::Error naming the
  // recipe key, file or checkpoint at fault.
  explicit Trainer(Recipe recipe, TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainingSummary run();

  // Appends an evaluation (its metrics are logged after those of the evaluations before it).
  void add_evaluator(Evaluator evaluator);

  const Recipe& recipe() const { return recipe_; }
  nn::Module& model() { return *model_; }
  const TrainingPosition& position() const { return position_; }
  int64_t batches_per_epoch() const;
  std::string checkpoint_path() const;
  std::string metrics_path() const;

 private:
  double train_step(const data::Batch& batch);  // returns the batch's loss
  Metrics evaluate(bool final_evaluation);  // the final one adds the task's end-of-run metrics
  void save(const Metrics& last_evaluation);
  void resume_from_checkpoint();

  void write_log(int64_t step, double epoch, const Metrics& metrics);  // rank 0 only
  bool writes_run_folder() const { return communicator_.rank() == 0; }

  Recipe recipe_;
  TrainerOptions options_;
  dist::Communicator& communicator_;
  int64_t global_batch_size_ = 0;  // data.batch_size × ranks
  std::shared_ptr<const data::Dataset> train_set_;
  std::unique_ptr<data::DataLoader> loader_;
  std::shared_ptr<nn::Module> model_;
  std::unique_ptr<ModelEma> ema_;
  double ema_momentum_ = 0.0;  // train.ema.momentum, ρ^κ with the EMA scaling rule
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LrScheduler> scheduler_;
  // run.autocast: f16 only: the dynamic loss scaler (engine/optim/grad_scaler.h); its scale and growth count
  // go into checkpoints, and log lines carry the scale and the steps it skipped.
  std::unique_ptr<optim::GradScaler> loss_scaler_;
  // With the loss scaler, a step whose loss overflowed in f16 is skipped; this many in a row is divergence.
  static constexpr int64_t kMostNonFiniteLossesInARow = 10;
  int64_t non_finite_losses_in_a_row_ = 0;
  std::unique_ptr<TrainingTask> task_;
  std::unique_ptr<dist::GradientReducer> gradient_reducer_;  // with more than one rank
  std::vector<Evaluator> evaluators_;
  std::unique_ptr<MetricsLog> log_;
  TrainingPosition position_;
  // The finite losses since the last log line (their sum in f64, and how many), so that a line's "loss" is
  // their mean — kept in checkpoints so a resumed run prints the same mean.
  double loss_sum_ = 0.0;
  int64_t loss_count_ = 0;
  Metrics last_evaluation_;
};

// `vireo train`: builds a Trainer from the recipe and runs it. In a job of several ranks an error on one
// rank is printed naming the rank, and ends them all.
TrainingSummary train(const Recipe& recipe, TrainerOptions options = {});

}  // namespace vireo::training
