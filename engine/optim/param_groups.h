// Parameter groups built from a model's named parameters by the rules SSL recipes use.
//
// split_decay_groups puts the parameters that weight decay should not touch — biases and normalization
// weights, i.e. tensors of at most one dimension or named "*.bias" (timm's rule) — in a group of their
// own with weight_decay 0 and exclude_from_adaptation set, which is exactly BYOL's treatment under LARS
// (excluded from weight decay and from the trust ratio) and the usual AdamW treatment in ViT recipes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/optim/optimizer.h"

namespace vireo::optim {

// True for biases and normalization parameters: one dimension or fewer, or a name ending in "bias".
bool is_bias_or_norm(const std::string& name, const Tensor& param);

using NoDecayRule = std::function<bool(const std::string& name, const Tensor& param)>;

// Two groups, always in this order (so that state dicts line up whatever the model holds; either may be
// empty): 0 = the decayed parameters {lr, weight_decay}, 1 = those `no_decay` selects {lr, weight decay 0,
// exclude_from_adaptation}. Each group keeps the parameters' names and their relative order.
std::vector<ParamGroup> split_decay_groups(const NamedTensors& named_params, double lr, double weight_decay,
                                           const NoDecayRule& no_decay = is_bias_or_norm);

// BYOL's LARS groups: split_decay_groups with is_bias_or_norm.
std::vector<ParamGroup> lars_param_groups(const NamedTensors& named_params, double lr, double weight_decay);

}  // namespace vireo::optim
