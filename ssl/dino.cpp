// DINO's head, cross-entropy and center: the equations are in dino.h.
#include "ssl/dino.h"

#include <cmath>

#include "engine/error.h"
#include "engine/nn/activation.h"
#include "engine/nn/init.h"
#include "engine/nn/linear.h"
#include "engine/ops.h"
#include "training/dist/collectives.h"

namespace vireo::ssl {

// ---- the weight-normalized last layer ----

WeightNormalizedLinear::WeightNormalizedLinear(int64_t in_features, int64_t out_features, bool train_norm)
    : in_features(in_features), out_features(out_features) {
  VIREO_CHECK(in_features > 0 && out_features > 0, "WeightNormalizedLinear: features must be positive, got ",
              in_features, " -> ", out_features);
  // v starts as nn.Linear's default draw, g at 1 (DINO fills weight_g with 1 after weight_norm).
  nn::Linear initial(in_features, out_features, {.bias = false});
  weight_g = register_parameter("weight_g", ones({out_features, 1}), train_norm);
  weight_v = register_parameter("weight_v", initial.weight.detach().clone());
}

Tensor WeightNormalizedLinear::weight() const {
  return mul(weight_g, div(weight_v, norm(weight_v, 2.0, {1}, true)));
}

Tensor WeightNormalizedLinear::forward(const Tensor& x) { return linear(x, weight()); }

// ---- the head ----

DinoHead::DinoHead(int64_t in_features, DinoHeadOptions options) : options(options) {
  VIREO_CHECK(in_features > 0 && options.hidden_features > 0 && options.bottleneck_features > 0 &&
                  options.out_features > 0,
              "DinoHead: every width must be positive, got ", in_features, " -> ", options.hidden_features, " -> ",
              options.bottleneck_features, " -> ", options.out_features);
  auto first = std::make_shared<nn::Linear>(in_features, options.hidden_features);
  auto second = std::make_shared<nn::Linear>(options.hidden_features, options.hidden_features);
  auto bottleneck = std::make_shared<nn::Linear>(options.hidden_features, options.bottleneck_features);
  // DINO's _init_weights: truncated normal (std 0.02) weights, zero biases, for the MLP only.
  for (const auto& layer : {first, second, bottleneck}) {
    nn::init::trunc_normal_(layer->weight, 0.0, 0.02);
    nn::init::zeros_(layer->bias);
  }
  mlp = register_module("mlp", std::make_shared<nn::Sequential>(first, std::make_shared<nn::GELU>(), second,
                                                                 std::make_shared<nn::GELU>(), bottleneck));
  last_layer = register_module("last_layer", std::make_shared<WeightNormalizedLinear>(
                                                 options.bottleneck_features, options.out_features,
                                                 /*train_norm=*/!options.norm_last_layer));
}

Tensor DinoHead::forward(const Tensor& features) {
  const Tensor h = (*mlp)(features);
  return (*last_layer)(normalize(h, 2.0, 1));  // u = h/‖h‖, then g = W·u
}

void DinoHead::cancel_last_layer_gradients() {
  for (const Tensor& parameter : last_layer->parameters()) parameter.zero_grad();
}

// ---- the loss ----

Tensor dino_cross_entropy(const std::vector<Tensor>& student_outputs, const std::vector<Tensor>& teacher_outputs,
                          const Tensor& center, double student_temperature, double teacher_temperature) {
  VIREO_CHECK(!teacher_outputs.empty(), "dino_cross_entropy: no teacher outputs");
  VIREO_CHECK(student_outputs.size() >= teacher_outputs.size(), "dino_cross_entropy: ", student_outputs.size(),
              " student crops but ", teacher_outputs.size(), " teacher crops; the student sees every global crop");
  VIREO_CHECK(student_temperature > 0 && teacher_temperature > 0, "dino_cross_entropy: temperatures must be "
              "positive, got student ", student_temperature, " teacher ", teacher_temperature);
  const Shape& shape = teacher_outputs[0].shape();
  VIREO_CHECK(shape.size() == 2, "dino_cross_entropy: outputs must be [N, K], got ", shape);
  for (size_t i = 0; i < student_outputs.size(); ++i)
    VIREO_CHECK(student_outputs[i].dim() == 2 && student_outputs[i].size(0) == shape[0] &&
                    student_outputs[i].size(1) == shape[1],
                "dino_cross_entropy: student crop ", i, " has shape ", student_outputs[i].shape(), ", expected [",
                shape[0], ", ", shape[1], "]");
  for (size_t i = 0; i < teacher_outputs.size(); ++i)
    VIREO_CHECK(teacher_outputs[i].shape() == shape, "dino_cross_entropy: teacher crop ", i, " has shape ",
                teacher_outputs[i].shape(), ", expected ", shape);
  VIREO_CHECK(center.numel() == shape[1], "dino_cross_entropy: center has ", center.numel(), " entries for K = ",
              shape[1]);
  const Tensor c = reshape(center.detach(), {1, shape[1]});

  std::vector<Tensor> student_log_probabilities;
  for (const Tensor& g_s : student_outputs) student_log_probabilities.push_back(log_softmax(g_s / student_temperature, 1));

  Tensor total;
  int64_t pairs = 0;
  for (size_t t = 0; t < teacher_outputs.size(); ++t) {
    const Tensor q_t = softmax((teacher_outputs[t].detach() - c) / teacher_temperature, 1);  // no gradient
    for (size_t s = 0; s < student_outputs.size(); ++s) {
      if (s == t) continue;  // the same crop seen by both: skipped
      const Tensor cross_entropy = mean(neg(sum(mul(q_t, student_log_probabilities[s]), {1})));
      total = total.defined() ? add(total, cross_entropy) : cross_entropy;
      ++pairs;
    }
  }
  VIREO_CHECK(pairs > 0, "dino_cross_entropy: no (teacher, student) pair of different crops; give the student "
              "at least 2 crops");
  return total / static_cast<double>(pairs);
}

DinoTeacherStatistics dino_teacher_statistics(const std::vector<Tensor>& teacher_outputs, const Tensor& center,
                                              double teacher_temperature) {
  VIREO_CHECK(!teacher_outputs.empty(), "dino_teacher_statistics: no teacher outputs");
  VIREO_CHECK(teacher_temperature > 0, "dino_teacher_statistics: the teacher temperature must be positive, got ",
              teacher_temperature);
  NoGrad no_grad;
  const Tensor logits = cat(teacher_outputs, 0).detach();  // [rows, K]
  VIREO_CHECK(logits.dim() == 2 && center.numel() == logits.size(1), "dino_teacher_statistics: outputs ",
              logits.shape(), " and center ", center.shape(), " do not match");
  const Tensor centered = (logits - reshape(center.to(logits.dtype()), {1, logits.size(1)})) / teacher_temperature;
  const Tensor log_p = log_softmax(centered, 1);  // exact where p underflows to 0
  const Tensor p = exp(log_p);
  const Tensor row_entropy = neg(sum(mul(p, log_p), {1}));
  const Tensor p_mean = mean(p, {0});
  const Tensor batch_entropy = neg(sum(mul(p_mean, log(p_mean + 1e-30))));
  return {mean(row_entropy).item(), batch_entropy.item()};
}

DinoLoss::DinoLoss(DinoLossOptions options, training::ScalingRule rule) : options(options), rule_(rule) {
  VIREO_CHECK(options.out_features > 0, "DinoLoss: out_features must be positive, got ", options.out_features);
  VIREO_CHECK(options.student_temperature > 0, "DinoLoss: student_temperature must be positive, got ",
              options.student_temperature);
  VIREO_CHECK(options.teacher_temperature > 0 && options.warmup_teacher_temperature > 0,
              "DinoLoss: teacher temperatures must be positive, got ", options.warmup_teacher_temperature, " -> ",
              options.teacher_temperature);
  VIREO_CHECK(options.warmup_teacher_temperature_samples >= 0,
              "DinoLoss: warmup_teacher_temperature_samples must be >= 0, got ",
              options.warmup_teacher_temperature_samples);
  VIREO_CHECK(options.center_momentum >= 0 && options.center_momentum <= 1,
              "DinoLoss: center_momentum must lie in [0, 1], got ", options.center_momentum);
  center = register_buffer("center", zeros({1, options.out_features}));
}

double DinoLoss::teacher_temperature(int64_t samples_seen) const {
  const int64_t warmup = options.warmup_teacher_temperature_samples;
  if (samples_seen >= warmup) return options.teacher_temperature;
  const double progress = static_cast<double>(samples_seen) / static_cast<double>(warmup);
  return options.warmup_teacher_temperature +
         (options.teacher_temperature - options.warmup_teacher_temperature) * progress;
}

Tensor DinoLoss::loss(const std::vector<Tensor>& student_outputs, const std::vector<Tensor>& teacher_outputs,
                      int64_t samples_seen) {
  Tensor value = dino_cross_entropy(student_outputs, teacher_outputs, center.to(teacher_outputs.at(0).dtype()),
                                    options.student_temperature, teacher_temperature(samples_seen));
  update_center(teacher_outputs);
  return value;
}

void DinoLoss::update_center(const std::vector<Tensor>& teacher_outputs) {
  VIREO_CHECK(!teacher_outputs.empty(), "DinoLoss::update_center: no teacher outputs");
  NoGrad no_grad;
  // [1, K]: the mean over the job's whole batch (every rank's teacher outputs) in a data-parallel run.
  Tensor batch_center = training::dist::batch_mean_across_ranks(cat(teacher_outputs, 0));
  VIREO_CHECK(batch_center.shape() == center.shape(), "DinoLoss::update_center: teacher outputs give a center of "
              "shape ", batch_center.shape(), ", the loss holds ", center.shape());
  const double m = center_momentum();
  center.mul_(m);
  center.add_(batch_center.to(center.dtype()), 1.0 - m);
}

}  // namespace vireo::ssl
