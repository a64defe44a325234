// Trainer: builds a run from its recipe, then the loop — steps, logging, checkpoints, evaluation — with
// the bookkeeping that makes a resumed run continue the uninterrupted one exactly.
#include "training/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"
#include "engine/ops/creation.h"
#include "engine/optim/clip.h"
#include "engine/random.h"
#include "training/dist/collectives.h"
#include "training/dist/device_communicator.h"
#include "training/dist/sync_batch_norm.h"
#include "training/recipe_builders.h"
#include "training/task_factory.h"
#include "training/task_registry.h"

namespace vireo::training {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The evaluations run after evaluated epochs, in the order their metrics are logged: the task's own
// first (test accuracy). Evaluations of the learned features — kNN, linear probe — belong in this list
// too, after the task's.
std::vector<Evaluator> make_evaluators(TrainingTask& task) {
  return {[&task](nn::Module& model, const std::string& prefix, Metrics& metrics) {
    task.evaluate(model, prefix, metrics);
  }};
}

Tensor f64_scalar(double value) { return Tensor::from_vector({value}, {}, {.dtype = DType::f64}); }

Tensor i64_scalar(int64_t value) {
  Tensor tensor = Tensor::empty({}, {.dtype = DType::i64});
  *tensor.data<int64_t>() = value;
  return tensor;
}

std::string metrics_json(const Metrics& metrics) {
  nlohmann::ordered_json object = nlohmann::ordered_json::object();
  for (const auto& [name, value] : metrics) object[name] = value;
  return object.dump();
}

Metrics metrics_from_json(const std::string& text) {
  Metrics metrics;
  const auto object = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return metrics;
  for (const auto& [name, value] : object.items())
    if (value.is_number()) metrics.emplace_back(name, value.get<double>());
  return metrics;
}

std::string percent(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", 100.0 * fraction);
  return text;
}

// "test_top1 87.12%  ema_test_top1 86.50%"
std::string describe(const Metrics& metrics) {
  std::string text;
  for (const auto& [name, value] : metrics) {
    const bool is_accuracy = name.size() >= 4 && name.compare(name.size() - 4, 4, "top1") == 0;
    char number[32];
    std::snprintf(number, sizeof number, "%.4g", value);
    text += (text.empty() ? "" : "  ") + name + " " + (is_accuracy ? percent(value) : std::string(number));
  }
  return text;
}

}  // namespace

