// SGD: argument checks as torch's, and the step that hands each parameter to the fused update kernel.
#include "engine/optim/sgd.h"

#include <cmath>

#include "engine/autograd.h"
#include "engine/kernels/optim.h"
#include "engine/ops.h"

namespace vireo::optim {
namespace {

void check_options(const SGDOptions& o) {
  VIREO_CHECK(std::isfinite(o.momentum) && o.momentum >= 0.0, "SGD: invalid momentum ", o.momentum,
              " (must be finite and >= 0)");
  VIREO_CHECK(std::isfinite(o.dampening), "SGD: invalid dampening ", o.dampening);
  VIREO_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
              "SGD: Nesterov momentum requires a momentum > 0 and zero dampening (momentum ", o.momentum,
              ", dampening ", o.dampening, ")");
}

}  // namespace

SGD::SGD(const std::vector<Tensor>& params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{make_param_group(params, options.lr, options.weight_decay)}, options) {}

SGD::SGD(const NamedTensors& named_params, SGDOptions options)
    : SGD(std::vector<ParamGroup>{make_param_group(named_params, options.lr, options.weight_decay)}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options) : Optimizer("SGD"), options_(options) {
  check_options(options_);
  size_t total = 0;
  for (ParamGroup& group : groups) {
    total += group.params.size();
    add_param_group(std::move(group));
  }
  VIREO_CHECK(total > 0, "SGD: no parameters to optimize");
}

void SGD::step() {
  NoGrad no_grad;
  const bool use_momentum = options_.momentum != 0.0;
  std::vector<kernels::SgdOperands> items;
  std::vector<Tensor> params;  // items[i].param is params[i] or its contiguous copy
  for (size_t g = 0; g < param_groups().size(); ++g) {
    const ParamGroup& group = param_groups()[g];
    for (size_t k = 0; k < group.params.size(); ++k) {
      const Tensor& param = group.params[k];
      if (!param.grad().defined()) continue;
      kernels::SgdOperands item{.param = update_target(param),
                                .grad = checked_grad(g, k),
                                .momentum_buffer = {},
                                .update = {.lr = group.lr,
                                           .momentum = options_.momentum,
                                           .dampening = options_.dampening,
                                           .weight_decay = group.weight_decay,
                                           .nesterov = options_.nesterov,
                                           .maximize = options_.maximize}};
      if (use_momentum) {
        Tensor& stored = state_for(param).buffers["momentum_buffer"];
        item.update.first_step = !stored.defined();
        if (item.update.first_step) stored = empty(param.shape(), param.options());
        item.momentum_buffer = stored;
      }
      items.push_back(std::move(item));
      params.push_back(param);
    }
  }
  update_on_each_device(items, kernels::sgd_update_many);
  for (size_t i = 0; i < items.size(); ++i) finish_update(params[i], items[i].param);
}

std::vector<Hyperparameter> SGD::hyperparameters() const {
  return {{"momentum", {options_.momentum}},
          {"dampening", {options_.dampening}},
          {"nesterov", {options_.nesterov ? 1.0 : 0.0}},
          {"maximize", {options_.maximize ? 1.0 : 0.0}}};
}

void SGD::set_hyperparameters(const std::map<std::string, std::vector<double>>& values) {
  SGDOptions loaded = options_;
  loaded.momentum = values.at("momentum")[0];
  loaded.dampening = values.at("dampening")[0];
  loaded.nesterov = values.at("nesterov")[0] != 0.0;
  loaded.maximize = values.at("maximize")[0] != 0.0;
  check_options(loaded);
  options_ = loaded;
}

std::vector<std::string> SGD::state_buffer_names() const {
  if (options_.momentum == 0.0) return {};
  return {"momentum_buffer"};
}

}  // namespace vireo::optim
