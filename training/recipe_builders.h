// The parts of a training run built from its recipe: datasets, augmentation pipelines, the model, the
// optimizer with its parameter groups, and the learning-rate schedule converted from epochs to samples.
// Each refuses a bad value with the recipe key (and line) it came from.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "training/data/dataset.h"
#include "training/data/transforms.h"
#include "training/ema_scaling.h"
#include "training/recipe.h"

namespace vireo::training {

// run.threads: the OpenMP threads the math runs on (0 leaves OpenMP's default, every core).
void set_math_threads(const RunRecipe& run);

// The split of data.dataset (cut to data.train_subset / data.test_subset when set).
std::shared_ptr<const data::Dataset> make_dataset(const DataRecipe& recipe, data::Split split);

// data.train_transforms or data.test_transforms as a pipeline.
data::Pipeline make_pipeline(const DataRecipe& recipe, data::Split split);

// models::create_model with the recipe's options, then the memory: switches (models/memory.h); errors are
// reported at the model or memory key they concern.
std::shared_ptr<nn::Module> make_model(const ModelRecipe& recipe);

// The learning rate the run uses: optimizer.lr, scaled by batch_size / lr_base_batch_size when that is set.
double effective_learning_rate(const OptimizerRecipe& recipe, int64_t batch_size);

// The lr, betas and eps the run uses: with scaling.base_batch_size set, optimizer.lr/betas/eps scaled by
// the optimizer's rule at κ = scaling.kappa (scale_optimizer, training/ema_scaling.h); otherwise
// effective_learning_rate and the recipe's betas and eps.
OptimizerHyperparameters optimizer_hyperparameters(const OptimizerRecipe& recipe, int64_t batch_size,
                                                   const ScalingRecipe& scaling);

// The optimizer over `parameters` (LARS with lars_param_groups; the others with one group, or
// split_decay_groups when exclude_bias_and_norm_from_decay), with the given (scaled) hyperparameters.
std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerRecipe& recipe, const optim::NamedTensors& parameters,
                                                 const OptimizerHyperparameters& hyperparameters);
// The same over all of `model`'s parameters, unscaled but for lr_base_batch_size.
std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerRecipe& recipe, const nn::Module& model,
                                                 int64_t batch_size);

// The schedule with its epochs converted to samples: epoch e starts at sample e · samples_per_epoch.
std::shared_ptr<const optim::Schedule> make_schedule(const ScheduleRecipe& recipe, int64_t samples_per_epoch,
                                                     int64_t epochs);

}  // namespace vireo::training