Trainer::Trainer(Recipe recipe, TrainerOptions options)
    : recipe_(std::move(recipe)), options_(options), communicator_(dist::world()) {
  const RunRecipe& run = recipe_.run;
  set_math_threads(run);
  manual_seed(run.seed);

  train_set_ = make_dataset(recipe_.data, data::Split::train);
  const int64_t ranks = communicator_.size();
  // Several ranks on GPUs: one GPU each, by local rank on the node (training/dist/device_communicator.h).
  if (ranks > 1 && recipe_.run.device.is_cuda()) {
    const int gpus = static_cast<int>(cuda::cuda_devices().size());
    if (gpus == 0) cuda::require_cuda(recipe_.run.device.index);  // refused, saying why no GPU is usable
    recipe_.run.device = Device::cuda(dist::rank_gpu(gpus));
  }
  global_batch_size_ = recipe_.data.batch_size * ranks;
  const int64_t last_batch = train_set_->size() % global_batch_size_;
  if (ranks > 1 && !recipe_.data.drop_last && last_batch != 0 && last_batch < ranks)
    fail(recipe_.source, ": the last batch of an epoch has ", last_batch, " examples, fewer than the ", ranks,
         " ranks; set data.drop_last: true or change data.batch_size");
  // One pipeline per view: data.views when the recipe lists them (multi-view methods), else train_transforms.
  std::vector<data::Pipeline> views;
  for (const auto& transforms : recipe_.data.views) views.push_back(data::make_pipeline(transforms));
  if (views.empty()) views.push_back(make_pipeline(recipe_.data, data::Split::train));
  loader_ = std::make_unique<data::DataLoader>(
      train_set_, std::move(views),
      data::LoaderOptions{.batch_size = global_batch_size_,
                          .shuffle = true,
                          .drop_last = recipe_.data.drop_last,
                          .workers = recipe_.data.workers,
                          .seed = run.seed,
                          .shard = communicator_.rank(),
                          .shards = ranks});
  if (loader_->batches_per_epoch() == 0)
    fail(recipe_.source, ": data.batch_size ", recipe_.data.batch_size, " is larger than the ", train_set_->size(),
         " training examples (with data.drop_last, an epoch would have no batch)");
  const int64_t samples_per_epoch = recipe_.data.drop_last ? loader_->batches_per_epoch() * global_batch_size_
                                                           : train_set_->size();
  const ScalingRule scaling{.kappa = recipe_.scaling.kappa, .ema_rule = recipe_.scaling.ema_rule};
  task_ = make_training_task(recipe_, TaskSetup{.recipe = recipe_,
                                                .train_set = train_set_,
                                                .samples_per_epoch = samples_per_epoch,
                                                .total_samples = samples_per_epoch * recipe_.train.epochs,
                                                .scaling = scaling});

  model_ = task_->build_model([this] { return make_model(recipe_.model); });
  try {
    task_->check_model(*model_);
  } catch (const Error& error) {
    fail(recipe_.model.name_origin, ": ", error.what());
  }
  // run.device: cuda — the model (and below its EMA) move to the GPU; every batch follows in train_step.
  if (recipe_.run.device.is_cuda()) {
    cuda::require_cuda(recipe_.run.device.index);
    model_->to(recipe_.run.device);
  }
  if (ranks > 1) {
    dist::synchronize_batch_norm(*model_, communicator_);
    dist::broadcast_module(*model_, communicator_);  // identical by construction, not by seeding alone
  }
  if (recipe_.train.ema.enabled) {
    // The copy's own random initialization is overwritten by ModelEma; drawing it must not move the
    // default generator, so that a run with an EMA trains exactly as the same run without one.
    Generator& generator = default_generator();
    const uint64_t seed = generator.seed(), offset = generator.offset();
    std::shared_ptr<nn::Module> average = make_model(recipe_.model);
    generator.manual_seed(seed);
    generator.set_offset(offset);
    average->to(recipe_.run.device);
    ema_ = std::make_unique<ModelEma>(*model_, average);
  }
  optimizer_ = make_optimizer(recipe_.optimizer, task_->trainable_parameters(*model_),
                              optimizer_hyperparameters(recipe_.optimizer, global_batch_size_, recipe_.scaling));
  if (ranks > 1) {
    std::vector<Tensor> trainable;
    for (const auto& [name, parameter] : task_->trainable_parameters(*model_)) trainable.push_back(parameter);
    gradient_reducer_ = std::make_unique<dist::GradientReducer>(std::move(trainable), communicator_);
  }
  ema_momentum_ = scaling.momentum(recipe_.train.ema.momentum);
  if (recipe_.run.autocast == DType::f16) loss_scaler_ = std::make_unique<optim::GradScaler>();
  scheduler_ = std::make_unique<optim::LrScheduler>(
      *optimizer_, make_schedule(recipe_.schedule, samples_per_epoch, recipe_.train.epochs));
  evaluators_ = make_evaluators(*task_);

  // The run folder: created (or reused) before training, so that an unwritable one fails now.
  std::error_code error;
  if (writes_run_folder()) {
    std::filesystem::create_directories(run.dir, error);
    if (error || !std::filesystem::is_directory(run.dir))
      fail(run.dir, ": cannot create the run folder (run.dir): ", error ? error.message() : "not a folder");
    remove_stale_checkpoint_temporaries(checkpoint_path());
  }
  if (run.resume) {
    resume_from_checkpoint();
  } else if (writes_run_folder()) {
    // A fresh run owns its folder: an earlier run's checkpoint would not match the new metrics log.
    std::filesystem::remove(checkpoint_path(), error);
    log_ = std::make_unique<MetricsLog>(MetricsLog::create(metrics_path()));
  }
  dist::check_identical_across_ranks(*model_, communicator_, "the start of training");
  if (!writes_run_folder()) return;
  const std::string resolved_path = run.dir + "/recipe.resolved.yaml";
  std::ofstream resolved(resolved_path, std::ios::binary | std::ios::trunc);
  resolved << recipe_.resolved_yaml;
  resolved.close();
  if (!resolved) fail(resolved_path, ": cannot write the resolved recipe");
}

Trainer::~Trainer() = default;

int64_t Trainer::batches_per_epoch() const { return loader_->batches_per_epoch(); }
std::string Trainer::checkpoint_path() const { return recipe_.run.dir + "/" + kCheckpointFile; }
std::string Trainer::metrics_path() const { return recipe_.run.dir + "/metrics.jsonl"; }

