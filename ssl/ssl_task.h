// The `ssl` training task: a self-supervised Method (method.h) trained by the ordinary Trainer from a
// recipe. vireo_training knows nothing of ssl/ (the layering of ARCHITECTURE.md); register_tasks() adds
// the task to its registry (training/task_registry.h), and the CLI and tests call it once.
//
//   task: ssl
//   method: {name: byol, hidden_features: 1024, base_momentum: 0.99}     (keys below, per method)
//   data:   {views: [{transforms: [...]}, {transforms: [...]}]}          (DINO: 2 global crops, then local)
//   scaling: {base_batch_size: 256, ema_rule: true}                      (κ = batch / base: lr and ρ → ρ^κ)
//
// method keys (defaults are the published ones, METHODS.md §1):
//   byol, byol_er      hidden_features 4096, projection_features 256, base_momentum 0.99
//   simclr, simclr_er  hidden_features 2048, projection_features 128, temperature 0.1
//   *_er (byol, simclr)  concentration 10 (the vMF κ), entropy_estimator plug_in | average
//   *_er (all three)   entropy_weight 1 (w in reconstruction − w·entropy; 0 keeps the reconstruction alone)
//   dino, dino_er      hidden_features 2048, bottleneck_features 256, out_features 4096, norm_last_layer true,
//                      student_temperature 0.1, teacher_temperature 0.04, warmup_teacher_temperature 0.04,
//                      warmup_teacher_temperature_epochs 0, center_momentum 0.9, base_momentum 0.996,
//                      freeze_last_layer_epochs 1
//   duet               groups 8, hidden_features 2048, projection_features 128, temperature 0.1,
//                      group_weight 10 (λ), transformation rotation | crop_scale | flip,
//                      von_mises_concentration 3 (rotation), gaussian_sigma 0.2 (crop_scale, flip)
//   hssl               fibers rotation | translation, hidden_features 2048, projection_features 128,
//                      temperature 0.1, seed (of the fiber pairs; default run.seed)
//
// DUET's group target comes from what each view's pipeline drew (data::Batch::parameter), packed into the
// [N, 1] tensor per view that Duet reads: rotation → random_rotation's angle (degrees); crop_scale →
// random_resized_crop's width / source_width (so θ = 1 − crop_width/image_size with image_size 1);
// flip → random_horizontal_flip's flipped. A recipe whose views lack that transform is refused.
// H-SSL's fibers must suit the backbone: rotation needs model.name p4_resnet (equivariant: true, or false
// for the non-equivariant ablation); translation any ResNet (resnet18/34/50) or p4_resnet.
// Schedules in epochs are converted to samples (the EMA schedules run over the whole run's samples).
//
// The step: the method's forward on the batch's views at the samples seen, its hooks around the optimizer
// step; logged with the loss: the method's own metrics (BYOL/DINO momentum, ER entropy and
// reconstruction, DINO teacher temperature). Evaluation (training/feature_evaluation.h): knn_top1 at every
// evaluated epoch, linear_top1 at the end, floor_linear_top1 before training — all of the online backbone.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ssl/byol.h"
#include "ssl/dino_method.h"
#include "ssl/duet.h"
#include "ssl/hssl.h"
#include "ssl/method.h"
#include "ssl/simclr.h"
#include "training/feature_evaluation.h"
#include "training/task_registry.h"

namespace vireo::ssl {

// The `method` section of a recipe.
struct MethodRecipe final : training::TaskOptions {
  std::string name;  // byol | byol_er | simclr | simclr_er | dino | dino_er | duet | hssl
  ByolOptions byol;
  SimclrOptions simclr;
  DinoOptions dino;
  DuetOptions duet;
  HsslOptions hssl;
  double warmup_teacher_temperature_epochs = 0.0;  // dino: converted to samples when the task is built
  double freeze_last_layer_epochs = 1.0;           // dino
  std::vector<std::pair<std::string, double>> ema_momenta() const override;
};

// The method names `method.name` accepts.
const std::vector<std::string>& method_names();

// Reads `method` (and checks data.views against the method's view count); errors name key and line.
std::shared_ptr<const MethodRecipe> read_method_recipe(const training::ConfigSection& root,
                                                       const training::Recipe& recipe);

// DUET's [N, 1] transformation parameters of each view of `batch`, read off what its pipelines drew (see
// the top of this file); `options.transformation` picks the transform and key.
std::vector<Tensor> duet_transformation_parameters(const data::Batch& batch, const DuetOptions& options);

class SslTask final : public training::TrainingTask {
 public:
  explicit SslTask(const training::TaskSetup& setup);

  std::shared_ptr<nn::Module> build_model(const std::function<std::shared_ptr<nn::Module>()>& make_model) override;
  void check_model(nn::Module& model) const override;
  optim::NamedTensors trainable_parameters(nn::Module& model) const override;
  void begin_step(int64_t samples_seen) override { samples_seen_ = samples_seen; }
  Tensor loss(nn::Module& model, const data::Batch& batch) override;
  training::Metrics step_metrics() const override { return step_metrics_; }
  void before_optimizer_step(int64_t samples_seen) override;
  void after_optimizer_step(int64_t samples_seen) override;
  // "knn_top1"
  void evaluate(nn::Module& model, const std::string& prefix, training::Metrics& metrics) override;
  // "floor_linear_top1"
  void evaluate_initial(nn::Module& model, training::Metrics& metrics) override;
  // "linear_top1", on the features of the evaluate() just before
  void evaluate_final(nn::Module& model, training::Metrics& metrics) override;

  Method& method() { return *method_; }

 private:
  MethodRecipe recipe_;
  training::ScalingRule scaling_;
  std::string model_name_;
  std::shared_ptr<Method> method_;
  training::FeatureEvaluation evaluation_;
  int64_t samples_seen_ = 0;
  training::Metrics step_metrics_;
};

// Adds the `ssl` task to the trainer's registry. Idempotent; call before reading an ssl recipe.
void register_tasks();

}  // namespace vireo::ssl
