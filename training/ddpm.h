// DDPM training (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"): the model is a noise
// predictor ε_θ(x_t, t[, label]) — models::UNet — trained with L_simple on the batch images,
//
//   x_0 = 2·x − 1                  (the dataset's pixels x ∈ [0, 1] mapped to [−1, 1], the range the
//                                   samplers clip to; so a DDPM recipe adds no normalize transform)
//   t ~ U{0, …, T−1},  ε ~ N(0, I),  L = ‖ε − ε_θ(√ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, t)‖²   (diffusion/training_loss.h)
//
// with the labels passed to a class-conditional model (model.num_classes > 0). t and ε are drawn from the
// default generator: the trainer seeds it from run.seed and stores its state in every checkpoint, so a
// resumed run draws exactly what the uninterrupted one drew.
//
// Evaluation, deterministic so that runs compare number for number:
//   test_loss              L on the first diffusion.eval_images test images with t and ε drawn from a
//                          generator seeded from run.seed afresh at every evaluation (the same t and ε each
//                          time, so the curve shows the model changing, not the draws)
//   samples_epoch<E>.png   diffusion.grid_samples images drawn by DDIM (η = 0, diffusion.grid_steps steps)
//                          from a fixed x_T, written into the run folder — by the EMA model when the run
//                          keeps one (train.ema.enabled: the weights a DDPM is sampled from), else by the
//                          model. A class-conditional grid has one column per class.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "training/data/dataset.h"
#include "training/data/transforms.h"
#include "training/diffusion/noise_schedule.h"
#include "training/recipe.h"
#include "training/task.h"

namespace vireo::training {

// The recipe's diffusion.schedule with its timesteps (and, linear, its β range).
diffusion::NoiseSchedule make_noise_schedule(const DiffusionRecipe& recipe);

// Dataset pixels [0, 1] -> the diffusion's [−1, 1]: 2·x − 1.
Tensor to_diffusion_range(const Tensor& images);

struct DdpmOptions {
  DiffusionRecipe diffusion;
  int64_t num_classes = 0;        // the dataset's; a class-conditional model must have as many
  int64_t eval_batch_size = 500;
  int64_t eval_workers = 2;
  uint64_t seed = 0;              // run.seed: the evaluation's t, ε and the grid's x_T derive from it
  std::string run_dir;            // where the sample grids are written
  bool grid_from_ema = false;     // train.ema.enabled
};

class DdpmTask final : public TrainingTask {
 public:
  DdpmTask(std::shared_ptr<const data::Dataset> test_set, data::Pipeline test_pipeline, DdpmOptions options);
  // A models::UNet whose class count (when conditional) is the dataset's.
  void check_model(nn::Module& model) const override;
  Tensor loss(nn::Module& model, const data::Batch& batch) override;
  // Names the grid of the coming evaluation by the epoch it follows.
  void begin_evaluation(const TrainingPosition& position) override;
  // "test_loss"; writes the sample grid (see above).
  void evaluate(nn::Module& model, const std::string& prefix, Metrics& metrics) override;

  const diffusion::NoiseSchedule& schedule() const { return schedule_; }

 private:
  void write_sample_grid(nn::Module& model, const Shape& image_shape) const;

  std::shared_ptr<const data::Dataset> test_set_;  // the first eval_images of the test split
  data::Pipeline test_pipeline_;
  DdpmOptions options_;
  diffusion::NoiseSchedule schedule_;
  int64_t epoch_ = 0;  // the epoch the coming evaluation follows
};

}  // namespace vireo::training
