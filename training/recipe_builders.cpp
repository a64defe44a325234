// Building a run's parts from its recipe.
#include "training/recipe_builders.h"

#include <cmath>
#include <numeric>

#include "engine/error.h"
#include "engine/optim/adam.h"
#include "engine/optim/lars.h"
#include "engine/optim/param_groups.h"
#include "engine/optim/sgd.h"
#include "models/registry.h"
#include "training/data/cifar.h"
#include "training/data/idx.h"
#include "training/data/image_folder.h"
#include "training/data/synthetic.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace vireo::training {
namespace {

std::shared_ptr<const data::Dataset> make_full_dataset(const DataRecipe& recipe, data::Split split) {
  const bool train = split == data::Split::train;
  if (recipe.dataset == "fashion_mnist") return data::fashion_mnist(split, recipe.root);
  if (recipe.dataset == "mnist") return data::mnist(split, recipe.root);
  if (recipe.dataset == "cifar10" || recipe.dataset == "cifar100")
    return std::make_shared<data::CifarDataset>(data::CifarOptions{
        .root = recipe.root,
        .split = split,
        .variant = recipe.dataset == "cifar10" ? data::CifarVariant::cifar10 : data::CifarVariant::cifar100});
  if (recipe.dataset == "image_folder") {
    data::ImageFolderOptions options{.root = recipe.root + (train ? "/train" : "/test"),
                                     .channels = recipe.image_folder.channels};
    const auto& resize = recipe.image_folder.resize;
    if (!resize.empty()) options.resize = {resize[0], resize.size() == 2 ? resize[1] : resize[0]};
    return std::make_shared<data::ImageFolder>(options);
  }
  if (recipe.dataset == "synthetic") {
    // The two splits are drawn from the same class templates with different noise: seeds 0 and 1.
    const SyntheticRecipe& s = recipe.synthetic;
    return std::make_shared<data::SyntheticDataset>(data::SyntheticOptions{
        .size = train ? s.train_size : s.test_size,
        .num_classes = s.num_classes,
        .channels = s.channels,
        .height = s.height,
        .width = s.width,
        .noise = s.noise,
        .seed = train ? 0u : 1u});
  }
  fail("data.dataset: unknown dataset '", recipe.dataset, "'");
}

}  // namespace

void set_math_threads(const RunRecipe& run) {
#ifdef _OPENMP
  if (run.threads > 0) omp_set_num_threads(static_cast<int>(run.threads));
#endif
}

std::shared_ptr<const data::Dataset> make_dataset(const DataRecipe& recipe, data::Split split) {
  std::shared_ptr<const data::Dataset> dataset = make_full_dataset(recipe, split);
  const int64_t subset = split == data::Split::train ? recipe.train_subset : recipe.test_subset;
  if (subset > 0 && subset < dataset->size()) {
    std::vector<int64_t> first(static_cast<size_t>(subset));
    std::iota(first.begin(), first.end(), int64_t{0});
    dataset = std::make_shared<data::Subset>(dataset, std::move(first));
  }
  return dataset;
}

data::Pipeline make_pipeline(const DataRecipe& recipe, data::Split split) {
  return data::make_pipeline(split == data::Split::train ? recipe.train_transforms : recipe.test_transforms);
}

std::shared_ptr<nn::Module> make_model(const ModelRecipe& recipe) {
  std::shared_ptr<nn::Module> model;
  try {
    model = models::create_model(recipe.name, recipe.options);
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const auto& [key, origin] : recipe.origins)
      if (message.find("option '" + key + "'") != std::string::npos) fail(origin, ": model.", key, ": ", message);
    fail(recipe.name_origin, ": model: ", message);
  }
  // A switch that finds nothing to change in this model is a mistake in the recipe, not a no-op.
  const models::MemoryOptions& memory = recipe.memory.options;
  const models::MemoryReport changed = models::apply_memory_options(*model, memory);
  auto refuse = [&](const char* key, const char* what) {
    fail(recipe.memory.origins.at(key), ": memory.", key, ": model ", recipe.name, " has ", what);
  };
  if (memory.approx_bp && changed.approx_activations == 0)
    refuse("approx_bp", "no GELU or SiLU activation (a ResNet takes model.activation: silu or gelu)");
  if (memory.ms_norm && changed.memory_sharing_norms == 0) refuse("ms_norm", "no LayerNorm that feeds a Linear");
  if (memory.checkpoint != models::CheckpointGranularity::none && changed.checkpointed_blocks == 0)
    refuse("checkpoint", "no blocks to checkpoint");
  return model;
}

