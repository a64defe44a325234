// DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"): self-distillation
// with no labels. A student and an EMA teacher share the architecture backbone → DinoHead; the student is
// trained to match the teacher's sharpened, centered distribution over K prototypes.
//
//   head:     h = MLP(F → 2048 → 2048 → 256, GELU), u = h/‖h‖, g = W·u with W_k = g_k·v_k/‖v_k‖
//             (weight normalization; g_k fixed at 1 — norm_last_layer — and the last layer's gradients
//             dropped during the first epoch)
//   teacher:  q_t = softmax((g_t − c)/τ_t)             τ_t warms linearly 0.04 → 0.04–0.07
//   student:  log p_s = log_softmax(g_s/τ_s)           τ_s = 0.1
//   loss:     L = mean over pairs (t a global view, s any view, s ≠ t) of mean over the batch of
//             −Σ_k q_t,k · log p_s,k
//   center:   c ← m·c + (1 − m)·mean over batch and teacher views of g_t     m = 0.9, after the loss
//             (the batch of every rank in a data-parallel job: training/dist/collectives.h)
//             (with the EMA scaling rule, m → m^κ, as for the teacher's momentum 0.996 → 1)
// Multi-crop: 2 global crops seen by teacher and student, M local crops by the student only; the student
// outputs are ordered globals first, so student view i < 2 is the same crop as teacher view i.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/container.h"
#include "engine/nn/module.h"
#include "training/ema_scaling.h"

namespace vireo::ssl {

// Linear without bias whose rows are weight-normalized: W_k = g_k · v_k / ‖v_k‖ (torch.nn.utils.weight_norm
// with dim 0; parameters weight_g [out, 1] and weight_v [out, in]). With train_norm false, g stays at 1 and
// is not trained: every prototype is a unit vector and the logits are cosines (DINO's norm_last_layer).
class WeightNormalizedLinear : public nn::Module {
 public:
  WeightNormalizedLinear(int64_t in_features, int64_t out_features, bool train_norm = false);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;
  Tensor weight() const;  // g · v/‖v‖, [out, in]

  const int64_t in_features, out_features;
  Tensor weight_g, weight_v;
};

struct DinoHeadOptions {
  int64_t hidden_features = 2048;
  int64_t bottleneck_features = 256;
  int64_t out_features = 4096;  // K prototypes: 4096 at CIFAR scale, 65536 in the paper
  bool norm_last_layer = true;  // g fixed at 1
};

class DinoHead : public nn::Module {
 public:
  DinoHead(int64_t in_features, DinoHeadOptions options = {});
  using nn::Module::forward;
  Tensor forward(const Tensor& features) override;  // [N, F] -> [N, K] logits
  // DINO drops the last layer's gradients during the first epoch (it stabilizes the start of training).
  // Call between backward and the optimizer step while samples_seen < one epoch.
  void cancel_last_layer_gradients();

  const DinoHeadOptions options;
  std::shared_ptr<nn::Sequential> mlp;  // Linear-GELU-Linear-GELU-Linear, DINO's keys mlp.0, mlp.2, mlp.4
  std::shared_ptr<WeightNormalizedLinear> last_layer;
};

// The cross-entropy between teacher and student over the multi-crop pairs, with a given center and given
// temperatures; pure (no state changes), so it can be gradient-checked. student_outputs: one [N, K] per
// crop, globals first; teacher_outputs: one [N, K] per global crop (detached here); center [1, K] or [K].
Tensor dino_cross_entropy(const std::vector<Tensor>& student_outputs, const std::vector<Tensor>& teacher_outputs,
                          const Tensor& center, double student_temperature, double teacher_temperature);

// The two collapse diagnostics of DINO's teacher (Caron et al. 2021, §5.3), in nats, over the rows of every
// global crop: `entropy`, the mean over rows of H(P_t) with P_t = softmax((g_t − c)/τ_t), and
// `batch_entropy`, H of the batch-mean P̄_t. Uniform collapse: both ≈ ln K. Collapse onto one prototype: both
// ≈ 0. A healthy teacher: sharp rows (entropy well below ln K) spread over the prototypes (batch_entropy
// well above entropy).
struct DinoTeacherStatistics {
  double entropy = 0, batch_entropy = 0;
};
DinoTeacherStatistics dino_teacher_statistics(const std::vector<Tensor>& teacher_outputs, const Tensor& center,
                                              double teacher_temperature);

struct DinoLossOptions {
  int64_t out_features = 4096;
  double student_temperature = 0.1;
  double teacher_temperature = 0.04;         // after the warm-up (0.04–0.07; above 0.07 is unstable)
  double warmup_teacher_temperature = 0.04;  // at sample 0
  int64_t warmup_teacher_temperature_samples = 0;
  double center_momentum = 0.9;              // at the base batch size
};

// DINO's loss with its state: the center (a persistent buffer "center", [1, K]) and the schedule of the
// teacher temperature in samples seen.
class DinoLoss : public nn::Module {
 public:
  explicit DinoLoss(DinoLossOptions options = {}, training::ScalingRule rule = {});

  // τ_t(s) = warmup + (final − warmup)·s/S for s < S, then final.
  double teacher_temperature(int64_t samples_seen) const;
  // The center momentum used at this batch size: m^κ (m with the EMA rule off).
  double center_momentum() const { return rule_.momentum(options.center_momentum); }
  void set_rule(training::ScalingRule rule) { rule_ = rule; }

  // The loss for this batch, then the center update.
  Tensor loss(const std::vector<Tensor>& student_outputs, const std::vector<Tensor>& teacher_outputs,
              int64_t samples_seen);
  // c ← m·c + (1 − m)·mean over batch and teacher views of g_t.
  void update_center(const std::vector<Tensor>& teacher_outputs);

  const DinoLossOptions options;
  Tensor center;

 private:
  training::ScalingRule rule_;
};

}  // namespace vireo::ssl
