// Adam and AdamW: argument checks as torch's, the per-parameter step count and bias corrections (in f64),
// and the fused update kernel.
#include "engine/optim/adam.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/kernels/optim.h"
#include "engine/ops.h"

namespace vireo::optim {
namespace {

void check_options(const char* name, const AdamOptions& o) {
  VIREO_CHECK(std::isfinite(o.eps) && o.eps >= 0.0, name, ": invalid epsilon ", o.eps, " (must be finite and >= 0)");
  for (int i = 0; i < 2; ++i)
    VIREO_CHECK(o.betas[i] >= 0.0 && o.betas[i] < 1.0, name, ": invalid beta parameter at index ", i, ": ",
                o.betas[i], " (must be in [0, 1))");
}

AdamOptions as_adam_options(const AdamWOptions& o) {
  return {.lr = o.lr, .betas = o.betas, .eps = o.eps, .weight_decay = o.weight_decay, .amsgrad = o.amsgrad,
          .maximize = o.maximize};
}

}  // namespace

Adam::Adam(const std::vector<Tensor>& params, AdamOptions options)
    : Adam("Adam", {make_param_group(params, options.lr, options.weight_decay)}, options, false) {}

Adam::Adam(const NamedTensors& named_params, AdamOptions options)
    : Adam("Adam", {make_param_group(named_params, options.lr, options.weight_decay)}, options, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options) : Adam("Adam", std::move(groups), options, false) {}

Adam::Adam(const char* name, std::vector<ParamGroup> groups, AdamOptions options, bool decoupled_weight_decay)
    : Optimizer(name), options_(options), decoupled_weight_decay_(decoupled_weight_decay) {
  check_options(name, options_);
  size_t total = 0;
  for (ParamGroup& group : groups) {
    total += group.params.size();
    add_param_group(std::move(group));
  }
  VIREO_CHECK(total > 0, name, ": no parameters to optimize");
}

AdamW::AdamW(const std::vector<Tensor>& params, AdamWOptions options)
    : Adam("AdamW", {make_param_group(params, options.lr, options.weight_decay)}, as_adam_options(options), true) {}

AdamW::AdamW(const NamedTensors& named_params, AdamWOptions options)
    : Adam("AdamW", {make_param_group(named_params, options.lr, options.weight_decay)}, as_adam_options(options),
           true) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Adam("AdamW", std::move(groups), as_adam_options(options), true) {}

void Adam::step() {
  NoGrad no_grad;
  const auto [beta1, beta2] = options_.betas;
  std::vector<kernels::AdamOperands> items;
  std::vector<Tensor> params;  // items[i].param is params[i] or its contiguous copy
  for (size_t g = 0; g < param_groups().size(); ++g) {
    const ParamGroup& group = param_groups()[g];
    for (size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      if (!param.grad().defined()) continue;
      const Tensor grad = checked_grad(g, k);
      ParameterState& state = state_for(param);
      Tensor& exp_avg = state.buffers["exp_avg"];
      Tensor& exp_avg_sq = state.buffers["exp_avg_sq"];
      if (!exp_avg.defined()) exp_avg = zeros(param.shape(), param.options());
      if (!exp_avg_sq.defined()) exp_avg_sq = zeros(param.shape(), param.options());
      Tensor max_exp_avg_sq;
      if (options_.amsgrad) {
        Tensor& stored = state.buffers["max_exp_avg_sq"];
        if (!stored.defined()) stored = zeros(param.shape(), param.options());
        max_exp_avg_sq = stored;
      }
      state.step += 1;
      const double t = static_cast<double>(state.step);
      const double bias_correction1 = 1.0 - std::pow(beta1, t);
      const double bias_correction2 = 1.0 - std::pow(beta2, t);
      items.push_back({.param = update_target(param),
                       .grad = grad,
                       .exp_avg = exp_avg,
                       .exp_avg_sq = exp_avg_sq,
                       .max_exp_avg_sq = max_exp_avg_sq,
                       .update = {.lr = group.lr,
                                  .beta1 = beta1,
                                  .beta2 = beta2,
                                  .eps = options_.eps,
                                  .weight_decay = group.weight_decay,
                                  .step_size = group.lr / bias_correction1,
                                  .bias_correction2_sqrt = std::sqrt(bias_correction2),
                                  .decoupled_weight_decay = decoupled_weight_decay_,
                                  .amsgrad = options_.amsgrad,
                                  .maximize = options_.maximize}});
      params.push_back(param);
    }
  }
  update_on_each_device(items, kernels::adam_update_many);
  for (size_t i = 0; i < items.size(); ++i) finish_update(params[i], items[i].param);
}

std::vector<Hyperparameter> Adam::hyperparameters() const {
  return {{"betas", {options_.betas[0], options_.betas[1]}},
          {"eps", {options_.eps}},
          {"amsgrad", {options_.amsgrad ? 1.0 : 0.0}},
          {"maximize", {options_.maximize ? 1.0 : 0.0}}};
}

void Adam::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  AdamOptions loaded = options_;
  loaded.betas = {values.at("betas")[0], values.at("betas")[1]};
  loaded.eps = values.at("eps")[0];
  loaded.amsgrad = values.at("amsgrad")[0] != 0.0;
  loaded.maximize = values.at("maximize")[0] != 0.0;
  check_options(name().c_str(), loaded);
  options_ = loaded;
}

std::vector<std::string> Adam::state_buffer_names() const {
  if (options_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

}  // namespace vireo::optim
