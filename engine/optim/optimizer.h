// Optimizer: what SGD, Adam, AdamW and LARS share — parameter groups, the per-parameter state kept between
// steps, zero_grad, and the state dict that makes a resumed run take bit-identical steps.
//
// As in torch.optim, an optimizer holds handles to leaf tensors (the parameters) and updates them in place
// from their .grad; a parameter without a gradient is skipped. Parameters come in groups, each with its own
// learning rate and weight decay (a schedule rewrites `lr` between steps); the other hyperparameters are
// the optimizer's own and the same for every group.
//
// The state dict uses torch's names: "state.<i>.<buffer>" for parameter i, counted over all groups in
// order ("state.3.exp_avg", "state.3.step" as a 0-d tensor), and "param_groups.<g>.<hyperparameter>" as
// 0-d f64 tensors ("param_groups.0.lr"; Adam's betas as a [2] tensor), plus "param_groups.<g>.params",
// the i64 indices of the group's parameters.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/state_dict.h"
#include "engine/tensor.h"

namespace vireo::optim {

// What Module::named_parameters() returns: ("layer1.0.conv1.weight", tensor) pairs.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct ParamGroup {
  std::vector<Tensor> params = {};
  std::vector<std::string> names = {};  // empty, or one name per parameter (used in error messages)
  double lr = 0.0;
  double weight_decay = 0.0;
  // LARS: the group is updated by plain momentum SGD, without weight decay or trust ratio — BYOL's rule
  // for biases and normalization parameters. Other optimizers ignore it.
  bool exclude_from_adaptation = false;
};

// One group holding every tensor.
ParamGroup make_param_group(const std::vector<Tensor>& params, double lr, double weight_decay);
ParamGroup make_param_group(const NamedTensors& named_params, double lr, double weight_decay);

// What an optimizer remembers about one parameter between steps.
struct ParameterState {
  int64_t step = 0;                       // updates applied so far (Adam's t)
  std::map<std::string, Tensor> buffers;  // by torch's names: "momentum_buffer", "exp_avg", ...
};

// A hyperparameter as the state dict writes it: one value (a 0-d tensor) or several (Adam's betas).
struct Hyperparameter {
  std::string name;
  std::vector<double> values;
  bool is_scalar() const { return values.size() == 1; }
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every parameter's gradient (torch's zero_grad(set_to_none=True)).
  void zero_grad();

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Appends a group (checked as the constructor checks its groups).
  void add_param_group(ParamGroup group);

  // A snapshot: later steps do not change the returned tensors.
  StateDict state_dict() const;
  // Restores a state dict of an optimizer of the same kind over parameters of the same shapes, in the same
  // group layout. Checks everything before changing anything; errors name the offending key.
  void load_state_dict(const StateDict& state_dict);

  const std::string& name() const { return name_; }
  // The state of `param` (empty before its first update).
  const ParameterState* state(const Tensor& param) const;

 protected:
  explicit Optimizer(std::string name) : name_(std::move(name)) {}

  // The state of `param`, created empty on first use.
  ParameterState& state_for(const Tensor& param);
  // "parameter 3 ('fc.weight') of group 1": how errors name a parameter.
  std::string describe_param(size_t group, size_t index) const;
  // The gradient an update reads: contiguous, and checked against the parameter (dtype, shape, device).
  Tensor checked_grad(size_t group, size_t index) const;
  // Where an update kernel writes: the parameter itself when it is contiguous, else a contiguous copy that
  // finish_update writes back. finish_update also bumps the storage version that autograd checks, so a
  // graph that saved the old values refuses to run backward on the new ones.
  static Tensor update_target(const Tensor& param);
  static void finish_update(const Tensor& param, const Tensor& target);
  // Runs a many-parameter update kernel (engine/kernels/optim.h) once per device among `items` (each item's
  // `param` says where it lives), with that device's items in their order: a step is one call per device.
  template <class Item, class ManyKernel>
  static void update_on_each_device(const std::vector<Item>& items, const ManyKernel& kernel) {
    std::vector<std::pair<Device, std::vector<Item>>> by_device;
    for (const Item& item : items) {
      auto same = std::find_if(by_device.begin(), by_device.end(),
                               [&](const auto& entry) { return entry.first == item.param.device(); });
      if (same == by_device.end()) same = by_device.insert(by_device.end(), {item.param.device(), {}});
      same->second.push_back(item);
    }
    for (const auto& [device, device_items] : by_device) kernel(device, device_items);
  }

  // Subclass hooks for groups and state dicts.
  // Extra checks of a group's hyperparameters (lr and weight decay are checked by the base class).
  virtual void check_group(const ParamGroup& group, size_t index) const {}
  // The optimizer-wide hyperparameters, by torch's names; the state dict repeats them in every group.
  virtual std::vector<Hyperparameter> hyperparameters() const = 0;
  // Checks and applies hyperparameters read from a state dict (values[name] as hyperparameters() lists).
  // Must throw before changing anything when a value is invalid.
  virtual void set_hyperparameters(const std::map<std::string, std::vector<double>>& values) = 0;
  // The buffers (the parameter's shape) every updated parameter holds, given the current hyperparameters.
  virtual std::vector<std::string> state_buffer_names() const = 0;
  // Whether the state holds a step count.
  virtual bool counts_steps() const = 0;

 private:
  std::string name_;
  std::vector<ParamGroup> groups_;
  // Keyed by the parameter's TensorImpl; the shared_ptr keeps the address from being reused.
  std::unordered_map<std::shared_ptr<TensorImpl>, ParameterState> state_;
};

}  // namespace vireo::optim
