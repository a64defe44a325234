// Module (engine/nn/module.h): registration, the PyTorch-ordered walks over the tree, modes, in-place
// device/dtype moves, the state dict, and the hooked call.
#include "engine/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <unordered_set>

#include "engine/autograd.h"
#include "engine/nn/checkpoint.h"

namespace vireo::nn {
namespace {

std::string join_name(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

// PyTorch's _addindent: every line after the first is indented, so a child's block nests under its name.
std::string indent_following_lines(const std::string& text, int spaces) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out.append(spaces, ' ');
  }
  return out;
}

// Which module is running Module's default forward, so that a module overriding neither forward is
// reported instead of bouncing between the two defaults forever.
thread_local const Module* g_module_in_default_forward = nullptr;

class DefaultForwardScope {
 public:
  explicit DefaultForwardScope(const Module* module) : previous_(g_module_in_default_forward) {
    g_module_in_default_forward = module;
  }
  ~DefaultForwardScope() { g_module_in_default_forward = previous_; }

 private:
  const Module* previous_;
};

}  // namespace

// ---- registration ----

void Module::check_new_name(const char* what, const std::string& name) const {
  VIREO_CHECK(!name.empty(), type_name(), ".", what, ": the name is empty");
  VIREO_CHECK(name.find('.') == std::string::npos, type_name(), ".", what, ": the name '", name,
              "' contains '.', which separates the parts of a module path");
  auto named = [&name](const auto& entry) { return entry.first == name; };
  const bool taken = std::any_of(parameters_.begin(), parameters_.end(), named) ||
                     std::any_of(children_.begin(), children_.end(), named) ||
                     std::any_of(buffers_.begin(), buffers_.end(), [&name](const Buffer& b) { return b.name == name; });
  VIREO_CHECK(!taken, type_name(), ".", what, ": the name '", name, "' is already registered");
}

Tensor Module::register_parameter(std::string name, Tensor value, bool requires_grad) {
  check_new_name("register_parameter", name);
  if (value.defined()) {
    VIREO_CHECK(!requires_grad || is_floating(value.dtype()), type_name(), ".register_parameter: '", name, "' ",
                describe(value), " cannot require a gradient (not floating)");
    if (!value.is_leaf()) value = value.detach();
    value.requires_grad_(requires_grad);
  }
  parameters_.emplace_back(std::move(name), value);
  return value;
}

Tensor Module::register_buffer(std::string name, Tensor value, bool persistent) {
  check_new_name("register_buffer", name);
  buffers_.push_back({std::move(name), value, persistent});
  return value;
}

void Module::add_child(std::string name, std::shared_ptr<Module> child) {
  check_new_name("register_module", name);
  VIREO_CHECK(child != nullptr, type_name(), ".register_module: the module given for '", name, "' is null");
  bool cycle = false;
  child->visit_modules([&](const std::string&, const Module& m, const std::shared_ptr<Module>*) { cycle |= &m == this; });
  VIREO_CHECK(!cycle, type_name(), ".register_module: '", name, "' (", child->type_name(),
              ") contains this module; a module tree cannot have cycles");
  children_.emplace_back(std::move(name), std::move(child));
}

// ---- walks ----

void Module::visit_modules(const Visitor& visit) const {
  std::unordered_set<const Module*> seen;
  std::function<void(const std::string&, const Module&, const std::shared_ptr<Module>*)> walk =
      [&](const std::string& name, const Module& module, const std::shared_ptr<Module>* handle) {
        if (!seen.insert(&module).second) return;
        visit(name, module, handle);
        for (const auto& [child_name, child] : module.children_) walk(join_name(name, child_name), *child, &child);
      };
  walk("", *this, nullptr);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;
  auto take = [&](const std::string& prefix, const Module& m) {
    for (const auto& [name, value] : m.parameters_)
      if (value.defined() && seen.insert(value.impl()).second) out.emplace_back(join_name(prefix, name), value);
  };
  if (!recurse) {
    take("", *this);
    return out;
  }
  visit_modules([&](const std::string& prefix, const Module& m, const std::shared_ptr<Module>*) { take(prefix, m); });
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters(recurse)) out.push_back(std::move(entry.second));
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;
  auto take = [&](const std::string& prefix, const Module& m) {
    for (const Buffer& b : m.buffers_)
      if (b.value.defined() && seen.insert(b.value.impl()).second) out.emplace_back(join_name(prefix, b.name), b.value);
  };
  if (!recurse) {
    take("", *this);
    return out;
  }
  visit_modules([&](const std::string& prefix, const Module& m, const std::shared_ptr<Module>*) { take(prefix, m); });
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_buffers(recurse)) out.push_back(std::move(entry.second));
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::unordered_set<const Module*> seen;
  for (const auto& entry : children_)
    if (seen.insert(entry.second.get()).second) out.push_back(entry);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& entry : named_children()) out.push_back(std::move(entry.second));
  return out;
}