double effective_learning_rate(const OptimizerRecipe& recipe, int64_t batch_size) {
  if (recipe.lr_base_batch_size <= 0) return recipe.lr;
  return recipe.lr * static_cast<double>(batch_size) / static_cast<double>(recipe.lr_base_batch_size);
}

OptimizerHyperparameters optimizer_hyperparameters(const OptimizerRecipe& recipe, int64_t batch_size,
                                                   const ScalingRecipe& scaling) {
  OptimizerHyperparameters base{.lr = effective_learning_rate(recipe, batch_size), .eps = recipe.eps};
  if (recipe.betas.size() == 2) base.betas = {recipe.betas[0], recipe.betas[1]};
  if (scaling.base_batch_size <= 0) return base;
  return scale_optimizer(optimizer_family(recipe.name), base, scaling.kappa);
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerRecipe& recipe, const nn::Module& model,
                                                 int64_t batch_size) {
  return make_optimizer(recipe, model.named_parameters(), optimizer_hyperparameters(recipe, batch_size, {}));
}

std::unique_ptr<optim::Optimizer> make_optimizer(const OptimizerRecipe& recipe, const optim::NamedTensors& named,
                                                 const OptimizerHyperparameters& hyperparameters) {
  const double lr = hyperparameters.lr;
  std::vector<optim::ParamGroup> groups;
  if (recipe.name == "lars") groups = optim::lars_param_groups(named, lr, recipe.weight_decay);
  else if (recipe.exclude_bias_and_norm_from_decay) groups = optim::split_decay_groups(named, lr, recipe.weight_decay);
  else groups = {optim::make_param_group(named, lr, recipe.weight_decay)};

  if (recipe.name == "sgd")
    return std::make_unique<optim::SGD>(std::move(groups), optim::SGDOptions{.lr = lr,
                                                                             .momentum = recipe.momentum,
                                                                             .dampening = recipe.dampening,
                                                                             .nesterov = recipe.nesterov,
                                                                             .weight_decay = recipe.weight_decay});
  if (recipe.name == "adam")
    return std::make_unique<optim::Adam>(std::move(groups), optim::AdamOptions{.lr = lr,
                                                                               .betas = hyperparameters.betas,
                                                                               .eps = hyperparameters.eps,
                                                                               .weight_decay = recipe.weight_decay,
                                                                               .amsgrad = recipe.amsgrad});
  if (recipe.name == "adamw")
    return std::make_unique<optim::AdamW>(std::move(groups), optim::AdamWOptions{.lr = lr,
                                                                                 .betas = hyperparameters.betas,
                                                                                 .eps = hyperparameters.eps,
                                                                                 .weight_decay = recipe.weight_decay,
                                                                                 .amsgrad = recipe.amsgrad});
  if (recipe.name == "lars")
    return std::make_unique<optim::LARS>(std::move(groups), optim::LARSOptions{.lr = lr,
                                                                               .momentum = recipe.momentum,
                                                                               .weight_decay = recipe.weight_decay,
                                                                               .trust_coefficient = recipe.trust_coefficient,
                                                                               .eps = recipe.eps});
  fail("optimizer.name: unknown optimizer '", recipe.name, "'");
}

std::shared_ptr<const optim::Schedule> make_schedule(const ScheduleRecipe& recipe, int64_t samples_per_epoch,
                                                     int64_t epochs) {
  const auto samples = [&](double epoch_count) {
    return static_cast<int64_t>(std::llround(epoch_count * static_cast<double>(samples_per_epoch)));
  };
  if (recipe.name == "constant") return std::make_shared<optim::ConstantSchedule>();
  if (recipe.name == "step") {
    std::vector<int64_t> milestones;
    for (double epoch : recipe.milestones_epochs) milestones.push_back(samples(epoch));
    return std::make_shared<optim::StepSchedule>(milestones, recipe.gamma);
  }
  return std::make_shared<optim::WarmupCosineSchedule>(optim::WarmupCosineOptions{
      .warmup_samples = samples(recipe.warmup_epochs),
      .total_samples = samples(static_cast<double>(epochs)),
      .start_factor = recipe.start_factor,
      .final_factor = recipe.final_factor});
}

}  // namespace vireo::training
