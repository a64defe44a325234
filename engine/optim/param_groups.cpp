// The decay/no-decay split of named parameters.
#include "engine/optim/param_groups.h"

namespace vireo::optim {

bool is_bias_or_norm(const std::string& name, const Tensor& param) {
  const std::string suffix = "bias";
  const bool named_bias = name.size() >= suffix.size() &&
                          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                          (name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.');
  return param.dim() <= 1 || named_bias;
}

std::vector<ParamGroup> split_decay_groups(const NamedTensors& named_params, double lr, double weight_decay,
                                           const NoDecayRule& no_decay) {
  ParamGroup decayed{.lr = lr, .weight_decay = weight_decay};
  ParamGroup excluded{.lr = lr, .weight_decay = 0.0, .exclude_from_adaptation = true};
  for (const auto& [name, param] : named_params) {
    VIREO_CHECK(param.defined(), "split_decay_groups: parameter '", name, "' is an undefined tensor");
    ParamGroup& group = no_decay(name, param) ? excluded : decayed;
    group.params.push_back(param);
    group.names.push_back(name);
  }
  return {decayed, excluded};
}

std::vector<ParamGroup> lars_param_groups(const NamedTensors& named_params, double lr, double weight_decay) {
  return split_decay_groups(named_params, lr, weight_decay, is_bias_or_norm);
}

}  // namespace vireo::optim