std::shared_ptr<Module> Module::self_pointer() {
  if (auto self = weak_from_this().lock()) return self;
  // Not owned by a shared_ptr (a module on the stack): hand out a non-owning pointer to it.
  return std::shared_ptr<Module>(std::shared_ptr<Module>(), this);
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  visit_modules([&](const std::string& name, const Module&, const std::shared_ptr<Module>* handle) {
    out.emplace_back(name, handle ? *handle : self_pointer());
  });
  return out;
}

std::vector<std::shared_ptr<Module>> Module::modules() {
  std::vector<std::shared_ptr<Module>> out;
  for (auto& entry : named_modules()) out.push_back(std::move(entry.second));
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t total = 0;
  for (const Tensor& p : parameters())
    if (!trainable_only || p.requires_grad()) total += p.numel();
  return total;
}

std::shared_ptr<Module> Module::find_for(const char* op, const std::string& path) {
  std::shared_ptr<Module> current = self_pointer();
  if (path.empty()) return current;
  std::string walked;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto it = std::find_if(current->children_.begin(), current->children_.end(),
                           [&part](const auto& entry) { return entry.first == part; });
    if (it == current->children_.end()) {
      std::vector<std::string> available;
      for (const auto& entry : current->children_) available.push_back(entry.first);
      fail(type_name(), ".", op, ": no submodule '", part, "' in ",
           walked.empty() ? "the root (" + current->type_name() + ")" : "'" + walked + "' (" + current->type_name() + ")",
           " while resolving the path '", path, "'; children there: ",
           available.empty() ? std::string("none") : join(available, ", "));
    }
    current = it->second;
    walked = join_name(walked, part);
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

std::shared_ptr<Module> Module::find_shared(const std::string& path) { return find_for("find", path); }
Module& Module::find(const std::string& path) { return *find_for("find", path); }

// ---- printing ----

std::string Module::type_name() const { return class_name(typeid(*this)); }

std::string class_name(const std::type_info& type) {
  const char* mangled = type.name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // Drop the namespaces of the class itself ("vireo::nn::Linear" -> "Linear"), not those of template arguments.
  const size_t template_start = name.find('<');
  const size_t last_scope = name.rfind("::", template_start);
  if (last_scope != std::string::npos) name = name.substr(last_scope + 2);
  return name;
}

// As torch's Module.__repr__: "Name(extra)" on one line when there are no children, else one line per
// extra_repr line and per child "(name): <child>", indented by two spaces.
std::string Module::str() const {
  std::vector<std::string> extra_lines, child_lines;
  std::istringstream extra(extra_repr());
  for (std::string line; std::getline(extra, line);) extra_lines.push_back(line);
  for (const auto& [name, child] : children_)
    child_lines.push_back("(" + name + "): " + indent_following_lines(child->str(), 2));
  std::string out = type_name() + "(";
  if (extra_lines.size() == 1 && child_lines.empty()) {
    out += extra_lines[0];
  } else if (!extra_lines.empty() || !child_lines.empty()) {
    std::vector<std::string> lines = extra_lines;
    lines.insert(lines.end(), child_lines.begin(), child_lines.end());
    out += "\n  " + join(lines, "\n  ") + "\n";
  }
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.str(); }

// ---- modes and bulk operations ----

Module& Module::train(bool on) {
  training_ = on;
  for (auto& entry : children_) entry.second->train(on);
  return *this;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& child : children()) child->apply(fn);
  fn(*this);
  return *this;
}

void Module::zero_grad() {
  for (const Tensor& p : parameters()) p.zero_grad();
}