void Trainer::add_evaluator(Evaluator evaluator) { evaluators_.push_back(std::move(evaluator)); }

void Trainer::resume_from_checkpoint() {
  const std::string path = checkpoint_path();
  const Checkpoint checkpoint = load_checkpoint(path);
  load_module_state(*model_, checkpoint.model, "model", path, recipe_.model.name);
  if (ema_) {
    if (checkpoint.ema.empty())
      fail(path, ": the checkpoint holds no EMA model, but the recipe has train.ema.enabled");
    load_module_state(ema_->model(), checkpoint.ema, "ema", path, recipe_.model.name);
  }
  try {
    optimizer_->load_state_dict(checkpoint.optimizer);
  } catch (const Error& error) {
    fail(path, ": the optimizer state does not fit optimizer.name ", recipe_.optimizer.name, ": ", error.what());
  }
  try {
    scheduler_->load_state_dict(checkpoint.scheduler);
  } catch (const Error& error) {
    fail(path, ": the schedule state does not fit: ", error.what());
  }
  TrainingPosition at = checkpoint.position;
  // A checkpoint of a job with another global batch (other ranks × data.batch_size): the position within
  // the epoch is re-expressed in the new batches, when it falls on one of their boundaries.
  if (const auto saved = checkpoint.trainer.find("global_batch_size"); saved != checkpoint.trainer.end()) {
    const int64_t saved_global = static_cast<int64_t>(saved->second.item()), examples = train_set_->size();
    const int64_t saved_per_epoch = recipe_.data.drop_last ? examples / saved_global
                                                           : (examples + saved_global - 1) / saved_global;
    if (saved_global != global_batch_size_ && at.batch == saved_per_epoch) {
      at.batch = loader_->batches_per_epoch();
    } else if (saved_global != global_batch_size_) {
      const int64_t into_epoch = at.batch * saved_global;
      if (into_epoch % global_batch_size_ != 0)
        fail(path, ": the checkpoint stands ", into_epoch, " examples into epoch ", at.epoch + 1,
             ", not a whole number of global batches of ", global_batch_size_, " (data.batch_size ",
             recipe_.data.batch_size, " x ", communicator_.size(), " ranks); resume with a global batch that divides ",
             into_epoch);
      at.batch = into_epoch / global_batch_size_;
    }
  }
  if (at.batch > loader_->batches_per_epoch())
    fail(path, ": the checkpoint stands at batch ", at.batch, " of epoch ", at.epoch, " but an epoch now has ",
         loader_->batches_per_epoch(), " batches (was data.batch_size or the dataset changed?)");
  Generator& generator = default_generator();
  generator.manual_seed(checkpoint.rng_seed);
  generator.set_offset(checkpoint.rng_offset);
  position_ = at;
  const auto sum = checkpoint.trainer.find("loss_sum"), count = checkpoint.trainer.find("loss_count");
  if (sum == checkpoint.trainer.end() || count == checkpoint.trainer.end())
    fail(path, ": not a complete training checkpoint (no trainer.loss_sum or trainer.loss_count)");
  loss_sum_ = sum->second.item();
  loss_count_ = static_cast<int64_t>(count->second.item());
  if (loss_scaler_) {
    // A checkpoint of a run without f16 has no scale: the scaler starts afresh, as in a new run.
    const auto scale = checkpoint.trainer.find("loss_scale"), tracker = checkpoint.trainer.find("loss_scale_growth"),
               skipped = checkpoint.trainer.find("loss_scale_skipped");
    const auto end = checkpoint.trainer.end();
    if (scale != end && tracker != end && skipped != end) {
      try {
        loss_scaler_->load_state({.scale = scale->second.item(),
                                  .growth_tracker = static_cast<int64_t>(tracker->second.item()),
                                  .skipped_steps = static_cast<int64_t>(skipped->second.item())});
      } catch (const Error& error) {
        fail(path, ": trainer.loss_scale*: ", error.what());
      }
    }
  }
  last_evaluation_ = metrics_from_json(checkpoint.last_evaluation_json);
  if (writes_run_folder())
    log_ = std::make_unique<MetricsLog>(MetricsLog::resume(metrics_path(), checkpoint.metrics_bytes));
}

void Trainer::write_log(int64_t step, double epoch, const Metrics& metrics) {
  if (log_) log_->write(step, epoch, metrics);
}

