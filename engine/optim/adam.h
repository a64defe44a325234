// Adam and AdamW: torch.optim.Adam and torch.optim.AdamW — same update, defaults, bias corrections and
// state ("state.<i>.step", ".exp_avg", ".exp_avg_sq", and ".max_exp_avg_sq" with amsgrad).
//
// At a parameter's t-th update (t counted per parameter, as torch does):
//   Adam:  g = g + weight_decay·p            (L2: the decay goes through the moments)
//   AdamW: p = p·(1 − lr·weight_decay)       (decoupled: the decay bypasses them)
//   m = β1·m + (1 − β1)·g                    (computed as torch's lerp)
//   v = β2·v + (1 − β2)·g²
//   amsgrad: v_max = max(v_max, v), used for v below
//   p = p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)
#pragma once

#include <array>

#include "engine/optim/optimizer.h"

namespace vireo::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
};

// AdamW's defaults differ from Adam's in the weight decay only (torch: 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

class Adam : public Optimizer {
 public:
  Adam(const std::vector<Tensor>& params, AdamOptions options = {});
  Adam(const NamedTensors& named_params, AdamOptions options = {});
  // Each group brings its own lr and weight_decay; the options give the rest.
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});

  void step() override;
  const AdamOptions& options() const { return options_; }
  bool decoupled_weight_decay() const { return decoupled_weight_decay_; }

 protected:
  Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay);

  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;
  std::vector<std::string> state_buffer_names() const override;
  bool counts_steps() const override { return true; }

 private:
  AdamOptions options_;
  bool decoupled_weight_decay_;
};

class AdamW : public Adam {
 public:
  AdamW(const std::vector<Tensor>& params, AdamWOptions options = {});
  AdamW(const NamedTensors& named_params, AdamWOptions options = {});
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
};

}  // namespace vireo::optim