void Module::convert_tensors(const std::function<bool(const Tensor&)>& wanted,
                             const std::function<Tensor(const Tensor&)>& convert) {
  // The distinct tensors to convert, grouped by the storage they view (in first-seen order).
  std::vector<std::shared_ptr<Storage>> storages;
  std::map<const Storage*, std::vector<TensorImpl*>> views;
  std::unordered_set<const TensorImpl*> seen;
  auto add = [&](const Tensor& t) {
    if (!t.defined() || !wanted(t) || !seen.insert(t.impl()).second) return;
    auto& group = views[t.storage().get()];
    if (group.empty()) storages.push_back(t.storage());
    group.push_back(t.impl());
  };
  for (const Tensor& p : parameters()) {
    add(p);
    add(p.grad());
  }
  for (const Tensor& b : buffers()) add(b);

  // First convert every storage whole (offsets and strides stay meaningful), so that a failure leaves the
  // module untouched; then point every view at its new storage.
  std::vector<std::pair<std::shared_ptr<Storage>, DType>> converted;
  {
    NoGrad no_grad;
    for (const auto& storage : storages) {
      const std::vector<TensorImpl*>& group = views[storage.get()];
      const DType dtype = group.front()->dtype;
      for (const TensorImpl* impl : group)
        VIREO_CHECK(impl->dtype == dtype, type_name(), ".to: tensors of dtypes ", dtype, " and ", impl->dtype,
                    " share one storage");
      auto whole = std::make_shared<TensorImpl>();
      whole->storage = storage;
      whole->shape = {static_cast<int64_t>(storage->bytes() / element_size(dtype))};
      whole->strides = {1};
      whole->dtype = dtype;
      const Tensor result = convert(Tensor(whole));
      converted.emplace_back(result.storage(), result.dtype());
    }
  }
  for (size_t i = 0; i < storages.size(); ++i)
    for (TensorImpl* impl : views[storages[i].get()]) {
      impl->storage = converted[i].first;
      impl->dtype = converted[i].second;
    }
}

Module& Module::to(Device device) {
  try {
    convert_tensors([&](const Tensor& t) { return t.device() != device; },
                    [&](const Tensor& whole) { return whole.to(device); });
  } catch (const Error& error) {
    fail(type_name(), ".to(", device, "): ", error.what());
  }
  return *this;
}

Device Module::device() const {
  for (const Tensor& t : parameters()) return t.device();
  for (const Tensor& t : buffers()) return t.device();
  return Device::cpu();
}

Module& Module::to(DType dtype) {
  VIREO_CHECK(is_floating(dtype), type_name(), ".to: ", dtype, " is not a floating dtype");
  convert_tensors([&](const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != dtype; },
                  [&](const Tensor& whole) { return whole.to(dtype); });
  return *this;
}

// ---- state ----

void Module::collect_state(const std::string& prefix, StateDict& out) const {
  for (const auto& [name, value] : parameters_)
    if (value.defined()) out[join_name(prefix, name)] = value.detach();
  for (const Buffer& b : buffers_)
    if (b.value.defined() && b.persistent) out[join_name(prefix, b.name)] = b.value.detach();
  for (const auto& [name, child] : children_) child->collect_state(join_name(prefix, name), out);
}

StateDict Module::state_dict() const {
  StateDict out;
  collect_state("", out);
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  const StateDict own = state_dict();
  LoadResult result;
  std::vector<std::string> mismatches;
  for (const auto& [key, target] : own) {
    auto it = state.find(key);
    if (it == state.end()) {
      result.missing_keys.push_back(key);
    } else if (!it->second.defined()) {
      mismatches.push_back("'" + key + "' is undefined in the state dict");
    } else if (it->second.shape() != target.shape()) {
      mismatches.push_back("'" + key + "' has shape " + to_string(it->second.shape()) + " in the state dict but " +
                           to_string(target.shape()) + " in the module");
    }
  }
  for (const auto& entry : state)
    if (!own.count(entry.first)) result.unexpected_keys.push_back(entry.first);

  const bool key_problems = strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (!mismatches.empty() || key_problems) {
    std::vector<std::string> problems;
    if (key_problems && !result.missing_keys.empty())
      problems.push_back("missing keys: " + join(result.missing_keys, ", "));
    if (key_problems && !result.unexpected_keys.empty())
      problems.push_back("unexpected keys: " + join(result.unexpected_keys, ", "));
    if (!mismatches.empty()) problems.push_back("shape mismatches: " + join(mismatches, "; "));
    fail(type_name(), ".load_state_dict: ", join(problems, "; "), " (nothing was loaded)");
  }

  NoGrad no_grad;
  for (const auto& [key, target] : own) {
    auto it = state.find(key);
    if (it == state.end()) continue;
    Tensor destination = target;
    destination.copy_(it->second);
  }
  return result;
}

