// The Optimizer base class: groups, per-parameter state, and the state dict with its checks.
#include "engine/optim/optimizer.h"

#include <cmath>
#include <set>
#include <sstream>
#include <unordered_set>

#include "engine/autograd.h"
#include "engine/ops.h"

namespace vireo::optim {

ParamGroup make_param_group(const std::vector<Tensor>& params, double lr, double weight_decay) {
  return ParamGroup{.params = params, .names = {}, .lr = lr, .weight_decay = weight_decay};
}

ParamGroup make_param_group(const NamedTensors& named_params, double lr, double weight_decay) {
  ParamGroup group{.lr = lr, .weight_decay = weight_decay};
  for (const auto& [name, tensor] : named_params) {
    group.names.push_back(name);
    group.params.push_back(tensor);
  }
  return group;
}

// ---- groups ----

void Optimizer::zero_grad() {
  for (const ParamGroup& group : groups_)
    for (const Tensor& param : group.params) param.zero_grad();
}

std::string Optimizer::describe_param(size_t group, size_t index) const {
  size_t flat = index;
  for (size_t g = 0; g < group; ++g) flat += groups_[g].params.size();
  std::ostringstream text;
  text << "parameter " << flat;
  if (index < groups_[group].names.size()) text << " ('" << groups_[group].names[index] << "')";
  text << " of group " << group;
  return text.str();
}

namespace {
// "parameter 2 ('fc.bias')" for a group that is not (yet) one of the optimizer's.
std::string describe_new_param(const ParamGroup& group, size_t index) {
  std::ostringstream text;
  text << "parameter " << index;
  if (index < group.names.size()) text << " ('" << group.names[index] << "')";
  return text.str();
}
}  // namespace

void Optimizer::add_param_group(ParamGroup group) {
  const size_t index = groups_.size();
  VIREO_CHECK(group.names.empty() || group.names.size() == group.params.size(), name_, ": param group ", index,
              " has ", group.params.size(), " parameters but ", group.names.size(), " names");
  VIREO_CHECK(std::isfinite(group.lr) && group.lr >= 0.0, name_, ": param group ", index,
              " has an invalid learning rate ", group.lr, " (must be finite and >= 0)");
  VIREO_CHECK(std::isfinite(group.weight_decay) && group.weight_decay >= 0.0, name_, ": param group ", index,
              " has an invalid weight_decay ", group.weight_decay, " (must be finite and >= 0)");
  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& existing : groups_)
    for (const Tensor& param : existing.params) seen.insert(param.impl());
  for (size_t k = 0; k < group.params.size(); ++k) {
    const Tensor& param = group.params[k];
    VIREO_CHECK(param.defined(), name_, ": ", describe_new_param(group, k), " of param group ", index,
                " is an undefined tensor");
    VIREO_CHECK(param.dtype() == DType::f32 || param.dtype() == DType::f64, name_, ": ", describe_new_param(group, k),
                " of param group ", index, " is ", describe(param), "; optimizers update f32 or f64 tensors");
    VIREO_CHECK(param.is_leaf(), name_, ": ", describe_new_param(group, k), " of param group ", index,
                " is not a leaf tensor (", describe(param), "); optimizers update leaves only");
    VIREO_CHECK(seen.insert(param.impl()).second, name_, ": ", describe_new_param(group, k), " of param group ", index,
                " appears more than once among the optimizer's parameters");
  }
  check_group(group, index);
  groups_.push_back(std::move(group));
}

// ---- per-parameter state ----

ParameterState& Optimizer::state_for(const Tensor& param) { return state_[param.impl_ptr()]; }

const ParameterState* Optimizer::state(const Tensor& param) const {
  const auto found = state_.find(param.impl_ptr());
  return found == state_.end() ? nullptr : &found->second;
}

Tensor Optimizer::checked_grad(size_t group, size_t index) const {
  const Tensor& param = groups_[group].params[index];
  const Tensor& grad = param.grad();
  VIREO_CHECK(grad.dtype() == param.dtype() && grad.shape() == param.shape() && grad.device() == param.device(), name_,
              ": the gradient ", describe(grad), " of ", describe_param(group, index), " does not match it (",
              describe(param), ")");
  return grad.is_contiguous() ? grad : grad.contiguous();
}

Tensor Optimizer::update_target(const Tensor& param) {
  return param.is_contiguous() ? param : param.detach().contiguous();
}

void Optimizer::finish_update(const Tensor& param, const Tensor& target) {
  if (target.impl() == param.impl()) {
    param.storage()->bump_version();
  } else {
    NoGrad no_grad;
    Tensor(param).copy_(target);
  }
}

// ---- state dict ----

