// LARS (You, Gitman & Ginsburg 2017, "Large Batch Training of Convolutional Networks") in the form BYOL
// trains with (Grill et al. 2020, deepmind-research/byol/utils/optimizers.py: add_weight_decay, then
// scale_by_lars, then scale by −lr), which SimCLR's and most PyTorch re-implementations of the BYOL/SimCLR
// recipes follow as well:
//
//   d = g + weight_decay·p
//   d = trust_ratio·d,   trust_ratio = η·‖p‖ / (‖d‖ + eps)  when ‖p‖ > 0 and ‖d‖ > 0, else 1
//   buf = momentum·buf + d
//   p = p − lr·buf
//
// The learning rate multiplies the momentum buffer, not each step's increment (BYOL's convention; SimCLR's
// TensorFlow LARS puts lr inside the buffer instead — the two differ only while lr changes).
//
// Biases and normalization parameters are excluded from both the weight decay and the adaptation, as in
// BYOL: a group with exclude_from_adaptation takes the plain momentum step buf = momentum·buf + g,
// p = p − lr·buf, and must have weight_decay 0 (lars_param_groups builds such groups). State:
// "state.<i>.momentum_buffer" (zeros before the first step).
#pragma once

#include "engine/optim/optimizer.h"

namespace vireo::optim {

struct LARSOptions {
  double lr = 1e-3;             // BYOL: 0.2 · batch_size / 256, with a warm-up + cosine schedule
  double momentum = 0.9;
  double weight_decay = 0.0;    // BYOL: 1.5e-6
  double trust_coefficient = 1e-3;  // η
  double eps = 0.0;
};

class LARS : public Optimizer {
 public:
  LARS(const std::vector<Tensor>& params, LARSOptions options = {});
  LARS(const NamedTensors& named_params, LARSOptions options = {});
  // Each group brings its own lr, weight_decay and exclusion flag; the options give the rest.
  LARS(std::vector<ParamGroup> groups, LARSOptions options = {});

  void step() override;
  const LARSOptions& options() const { return options_; }
  // The trust ratio the last step applied to `param` (1 for excluded parameters; 0 before any step). On a GPU
  // this waits for the step: the ratios stay on the device until one is asked for.
  double last_trust_ratio(const Tensor& param) const;

 protected:
  void check_group(const ParamGroup& group, size_t index) const override;
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;
  std::vector<std::string> state_buffer_names() const override { return {"momentum_buffer"}; }
  bool counts_steps() const override { return false; }

 private:
  LARSOptions options_;
  // Per parameter, a 0-d f64 tensor on its device that each step's kernel overwrites.
  std::unordered_map<std::shared_ptr<TensorImpl>, Tensor> last_trust_ratio_;
};

}  // namespace vireo::optim
