// Recipe: everything a training run is made of, as a typed tree read from a YAML file.
//
//   task: classification
//   run:       {dir: runs/quickstart, seed: 0, threads: 2, log_every: 50, checkpoint_every: 500}
//   data:      {dataset: fashion_mnist, batch_size: 128, train_transforms: [{name: random_crop, size: 28,
//               padding: 2}, {name: random_horizontal_flip}]}
//   model:     {name: resnet18, width: 0.25, stem: cifar}
//   optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 5e-4}
//   schedule:  {name: warmup_cosine, warmup_epochs: 1}
//   train:     {epochs: 3, label_smoothing: 0.0, ema: {enabled: true, momentum: 0.999}}
//   eval:      {every_epochs: 1}
//   memory:    {approx_bp: false, ms_norm: false, checkpoint: none}   (models/memory.h)
//
// read_recipe reads every key through ConfigSection (training/config_tree.h), each with its default, so
// that (1) a key nobody reads — a typo — is refused with its file:line and a "did you mean", (2) every
// value is checked where it is read and a bad one is named by key and line, and (3) the resolved recipe,
// defaults filled in, can be written to the run folder. Only the keys that apply are read: `nesterov`
// under `optimizer.name: adamw` is an unknown key, not a silently ignored one.
//
// Durations are given in epochs, the unit a recipe is thought in; the trainer converts them to samples
// seen (engine/optim/schedule.h), the unit schedules run in.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "models/memory.h"
#include "models/registry.h"
#include "training/config_tree.h"
#include "training/data/transforms.h"