namespace {

Tensor f64_scalar(double value) { return scalar_tensor(value, {.dtype = DType::f64}); }

// Parses a whole string as a non-negative integer index.
bool parse_index(const std::string& text, size_t& value) {
  if (text.empty() || text.size() > 18) return false;
  value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  return text == std::to_string(value);  // no leading zeros: one spelling per index
}

// Splits "<prefix><index>.<field>" into index and field.
bool split_key(const std::string& key, const std::string& prefix, size_t& index, std::string& field) {
  if (key.rfind(prefix, 0) != 0) return false;
  const size_t dot = key.find('.', prefix.size());
  if (dot == std::string::npos || dot + 1 == key.size()) return false;
  field = key.substr(dot + 1);
  return parse_index(key.substr(prefix.size(), dot - prefix.size()), index);
}

// A one-element tensor's value, or an Error naming the key.
double scalar_value(const std::string& who, const std::string& key, const Tensor& tensor) {
  VIREO_CHECK(tensor.defined() && tensor.numel() == 1, who, key, " must hold one value, not ",
              tensor.defined() ? describe(tensor) : std::string("an undefined tensor"));
  return tensor.item();
}

std::string format_values(const std::vector<double>& values) {
  std::ostringstream text;
  text << (values.size() == 1 ? "" : "[");
  for (size_t i = 0; i < values.size(); ++i) text << (i ? ", " : "") << values[i];
  text << (values.size() == 1 ? "" : "]");
  return text.str();
}

}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict dict;
  const std::vector<Hyperparameter> hyper = hyperparameters();
  const bool with_steps = counts_steps();
  int64_t flat = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const ParamGroup& group = groups_[g];
    std::vector<double> indices;
    for (const Tensor& param : group.params) {
      indices.push_back(static_cast<double>(flat));
      if (const ParameterState* state = this->state(param)) {
        const std::string prefix = "state." + std::to_string(flat) + ".";
        if (with_steps) dict[prefix + "step"] = f64_scalar(static_cast<double>(state->step));
        for (const auto& [buffer_name, buffer] : state->buffers) dict[prefix + buffer_name] = buffer.clone();
      }
      ++flat;
    }
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    dict[prefix + "params"] =
        Tensor::from_vector(indices, {static_cast<int64_t>(indices.size())}, {.dtype = DType::i64});
    dict[prefix + "lr"] = f64_scalar(group.lr);
    dict[prefix + "weight_decay"] = f64_scalar(group.weight_decay);
    dict[prefix + "exclude_from_adaptation"] = f64_scalar(group.exclude_from_adaptation ? 1.0 : 0.0);
    for (const Hyperparameter& h : hyper)
      dict[prefix + h.name] = h.is_scalar() ? f64_scalar(h.values[0])
                                            : Tensor::from_vector(h.values, {static_cast<int64_t>(h.values.size())},
                                                                  {.dtype = DType::f64});
  }
  return dict;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const std::string who = name_ + " load_state_dict: ";

  // Sort the keys into groups' fields and parameters' state; anything else is refused.
  std::map<size_t, std::map<std::string, std::pair<std::string, Tensor>>> group_fields;  // field -> (key, tensor)
  std::map<size_t, std::map<std::string, std::pair<std::string, Tensor>>> param_state;
  for (const auto& [key, tensor] : dict) {
    size_t index = 0;
    std::string field;
    if (split_key(key, "param_groups.", index, field)) group_fields[index][field] = {key, tensor};
    else if (split_key(key, "state.", index, field)) param_state[index][field] = {key, tensor};
    else fail(who, "unexpected key ", key, " (expected state.<i>.<name> or param_groups.<g>.<name>)");
  }

  // Groups: the same count, each numbering its parameters as this optimizer does.
  const size_t saved_groups = group_fields.empty() ? 0 : group_fields.rbegin()->first + 1;
  VIREO_CHECK(saved_groups == groups_.size(), who, "the state dict has ", saved_groups,
              " param groups but this optimizer has ", groups_.size());
  const std::vector<Hyperparameter> current = hyperparameters();
  std::map<std::string, std::vector<double>> loaded_hyper;
  std::map<std::string, std::string> first_key;  // where each optimizer-wide value was first read
  std::vector<ParamGroup> staged = groups_;
  std::vector<std::pair<size_t, size_t>> flat_to_param;  // (group, index) of each flat parameter index
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    auto fields = group_fields[g];
    auto take = [&](const std::string& field) {
      const auto found = fields.find(field);
      VIREO_CHECK(found != fields.end(), who, "missing key ", prefix, field);
      Tensor tensor = found->second.second;
      fields.erase(found);
      VIREO_CHECK(tensor.defined(), who, prefix, field, " is an undefined tensor");
      return tensor;
    };

    const Tensor params = take("params");
    const size_t count = groups_[g].params.size();
    VIREO_CHECK(params.dim() == 1 && static_cast<size_t>(params.numel()) == count, who, prefix,
                "params lists the parameters ", describe(params), " but group ", g, " has ", count, " parameters");
    const std::vector<double> indices = params.to_vector();
    for (size_t k = 0; k < count; ++k) {
      VIREO_CHECK(indices[k] == static_cast<double>(flat_to_param.size()), who, prefix, "params entry ", k, " is ",
                  indices[k], " but this optimizer numbers that parameter ", flat_to_param.size());
      flat_to_param.emplace_back(g, k);
    }

    staged[g].lr = scalar_value(who, prefix + "lr", take("lr"));
    staged[g].weight_decay = scalar_value(who, prefix + "weight_decay", take("weight_decay"));
    const double exclude = scalar_value(who, prefix + "exclude_from_adaptation", take("exclude_from_adaptation"));
    VIREO_CHECK(exclude == 0.0 || exclude == 1.0, who, prefix, "exclude_from_adaptation is ", exclude,
                " (must be 0 or 1)");
    staged[g].exclude_from_adaptation = exclude == 1.0;
    VIREO_CHECK(std::isfinite(staged[g].lr) && staged[g].lr >= 0.0, who, prefix, "lr is ", staged[g].lr,
                " (must be finite and >= 0)");
    VIREO_CHECK(std::isfinite(staged[g].weight_decay) && staged[g].weight_decay >= 0.0, who, prefix,
                "weight_decay is ", staged[g].weight_decay, " (must be finite and >= 0)");

    for (const Hyperparameter& h : current) {
      const std::string key = prefix + h.name;
      const Tensor tensor = take(h.name);
      VIREO_CHECK(static_cast<size_t>(tensor.numel()) == h.values.size() && (h.is_scalar() || tensor.dim() == 1), who,
                  key, " is ", describe(tensor), " but holds ", h.values.size(), " value(s) in this optimizer");
      const std::vector<double> values = tensor.to_vector();
      const auto [existing, inserted] = loaded_hyper.emplace(h.name, values);
      if (inserted) {
        first_key[h.name] = key;
      } else {
        VIREO_CHECK(existing->second == values, who, key, " is ", format_values(values), " but ", first_key[h.name],
                    " is ", format_values(existing->second), "; ", name_,
                    " holds one value of it for every group");
      }
    }
    VIREO_CHECK(fields.empty(), who, "unexpected key ", fields.empty() ? std::string() : fields.begin()->second.first);
    check_group(staged[g], g);
  }

  // The hyperparameters decide which buffers each parameter's state holds (Adam's amsgrad), so they are
  // applied first and put back if the state turns out not to fit.
  std::map<std::string, std::vector<double>> previous;
  for (const Hyperparameter& h : current) previous[h.name] = h.values;
  set_hyperparameters(loaded_hyper);
  std::unordered_map<std::shared_ptr<TensorImpl>, ParameterState> new_state;
  try {
    const std::vector<std::string> buffer_names = state_buffer_names();
    const bool with_steps = counts_steps();
    for (const auto& [flat, fields] : param_state) {
      VIREO_CHECK(flat < flat_to_param.size(), who, "key ", fields.begin()->second.first, " names parameter ", flat,
                  " but the optimizer has ", flat_to_param.size(), " parameters");
      const auto [g, k] = flat_to_param[flat];
      const Tensor& param = groups_[g].params[k];
      const std::string prefix = "state." + std::to_string(flat) + ".";
      std::set<std::string> expected(buffer_names.begin(), buffer_names.end());
      if (with_steps) expected.insert("step");
      for (const auto& [field, entry] : fields)
        VIREO_CHECK(expected.count(field), who, "unexpected key ", entry.first);
      ParameterState state;
      if (with_steps) {
        const auto found = fields.find("step");
        VIREO_CHECK(found != fields.end(), who, "missing key ", prefix, "step");
        const double step = scalar_value(who, prefix + "step", found->second.second);
        VIREO_CHECK(step >= 0.0 && step == std::floor(step) && step < 9.0e15, who, prefix, "step is ", step,
                    " (must be a count)");
        state.step = static_cast<int64_t>(step);
      }
      for (const std::string& buffer_name : buffer_names) {
        const auto found = fields.find(buffer_name);
        VIREO_CHECK(found != fields.end(), who, "missing key ", prefix, buffer_name);
        const Tensor& saved = found->second.second;
        VIREO_CHECK(saved.defined() && is_floating(saved.dtype()) && saved.shape() == param.shape(), who, prefix,
                    buffer_name, " is ", saved.defined() ? describe(saved) : std::string("undefined"), " but ",
                    describe_param(g, k), " is ", describe(param));
        NoGrad no_grad;
        Tensor buffer = empty(param.shape(), param.options());
        buffer.copy_(saved);
        state.buffers[buffer_name] = buffer;
      }
      new_state[param.impl_ptr()] = std::move(state);
    }
  } catch (...) {
    set_hyperparameters(previous);
    throw;
  }

  for (size_t g = 0; g < groups_.size(); ++g) {
    groups_[g].lr = staged[g].lr;
    groups_[g].weight_decay = staged[g].weight_decay;
    groups_[g].exclude_from_adaptation = staged[g].exclude_from_adaptation;
  }
  state_ = std::move(new_state);
}

}  // namespace vireo::optim