// ---- forward and hooks ----

Tensor Module::forward(const Tensor& x) {
  VIREO_CHECK(g_module_in_default_forward != this, type_name(),
              ": forward is not implemented (override forward(const Tensor&) or forward(const std::vector<Tensor>&))");
  DefaultForwardScope scope(this);
  return forward(std::vector<Tensor>{x});
}

Tensor Module::forward(const std::vector<Tensor>& inputs) {
  VIREO_CHECK(g_module_in_default_forward != this, type_name(),
              ": forward is not implemented (override forward(const Tensor&) or forward(const std::vector<Tensor>&))");
  VIREO_CHECK(inputs.size() == 1, type_name(), ": forward takes one input, got ", inputs.size());
  DefaultForwardScope scope(this);
  return forward(inputs[0]);
}

Tensor Module::operator()(const Tensor& x) {
  if (checkpointed_ && training_ && grad_enabled()) return call_checkpointed({x});
  if (!hooks_ || hooks_->size() == 0) return forward(x);
  return call_with_hooks({x});
}

Tensor Module::operator()(const std::vector<Tensor>& inputs) {
  if (checkpointed_ && training_ && grad_enabled()) return call_checkpointed(inputs);
  if (!hooks_ || hooks_->size() == 0) return forward(inputs);
  return call_with_hooks(inputs);
}

// The hooked call, through checkpoint: the module must outlive the backward of the graph it records.
Tensor Module::call_checkpointed(const std::vector<Tensor>& inputs) {
  auto call = [this](const std::vector<Tensor>& in) {
    if (hooks_ && hooks_->size() > 0) return call_with_hooks(in);
    return in.size() == 1 ? forward(in[0]) : forward(in);
  };
  return checkpoint(call, inputs, parameters(), buffers());
}

// Each list is copied before it runs, so a hook may add or remove hooks: one removed meanwhile is skipped,
// one added runs from the next call on.
Tensor Module::call_with_hooks(std::vector<Tensor> inputs) {
  const std::shared_ptr<HookRegistry> registry = hooks_;  // alive for the whole call
  const auto pre_hooks = registry->pre_hooks;
  for (const auto& [id, hook] : pre_hooks) {
    if (!registry->contains(id)) continue;
    std::vector<Tensor> replacement = (*hook)(*this, inputs);
    if (!replacement.empty()) inputs = std::move(replacement);
  }
  Tensor output = inputs.size() == 1 ? forward(inputs[0]) : forward(inputs);
  const auto hooks = registry->hooks;
  for (const auto& [id, hook] : hooks) {
    if (!registry->contains(id)) continue;
    Tensor replacement = (*hook)(*this, inputs, output);
    if (replacement.defined()) output = std::move(replacement);
  }
  return output;
}

HookHandle Module::register_forward_hook(const std::string& path, ForwardHook hook) {
  std::shared_ptr<Module> target = find_for("register_forward_hook", path);
  if (!target->hooks_) target->hooks_ = std::make_shared<HookRegistry>();
  const int64_t id = HookRegistry::next_id();
  target->hooks_->hooks.emplace_back(id, std::make_shared<const ForwardHook>(std::move(hook)));
  return HookHandle(target->hooks_, id);
}

HookHandle Module::register_forward_pre_hook(const std::string& path, ForwardPreHook hook) {
  std::shared_ptr<Module> target = find_for("register_forward_pre_hook", path);
  if (!target->hooks_) target->hooks_ = std::make_shared<HookRegistry>();
  const int64_t id = HookRegistry::next_id();
  target->hooks_->pre_hooks.emplace_back(id, std::make_shared<const ForwardPreHook>(std::move(hook)));
  return HookHandle(target->hooks_, id);
}

int64_t Module::num_hooks(bool recurse) const {
  if (!recurse) return hooks_ ? hooks_->size() : 0;
  int64_t total = 0;
  visit_modules([&](const std::string&, const Module& m, const std::shared_ptr<Module>*) {
    total += m.hooks_ ? m.hooks_->size() : 0;
  });
  return total;
}

}  // namespace vireo::nn