namespace vireo::training {

struct TaskOptions;  // training/task_registry.h

struct RunRecipe {
  std::string dir;               // the run folder; default runs/<recipe file name without .yaml>
  uint64_t seed = 0;             // model initialization, shuffling, augmentation, dropout
  int64_t threads = 0;           // OpenMP threads for the math; 0 keeps OpenMP's default (every core)
  int64_t log_every = 50;        // steps between lines of metrics.jsonl
  int64_t checkpoint_every = 0;  // steps between checkpoints; 0: only at the end of the run
  bool resume = false;           // continue from RUN_DIR/checkpoint.safetensors
  // Checkpoint and stop once this many steps are done, as a job whose time slot ends would; the run is
  // continued with resume. 0: run to the end.
  int64_t stop_after_steps = 0;
  // Where the math runs: cpu, or cuda / cuda:N (the model, each batch and the optimizer state on that GPU;
  // the loader and augmentations stay on the CPU). Start-up refuses a GPU that is not usable, saying why.
  Device device = Device::cpu();
  // bf16 | none: the forward pass's products in bf16 on the GPU (engine/autocast.h); cuda only.
  std::optional<DType> autocast;
};

struct SyntheticRecipe {
  int64_t train_size = 1000, test_size = 200;
  int64_t num_classes = 10;
  int64_t channels = 1, height = 28, width = 28;
  double noise = 0.1;
};

struct ImageFolderRecipe {
  int64_t channels = 3;
  std::vector<int64_t> resize;  // [] keeps the stored size; [side] or [height, width]
};

struct DataRecipe {
  std::string dataset = "fashion_mnist";  // fashion_mnist | mnist | cifar10 | cifar100 | image_folder | synthetic
  std::string root;                       // "" : $VIREO_DATA_ROOT, else the dataset's default folder
  int64_t batch_size = 128;
  int64_t workers = 2;                    // loader threads
  bool drop_last = true;                  // every training batch full (BatchNorm needs more than one example)
  int64_t train_subset = 0;               // use only the first N training examples; 0: all
  int64_t test_subset = 0;                // likewise for the test split
  std::vector<data::TransformSpec> train_transforms, test_transforms;
  // Multi-view training (self-supervised methods): one pipeline per view, `views: [{transforms: […]}, …]`
  // (DINO: the 2 global crops first, then the local ones). Empty: one view, train_transforms.
  std::vector<std::vector<data::TransformSpec>> views;
  SyntheticRecipe synthetic;              // read when dataset is synthetic
  ImageFolderRecipe image_folder;         // read when dataset is image_folder (root/train, root/test)
};

// The `memory:` section (models/memory.h): {approx_bp: true, ms_norm: true, checkpoint: blocks}.
struct MemoryRecipe {
  models::MemoryOptions options;
  std::map<std::string, std::string> origins;  // key -> "recipe.yaml:12", for a switch the model cannot take
};

struct ModelRecipe {
  std::string name;
  models::ModelOptions options;                // every key but name, as create_model takes them
  std::map<std::string, std::string> origins;  // key -> "recipe.yaml:12", for errors create_model raises
  std::string name_origin;
  MemoryRecipe memory;  // the memory: section, applied by make_model to every model it builds
};

struct OptimizerRecipe {
  std::string name = "sgd";  // sgd | adam | adamw | lars
  double lr = 0.1;
  // When > 0, `lr` is the rate for this batch size and the run uses lr · batch_size / lr_base_batch_size
  // (the linear scaling rule of Goyal et al. 2017).
  int64_t lr_base_batch_size = 0;
  double weight_decay = 0.0;
  // Biases and normalization weights in a group without weight decay (optim::split_decay_groups);
  // LARS always groups them so.
  bool exclude_bias_and_norm_from_decay = false;
  double momentum = 0.0, dampening = 0.0;  // sgd, lars (momentum)
  bool nesterov = false;                   // sgd
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;                       // adam, adamw, lars
  bool amsgrad = false;                    // adam, adamw
  double trust_coefficient = 1e-3;         // lars
};

struct ScheduleRecipe {
  std::string name = "constant";      // constant | step | warmup_cosine
  std::vector<double> milestones_epochs;  // step
  double gamma = 0.1;                 // step
  double warmup_epochs = 0.0;         // warmup_cosine
  double start_factor = 0.0;          // warmup_cosine: the lr factor at sample 0
  double final_factor = 0.0;          // warmup_cosine: the lr factor at the end
};

struct EmaRecipe {
  bool enabled = false;
  double momentum = 0.999;  // ρ in θ_ema ← ρ·θ_ema + (1 − ρ)·θ
};

struct TrainRecipe {
  int64_t epochs = 1;
  int64_t max_steps = 0;          // end the run (evaluation, checkpoint) after this many steps; 0: no cap
  double label_smoothing = 0.0;
  double grad_clip = 0.0;         // max total gradient norm; 0: no clipping
  EmaRecipe ema;
};

// The evaluation of learned features (tasks that learn features: ssl), training/feature_evaluation.h.
struct KnnRecipe {
  int64_t k = 20;
  double temperature = 0.07;
};

struct LinearProbeRecipe {
  int64_t epochs = 10;        // cheap by default; 100 in the published protocols
  int64_t batch_size = 256;
  double lr = 0.1;            // SGD with momentum 0.9 on standardized features, cosine decay
  double weight_decay = 0.0;
};

struct EvalRecipe {
  int64_t every_epochs = 1;  // evaluate after every N-th epoch (and always after the last); 0: only at the end
  int64_t batch_size = 500;
  // Feature evaluation only: the first N training examples form the kNN memory bank and the probe's
  // training set (0: all of them).
  int64_t train_examples = 0;
  KnnRecipe knn;
  LinearProbeRecipe linear_probe;
};

// The batch-size scaling rules (training/ema_scaling.h). With base_batch_size > 0,
// κ = data.batch_size / base_batch_size: the optimizer's rule scales its hyperparameters (SGD and LARS
// lr × κ; Adam and AdamW lr × √κ, 1 − β → κ·(1 − β), ε/√κ) and every EMA momentum ρ → ρ^κ
// (train.ema.momentum, a method's teacher and center) unless ema_rule is false.
// In a data-parallel job (training/dist) data.batch_size is the batch of each rank, and the rules see the
// global batch: κ = data.batch_size × ranks / base_batch_size.
struct ScalingRecipe {
  int64_t base_batch_size = 0;  // 0: no scaling (κ = 1)
  bool ema_rule = true;
  int64_t ranks = 1;            // derived: the processes of the job (training/dist/communicator.h)
  int64_t global_batch_size = 0;  // derived: data.batch_size × ranks
  double kappa = 1.0;           // derived: global_batch_size / base_batch_size
};

// The diffusion of a `task: ddpm` run (training/ddpm.h), read only for that task.
struct DiffusionRecipe {
  std::string schedule = "linear";  // linear | cosine (diffusion/noise_schedule.h)
  int64_t timesteps = 1000;         // T
  double beta_start = 1e-4, beta_end = 0.02;  // linear: β rises from beta_start to beta_end (Ho et al.)
  int64_t eval_images = 500;        // the first N test images, on which test_loss is measured
  int64_t grid_samples = 16;        // images in RUN_DIR/samples_epoch<E>.png after an evaluation; 0: none
  int64_t grid_steps = 20;          // the DDIM steps (η = 0) that draw them
};

struct Recipe {
  std::string source;  // the recipe file, "<string>" for text
  std::string task = "classification";  // classification | ddpm
  RunRecipe run;
  DataRecipe data;
  ModelRecipe model;
  OptimizerRecipe optimizer;
  ScheduleRecipe schedule;
  TrainRecipe train;
  EvalRecipe eval;
  DiffusionRecipe diffusion;  // task: ddpm
  ScalingRecipe scaling;
  // What a registered task (training/task_registry.h) read from its own section; null for classification.
  std::shared_ptr<const TaskOptions> task_options;
  // The recipe as run: every key with its value or default, as YAML. Written to RUN_DIR/recipe.resolved.yaml
  // and into every checkpoint.
  std::string resolved_yaml;
};

// Reads and checks a whole recipe; throws vireo::Error naming file:line and key for the first fault.
// `default_run_name` names the run folder when run.dir is absent (runs/<default_run_name>).
Recipe read_recipe(const ConfigTree& tree, const std::string& default_run_name = "run");

// Loads the YAML file `path`, applies the command-line `overrides` ("optimizer.lr=0.1"), and reads it.
Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});
// The same from text (tests, and the recipe stored in a checkpoint).
Recipe parse_recipe(const std::string& text, const std::string& source, const std::vector<std::string>& overrides = {});

// The dataset names data.dataset accepts.
const std::vector<std::string>& dataset_names();

}  // namespace vireo::training
