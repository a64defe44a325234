// DINO as a Method: the equations are in dino.h and dino_method.h.
#include "ssl/dino_method.h"

#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/nn/module.h"
#include "ssl/er_bound.h"

namespace vireo::ssl {
namespace {
// Leaves a module's buffers (BatchNorm's running statistics) as they were when the scope began. The forwards
// inside still normalize with their own batch's statistics, as in any training forward; they only leave no
// trace in the running statistics that evaluation normalizes with.
class BuffersKept {
 public:
  explicit BuffersKept(const nn::Module& module) {
    for (const Tensor& buffer : module.buffers()) saved_.emplace_back(buffer, buffer.clone());
  }
  ~BuffersKept() {
    NoGrad no_grad;
    for (auto& [buffer, value] : saved_) buffer.copy_(value);
  }
  BuffersKept(const BuffersKept&) = delete;
  BuffersKept& operator=(const BuffersKept&) = delete;

 private:
  std::vector<std::pair<Tensor, Tensor>> saved_;
};

DinoLossOptions loss_options(const DinoOptions& options) {
  DinoLossOptions loss = options.loss;
  loss.out_features = options.head.out_features;
  return loss;
}
}  // namespace

Dino::Dino(const BackboneFactory& make_backbone, DinoOptions options, training::ScalingRule rule) : options(options) {
  VIREO_CHECK(options.total_samples > 0, "Dino: total_samples (the teacher momentum schedule's length) must be "
              "positive, got ", options.total_samples);
  VIREO_CHECK(options.freeze_last_layer_samples >= 0, "Dino: freeze_last_layer_samples must be >= 0, got ",
              options.freeze_last_layer_samples);
  auto make_network = [&](std::shared_ptr<DinoHead>* head_out) {
    std::shared_ptr<models::Backbone> backbone = make_backbone();
    VIREO_CHECK(backbone, "Dino: the backbone factory returned null");
    auto head = std::make_shared<DinoHead>(backbone->num_features(), options.head);
    if (head_out) *head_out = head;
    return std::make_shared<ProjectedEncoder>(backbone, head);
  };
  student = register_module("student", make_network(&student_head));
  teacher = register_module("teacher", make_network(nullptr));
  for (Tensor parameter : teacher->parameters()) parameter.requires_grad_(false);  // trained only by the EMA
  loss = register_module("loss", std::make_shared<DinoLoss>(loss_options(options), rule));
  teacher_ema_ = std::make_unique<training::ParameterEma>(
      student, teacher, std::make_shared<training::CosineMomentum>(options.base_momentum, options.total_samples), rule);
  teacher_ema_->reset_to_online();
}

StepOutput Dino::forward(const Views& views, int64_t samples_seen) {
  VIREO_CHECK(views.images.size() >= 2, "Dino: needs the 2 global crops (then any local crops), got ",
              views.images.size(), " views");
  std::vector<Tensor> student_outputs, teacher_outputs;
  for (int global = 0; global < 2; ++global) student_outputs.push_back((*student)(views.images[global]));
  {
    // The local crops are smaller images (12 px against 28 in the recipes): their batch statistics differ
    // from those of the full-size images that the kNN monitor and the linear probe feed the backbone. Let
    // them move the running statistics and the evaluations normalize full images with a blend dominated by
    // the last local crop's — measured on the 4-epoch multi-crop run: probe 72.4% with the blended running
    // statistics, 75.8% with the teacher's (global crops only). So they normalize themselves, and leave the
    // running statistics as the global crops set them. (DINO itself evaluates the teacher, which never sees them.)
    const BuffersKept running_statistics(*student);
    for (size_t local = 2; local < views.images.size(); ++local)
      student_outputs.push_back((*student)(views.images[local]));
  }
  {
    NoGrad no_grad;  // the teacher sees only the 2 global crops and learns only through the EMA
    for (int global = 0; global < 2; ++global) teacher_outputs.push_back((*teacher)(views.images[global]));
  }
  const double teacher_temperature = loss->teacher_temperature(samples_seen);
  // Before the center moves: the collapse diagnostics of the distributions this step's loss uses.
  const DinoTeacherStatistics teacher_statistics =
      dino_teacher_statistics(teacher_outputs, loss->center, teacher_temperature);
  StepOutput out;
  if (options.entropy_reconstruction) {
    const ERLoss er = dino_er_loss(student_outputs, teacher_outputs, loss->center.to(teacher_outputs[0].dtype()),
                                   loss->options.student_temperature, teacher_temperature, options.entropy_weight);
    loss->update_center(teacher_outputs);
    out.loss = er.loss;
    out.metrics = er.metrics();
  } else {
    out.loss = loss->loss(student_outputs, teacher_outputs, samples_seen);
    out.metrics["loss"] = out.loss.item();
  }
  out.metrics["teacher_temperature"] = teacher_temperature;
  out.metrics["teacher_entropy"] = teacher_statistics.entropy;
  out.metrics["teacher_batch_entropy"] = teacher_statistics.batch_entropy;
  out.metrics["momentum"] = teacher_ema_->momentum(samples_seen);  // τ of the teacher update after this step
  return out;
}

std::vector<std::pair<std::string, Tensor>> Dino::trainable_parameters() const {
  std::vector<std::pair<std::string, Tensor>> parameters;
  for (auto& [name, tensor] : student->named_parameters())
    if (tensor.requires_grad()) parameters.emplace_back("student." + name, tensor);  // not the fixed weight_g
  return parameters;
}

void Dino::before_optimizer_step(int64_t samples_seen) {
  if (samples_seen < options.freeze_last_layer_samples) student_head->cancel_last_layer_gradients();
}

void Dino::after_optimizer_step(int64_t samples_seen) { teacher_ema_->update(samples_seen); }

void Dino::set_scaling_rule(training::ScalingRule rule) {
  teacher_ema_->set_rule(rule);
  loss->set_rule(rule);
}

}  // namespace vireo::ssl