void Trainer::save(const Metrics& last_evaluation) {
  if (!writes_run_folder()) return;
  Checkpoint checkpoint;
  checkpoint.model = model_->state_dict();
  checkpoint.optimizer = optimizer_->state_dict();
  checkpoint.scheduler = scheduler_->state_dict();
  if (ema_) checkpoint.ema = ema_->model().state_dict();
  checkpoint.trainer = {{"loss_sum", f64_scalar(loss_sum_)},
                        {"loss_count", i64_scalar(loss_count_)},
                        {"global_batch_size", i64_scalar(global_batch_size_)}};
  if (loss_scaler_) {
    checkpoint.trainer["loss_scale"] = f64_scalar(loss_scaler_->current_scale());
    checkpoint.trainer["loss_scale_growth"] = i64_scalar(loss_scaler_->state().growth_tracker);
    checkpoint.trainer["loss_scale_skipped"] = i64_scalar(loss_scaler_->state().skipped_steps);
  }
  checkpoint.rng_seed = default_generator().seed();
  checkpoint.rng_offset = default_generator().offset();
  checkpoint.position = position_;
  checkpoint.metrics_bytes = log_->bytes();
  checkpoint.recipe_yaml = recipe_.resolved_yaml;
  checkpoint.last_evaluation_json = metrics_json(last_evaluation);
  save_checkpoint(checkpoint_path(), checkpoint);
}

double Trainer::train_step(const data::Batch& host_batch) {
  const int64_t samples_seen = position_.samples_seen;
  task_->begin_step(samples_seen);
  // On a GPU run the batch the loader built on the host goes to the model's device; a CPU run uses it as is.
  data::Batch device_batch;
  if (!recipe_.run.device.is_cpu()) device_batch = data::to_device(host_batch, recipe_.run.device);
  const data::Batch& batch = recipe_.run.device.is_cpu() ? host_batch : device_batch;
  Tensor loss;
  {
    Autocast autocast(recipe_.run.autocast);
    loss = task_->loss(*model_, batch);
  }
  double value = loss.item();
  // With several ranks, this rank's loss is weighted by its share n_r/N of the global batch: the weighted
  // losses add up to the global batch's loss, and so do their gradients (collectives.h).
  const double share = static_cast<double>(batch.size()) / static_cast<double>(batch.global_size);
  if (gradient_reducer_) {
    value *= share;
    communicator_.all_reduce_sum(&value, 1, DType::f64);
  }
  if (!std::isfinite(value)) {
    // Without f16, an inf or NaN loss is divergence. With f16 it is usually an activation that overflowed
    // f16's range (65504) in the forward pass: the step is skipped like one whose gradients overflowed —
    // no backward, no optimizer step, the data and the schedule move on — unless it keeps happening.
    if (!loss_scaler_)
      fail("training diverged: the loss is ", value, " at step ", position_.step + 1,
           " (try a lower optimizer.lr, or train.grad_clip)");
    if (++non_finite_losses_in_a_row_ > kMostNonFiniteLossesInARow)
      fail("training diverged: the loss is ", value, " at step ", position_.step + 1, " and at the ",
           kMostNonFiniteLossesInARow, " steps before it, with run.autocast: f16 (an f16 overflow in the forward "
           "pass that persists: try run.autocast: bf16, a lower optimizer.lr, or train.grad_clip)");
    loss_scaler_->skip_step();
    scheduler_->advance(batch.global_size);
    return value;
  }
  non_finite_losses_in_a_row_ = 0;
  optimizer_->zero_grad();
  // With f16 the backward starts from loss × S (the loss scaler's S) so that small gradients survive f16.
  const Tensor backward_from = loss_scaler_ ? loss_scaler_->scale(loss) : loss;
  if (gradient_reducer_) {
    backward_from.backward(full({}, share, loss.options()));
    gradient_reducer_->reduce();
  } else {
    backward_from.backward();
  }
  if (loss_scaler_) loss_scaler_->unscale_(*optimizer_);  // clipping and the task's hooks see true gradients
  if (recipe_.train.grad_clip > 0.0) optim::clip_grad_norm_(model_->parameters(), recipe_.train.grad_clip);
  task_->before_optimizer_step(samples_seen);
  // A step whose f16 gradients overflowed is skipped whole — the optimizer, the task's teacher and the EMA
  // stay as they were — while the data and the schedule move on (as torch.cuda.amp does).
  const bool stepped = loss_scaler_ ? loss_scaler_->step(*optimizer_) : (optimizer_->step(), true);
  if (loss_scaler_) loss_scaler_->update();
  if (stepped) task_->after_optimizer_step(samples_seen);
  scheduler_->advance(batch.global_size);
  if (ema_ && stepped) ema_->update(*model_, ema_momentum_);
#ifndef NDEBUG
  if (gradient_reducer_)
    dist::check_identical_across_ranks(*model_, communicator_, "step " + std::to_string(position_.step + 1));
#endif
  return value;
}

