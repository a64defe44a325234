// DDPM training: L_simple on the batch, and the deterministic test loss and sample grid of an evaluation.
#include "training/ddpm.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/unet.h"
#include "training/diffusion/ddim_sampler.h"
#include "training/diffusion/image_grid.h"
#include "training/diffusion/noise_predictor.h"
#include "training/diffusion/training_loss.h"
#include "training/data/loader.h"

namespace vireo::training {
namespace {

// The evaluation's generators, apart from the default one so that evaluating never moves training's
// draws: one for test_loss's t and ε, one for the grid's x_T.
constexpr uint64_t kTestLossStream = 0x7e57'1055, kGridStream = 0x6717'd5a5;

// The first `count` examples of `dataset` (all of them when it has fewer).
std::shared_ptr<const data::Dataset> first_examples(std::shared_ptr<const data::Dataset> dataset, int64_t count) {
  if (count >= dataset->size()) return dataset;
  std::vector<int64_t> indices(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = i;
  return std::make_shared<data::Subset>(std::move(dataset), std::move(indices));
}

// Runs `body` with `model` in eval mode and without gradients, then restores its mode.
template <class Body>
void in_eval_mode(nn::Module& model, Body body) {
  const bool was_training = model.is_training();
  model.eval();
  {
    NoGrad no_grad;
    body();
  }
  model.train(was_training);
}

}  // namespace

diffusion::NoiseSchedule make_noise_schedule(const DiffusionRecipe& recipe) {
  if (recipe.schedule == "linear")
    return diffusion::NoiseSchedule::linear(recipe.timesteps, recipe.beta_start, recipe.beta_end);
  return diffusion::NoiseSchedule::named(recipe.schedule, recipe.timesteps);
}

Tensor to_diffusion_range(const Tensor& images) { return images * 2.0 - 1.0; }

DdpmTask::DdpmTask(std::shared_ptr<const data::Dataset> test_set, data::Pipeline test_pipeline, DdpmOptions options)
    : test_set_(first_examples(std::move(test_set), options.diffusion.eval_images)),
      test_pipeline_(std::move(test_pipeline)),
      options_(std::move(options)),
      schedule_(make_noise_schedule(options_.diffusion)) {}

void DdpmTask::check_model(nn::Module& model) const {
  const auto* unet = dynamic_cast<const models::UNet*>(&model);
  if (!unet) fail("model.name: a ", model.type_name(), " is not a noise predictor (task ddpm trains ddpm_unet)");
  const int64_t classes = unet->options.num_classes;
  if (classes > 0 && classes != options_.num_classes)
    fail("model.num_classes: a class-conditional UNet needs the dataset's ", options_.num_classes,
         " classes, got ", classes, " (0: unconditional)");
}

Tensor DdpmTask::loss(nn::Module& model, const data::Batch& batch) {
  const bool conditional = dynamic_cast<const models::UNet&>(model).options.num_classes > 0;
  return diffusion::diffusion_loss(diffusion::noise_predictor(model), schedule_, to_diffusion_range(batch.views[0]),
                                   default_generator(), conditional ? batch.labels : Tensor());
}

void DdpmTask::begin_evaluation(const TrainingPosition& position) {
  // After a whole epoch the loop still stands at its last batch; a run capped mid-epoch counts the
  // partial epoch.
  epoch_ = position.epoch + (position.batch > 0 ? 1 : 0);
}

void DdpmTask::evaluate(nn::Module& model, const std::string& prefix, Metrics& metrics) {
  const bool conditional = dynamic_cast<const models::UNet&>(model).options.num_classes > 0;
  const diffusion::NoisePredictor predictor = diffusion::noise_predictor(model);
  double loss_sum = 0.0;
  int64_t count = 0;
  Shape image_shape;
  in_eval_mode(model, [&] {
    Generator generator(options_.seed ^ kTestLossStream);
    data::DataLoader loader(test_set_, {test_pipeline_},
                            {.batch_size = options_.eval_batch_size, .shuffle = false, .drop_last = false,
                             .workers = options_.eval_workers});
    for (data::Batch& batch : loader.epoch(0)) {
      // The loader builds batches on the host; a GPU model takes them on its device.
      const Device device = model.device();
      const Tensor loss =
          diffusion::diffusion_loss(predictor, schedule_, to_diffusion_range(batch.views[0].to(device)), generator,
                                    conditional ? batch.labels.to(device) : Tensor());
      loss_sum += loss.item() * static_cast<double>(batch.size());
      count += batch.size();
      image_shape = batch.views[0].shape();
    }
  });
  metrics.emplace_back(prefix + "test_loss", loss_sum / static_cast<double>(count));
  if (options_.diffusion.grid_samples > 0 && (prefix == "ema_") == options_.grid_from_ema)
    write_sample_grid(model, image_shape);
}

void DdpmTask::write_sample_grid(nn::Module& model, const Shape& image_shape) const {
  const int64_t count = options_.diffusion.grid_samples;
  const int64_t classes = dynamic_cast<const models::UNet&>(model).options.num_classes;
  Tensor labels;
  if (classes > 0) {
    std::vector<double> cycle(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) cycle[static_cast<size_t>(i)] = static_cast<double>(i % classes);
    labels = Tensor::from_vector(cycle, {count}, {.dtype = DType::i64});
  }
  Tensor samples;
  in_eval_mode(model, [&] {
    Generator generator(options_.seed ^ kGridStream);
    samples = diffusion::ddim_sample(diffusion::noise_predictor(model), schedule_,
                                     {count, image_shape[1], image_shape[2], image_shape[3]}, generator,
                                     {.steps = options_.diffusion.grid_steps,
                                      .eta = 0.0,
                                      .batch_size = options_.eval_batch_size,
                                      .labels = labels,
                                      .device = model.device()});
  });
  diffusion::write_image_grid(options_.run_dir + "/samples_epoch" + std::to_string(epoch_) + ".png", samples,
                              {.columns = classes > 0 ? classes : 0});
}

}  // namespace vireo::training
