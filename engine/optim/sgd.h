// SGD with momentum, dampening, Nesterov momentum and L2 weight decay: torch.optim.SGD, same update, same
// defaults, same state ("state.<i>.momentum_buffer").
//
//   d = g + weight_decay·p                        (g negated first when maximize)
//   buf = d on the first step, else momentum·buf + (1 − dampening)·d
//   d = nesterov ? d + momentum·buf : buf         (momentum ≠ 0 only)
//   p = p − lr·d
#pragma once

#include "engine/optim/optimizer.h"

namespace vireo::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  SGD(const std::vector<Tensor>& params, SGDOptions options = {});
  SGD(const NamedTensors& named_params, SGDOptions options = {});
  // Each group brings its own lr and weight_decay; the options give the rest.
  SGD(std::vector<ParamGroup> groups, SGDOptions options = {});

  void step() override;
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<Hyperparameter> hyperparameters() const override;
  void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) override;
  std::vector<std::string> state_buffer_names() const override;
  bool counts_steps() const override { return false; }

 private:
  SGDOptions options_;
};

}  // namespace vireo::optim