Metrics Trainer::evaluate(bool final_evaluation) {
  Metrics metrics;
  task_->begin_evaluation(position_);
  for (const Evaluator& evaluator : evaluators_) evaluator(*model_, "", metrics);
  if (final_evaluation) task_->evaluate_final(*model_, metrics);
  if (ema_)
    for (const Evaluator& evaluator : evaluators_) evaluator(ema_->model(), "ema_", metrics);
  return metrics;
}

TrainingSummary Trainer::run() {
  const auto run_start = Clock::now();
  const RunRecipe& run = recipe_.run;
  const int64_t epochs = recipe_.train.epochs, per_epoch = loader_->batches_per_epoch();
  int64_t total_steps = epochs * per_epoch;
  if (recipe_.train.max_steps > 0) total_steps = std::min(total_steps, recipe_.train.max_steps);

  TrainingSummary summary;
  summary.run_dir = run.dir;
  Progress progress(writes_run_folder() ? options_.progress : ProgressStyle::silent, total_steps, epochs, position_.step, run.log_every);
  if (position_.step > 0 || position_.epoch > 0)
    progress.message("resuming " + checkpoint_path() + " at step " + std::to_string(position_.step) + " (epoch " +
                     std::to_string(position_.epoch + 1) + ", batch " + std::to_string(position_.batch) + ")");

  if (!run.resume) {
    Metrics initial;
    task_->evaluate_initial(*model_, initial);
    if (!initial.empty()) {
      write_log(0, 0.0, initial);
      progress.message("before training: " + describe(initial));
    }
  }
  model_->train();
  auto window_start = Clock::now();
  int64_t window_samples = 0;
  double window_collective_seconds = communicator_.collective_seconds();
  bool stopped = false, capped = false;  // a cap stops before a batch, so never after the last epoch's evaluation
  int64_t evaluated_step = -1;           // the step of the latest evaluation in this process
  while (position_.epoch < epochs && !stopped && !capped) {
    const int64_t epoch = position_.epoch;
    const auto epoch_start = Clock::now();
    // The loader runs on from one epoch into the next by itself; a seek (which drops the batches built
    // ahead) is needed only at the start or after a resume.
    const data::LoaderPosition start{epoch, position_.batch};
    if (loader_->position() != start) loader_->seek(start);
    while (position_.batch < per_epoch) {
      if (recipe_.train.max_steps > 0 && position_.step >= recipe_.train.max_steps) {
        capped = true;
        break;
      }
      const data::Batch batch = loader_->next();
      const double lr = optimizer_->param_groups().front().lr;  // the rate this step uses
      const double loss = train_step(batch);
      position_.batch += 1;
      position_.step += 1;
      position_.samples_seen += batch.global_size;
      if (std::isfinite(loss)) {  // a step skipped for an f16 overflow has no loss to average
        loss_sum_ += loss;
        loss_count_ += 1;
      }
      window_samples += batch.global_size;

      const double epoch_progress =
          static_cast<double>(epoch) + static_cast<double>(position_.batch) / static_cast<double>(per_epoch);
      const double images_per_second = static_cast<double>(window_samples) / std::max(seconds_since(window_start), 1e-9);
      if (position_.step % run.log_every == 0 || position_.batch == per_epoch) {
        // NaN (null in metrics.jsonl) when every step of the window was skipped.
        const double mean_loss = loss_count_ > 0 ? loss_sum_ / static_cast<double>(loss_count_) : std::nan("");
        Metrics line = {{"loss", mean_loss}, {"lr", lr}, {"img_per_s", images_per_second}};
        for (const auto& entry : task_->step_metrics()) line.push_back(entry);  // the latest step's
        if (loss_scaler_) {
          line.emplace_back("loss_scale", loss_scaler_->current_scale());
          line.emplace_back("skipped_steps", static_cast<double>(loss_scaler_->skipped_steps()));
        }
        if (gradient_reducer_) {
          // The share of the window's wall time this rank spent in collectives (sending, and waiting).
          const double collective_seconds = communicator_.collective_seconds();
          line.emplace_back("communication_share", (collective_seconds - window_collective_seconds) /
                                                       std::max(seconds_since(window_start), 1e-9));
          window_collective_seconds = collective_seconds;
        }
        write_log(position_.step, epoch_progress, line);
        loss_sum_ = 0.0;
        loss_count_ = 0;
        window_start = Clock::now();
        window_samples = 0;
      }
      progress.step(position_.step, epoch, loss, images_per_second);
      if (run.checkpoint_every > 0 && position_.step % run.checkpoint_every == 0) save(last_evaluation_);
      if (run.stop_after_steps > 0 && position_.step == run.stop_after_steps) {
        if (run.checkpoint_every == 0 || position_.step % run.checkpoint_every != 0) save(last_evaluation_);
        stopped = true;
        break;
      }
    }
    const double epoch_seconds = seconds_since(epoch_start);
    summary.training_seconds += epoch_seconds;
    if (stopped || capped) break;
    summary.epoch_seconds.push_back(epoch_seconds);

    const bool last = epoch + 1 == epochs;
    const int64_t every = recipe_.eval.every_epochs;
    if (last || (every > 0 && (epoch + 1) % every == 0)) {
      const auto eval_start = Clock::now();
      last_evaluation_ = evaluate(/*final_evaluation=*/last);
      const double eval_seconds = seconds_since(eval_start);
      summary.evaluation_seconds += eval_seconds;
      write_log(position_.step, static_cast<double>(epoch + 1), last_evaluation_);
      char timing[96];
      std::snprintf(timing, sizeof timing, "  (epoch %.1f s, evaluation %.1f s)", epoch_seconds, eval_seconds);
      progress.message("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) + ": " +
                       describe(last_evaluation_) + timing);
      evaluated_step = position_.step;
      window_start = Clock::now();
    } else {
      char line[96];
      std::snprintf(line, sizeof line, "epoch %lld/%lld done in %.1f s", static_cast<long long>(epoch + 1),
                    static_cast<long long>(epochs), epoch_seconds);
      progress.message(line);
    }
    position_.epoch = epoch + 1;
    position_.batch = 0;
  }
  progress.finish();

  if (!stopped) {
    if (capped) {
      const auto eval_start = Clock::now();
      const double epoch_progress =
          static_cast<double>(position_.epoch) + static_cast<double>(position_.batch) / static_cast<double>(per_epoch);
      if (evaluated_step == position_.step) {
        // The cap fell on an evaluated epoch's end: that evaluation is this step's; only the end-of-run
        // metrics (a linear probe) are missing, on the features it just extracted.
        Metrics final_metrics;
        task_->evaluate_final(*model_, final_metrics);
        if (!final_metrics.empty()) write_log(position_.step, epoch_progress, final_metrics);
        last_evaluation_.insert(last_evaluation_.end(), final_metrics.begin(), final_metrics.end());
      } else {
        last_evaluation_ = evaluate(/*final_evaluation=*/true);
        write_log(position_.step, epoch_progress, last_evaluation_);
      }
      summary.evaluation_seconds += seconds_since(eval_start);
      progress.message("stopped at train.max_steps = " + std::to_string(recipe_.train.max_steps) + ": " +
                       describe(last_evaluation_));
    }
    save(last_evaluation_);
  } else {
    progress.message("stopped at run.stop_after_steps = " + std::to_string(run.stop_after_steps) +
                     "; continue with run.resume=true");
  }

  summary.steps = position_.step;
  summary.epochs_completed = position_.epoch;
  summary.finished = !stopped;
  summary.last_evaluation = last_evaluation_;
  summary.seconds = seconds_since(run_start);
  return summary;
}

TrainingSummary train(const Recipe& recipe, TrainerOptions options) {
  dist::Communicator& communicator = dist::world();
  if (communicator.size() == 1) {
    Trainer trainer(recipe, options);
    return trainer.run();
  }
  try {
    Trainer trainer(recipe, options);
    return trainer.run();
  } catch (const std::exception& error) {
    // The other ranks would wait for this one at their next collective: end them all now.
    std::fprintf(stderr, "vireo: rank %d of %d: %s\n", communicator.rank(), communicator.size(), error.what());
    communicator.abort(1);
    throw;  // not reached: abort ends the process
  }
}

}  // namespace vireo::training
