// LARS: argument checks, BYOL's exclusion rule, and the fused kernels (which compute both norms themselves), one
// call for all the parameters of a device.
#include "engine/optim/lars.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/kernels/optim.h"
#include "engine/ops.h"

namespace vireo::optim {
namespace {

void check_options(const LARSOptions& o) {
  VIREO_CHECK(std::isfinite(o.momentum) && o.momentum >= 0.0, "LARS: invalid momentum ", o.momentum,
              " (must be finite and >= 0)");
  VIREO_CHECK(std::isfinite(o.trust_coefficient) && o.trust_coefficient > 0.0, "LARS: invalid trust_coefficient ",
              o.trust_coefficient, " (must be finite and > 0)");
  VIREO_CHECK(std::isfinite(o.eps) && o.eps >= 0.0, "LARS: invalid eps ", o.eps, " (must be finite and >= 0)");
}

}  // namespace

LARS::LARS(const std::vector<Tensor>& params, LARSOptions options)
    : LARS(std::vector<ParamGroup>{make_param_group(params, options.lr, options.weight_decay)}, options) {}

LARS::LARS(const NamedTensors& named_params, LARSOptions options)
    : LARS(std::vector<ParamGroup>{make_param_group(named_params, options.lr, options.weight_decay)}, options) {}

LARS::LARS(std::vector<ParamGroup> groups, LARSOptions options) : Optimizer("LARS"), options_(options) {
  check_options(options_);
  size_t total = 0;
  for (ParamGroup& group : groups) {
    total += group.params.size();
    add_param_group(std::move(group));
  }
  VIREO_CHECK(total > 0, "LARS: no parameters to optimize");
}

void LARS::check_group(const ParamGroup& group, size_t index) const {
  VIREO_CHECK(!group.exclude_from_adaptation || group.weight_decay == 0.0, "LARS: param group ", index,
              " is excluded from adaptation but has weight_decay ", group.weight_decay,
              "; BYOL excludes biases and normalization parameters from both (set weight_decay = 0)");
}

void LARS::step() {
  NoGrad no_grad;
  std::vector<kernels::LarsOperands> items;
  std::vector<Tensor> params;  // items[i].param is params[i] or its contiguous copy
  for (size_t g = 0; g < param_groups().size(); ++g) {
    const ParamGroup& group = param_groups()[g];
    // The groups are public and mutable: the exclusion rule is checked where it matters.
    check_group(group, g);
    for (size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      if (!param.grad().defined()) continue;
      const Tensor grad = checked_grad(g, k);
      Tensor& buffer = state_for(param).buffers["momentum_buffer"];
      if (!buffer.defined()) buffer = zeros(param.shape(), param.options());
      Tensor& trust_ratio = last_trust_ratio_[param.impl_ptr()];
      if (!trust_ratio.defined()) trust_ratio = zeros({}, {.dtype = DType::f64, .device = param.device()});
      items.push_back({.param = update_target(param),
                       .grad = grad,
                       .momentum_buffer = buffer,
                       .update = {.lr = group.lr,
                                  .momentum = options_.momentum,
                                  .weight_decay = group.weight_decay,
                                  .trust_coefficient = options_.trust_coefficient,
                                  .eps = options_.eps,
                                  .adapt = !group.exclude_from_adaptation},
                       .trust_ratio = trust_ratio});
      params.push_back(param);
    }
  }
  update_on_each_device(items, kernels::lars_update_many);
  for (size_t i = 0; i < items.size(); ++i) finish_update(params[i], items[i].param);
}

double LARS::last_trust_ratio(const Tensor& param) const {
  const auto found = last_trust_ratio_.find(param.impl_ptr());
  return found == last_trust_ratio_.end() ? 0.0 : found->second.item();
}

std::vector<Hyperparameter> LARS::hyperparameters() const {
  return {{"momentum", {options_.momentum}},
          {"trust_coefficient", {options_.trust_coefficient}},
          {"eps", {options_.eps}}};
}

void LARS::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  LARSOptions loaded = options_;
  loaded.momentum = values.at("momentum")[0];
  loaded.trust_coefficient = values.at("trust_coefficient")[0];
  loaded.eps = values.at("eps")[0];
  check_options(loaded);
  options_ = loaded;
}

}  // namespace vireo::optim
