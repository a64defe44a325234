// Module: the base of every layer and model, PyTorch's nn.Module in C++.
//
// A module owns named parameters (leaf tensors that require grad), named buffers (running statistics and
// other state that is saved but not trained) and named child modules, all in registration order. From
// these it derives everything PyTorch derives: dotted names ("layer1.0.conv1.weight"), the state dict,
// train/eval mode, device and dtype moves, and the printed tree.
//
// Calling a module — `(*model)(x)` — runs its forward pre-hooks, forward, then its forward hooks. Layers
// call their children the same way, so a hook registered anywhere in a model fires without the model
// knowing about it: `model->register_forward_hook("layer4", ...)` is how features are read and steered.
//
// Modules are held by std::shared_ptr (std::make_shared<nn::Linear>(3, 4)); copying one is not allowed,
// exactly as copying a PyTorch module shares it rather than duplicating it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/nn/hooks.h"
#include "engine/state_dict.h"
#include "engine/tensor.h"

namespace vireo::nn {

// What load_state_dict found: the module's keys absent from the dictionary, and the dictionary's keys the
// module does not have. Both empty after a strict load (a strict load with either throws instead).
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- registration ----
  // Makes `value` a leaf (detaching it if it has history) and sets requires_grad; returns the handle the
  // module keeps, so a layer writes `weight = register_parameter("weight", ...)`. An undefined value
  // reserves the name without a tensor, as PyTorch's `register_parameter("bias", None)`.
  Tensor register_parameter(std::string name, Tensor value, bool requires_grad = true);
  // A non-persistent buffer moves with the module but stays out of the state dict.
  Tensor register_buffer(std::string name, Tensor value, bool persistent = true);
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> child) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: the child must derive from nn::Module");
    add_child(std::move(name), child);
    return child;
  }

  // ---- introspection (registration order, depth first, self first — as PyTorch) ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  std::vector<std::shared_ptr<Module>> modules();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();  // self first, named ""
  // Elements over the distinct parameters (a shared parameter counts once), optionally only trainable ones.
  int64_t num_parameters(bool trainable_only = false) const;

  // The submodule at a dotted path ("layer1.0.conv1"; "" is this module).
  Module& find(const std::string& path);
  std::shared_ptr<Module> find_shared(const std::string& path);

  // "Linear", "Conv2d", ...: the class name without namespaces (override for a different printed name).
  virtual std::string type_name() const;
  // The text inside the parentheses of this module's line in the printed tree ("in_features=3, ...").
  virtual std::string extra_repr() const { return ""; }
  std::string str() const;  // the whole tree, printed like PyTorch

  // ---- modes and bulk operations ----
  virtual Module& train(bool on = true);  // this module and every descendant
  Module& eval() { return train(false); }
  bool is_training() const { return training_; }
  // Calls fn on every descendant (children first) and then on this module, as torch's apply.
  Module& apply(const std::function<void(Module&)>& fn);
  void zero_grad();  // drops every parameter's gradient (set to none)
  // Re-draws this module's own parameters with its default initialization (a no-op for parameterless
  // modules). Layers call it from their constructors.
  virtual void reset_parameters() {}

  // Moves / converts every parameter, buffer and gradient in place: the tensors keep their identity, so
  // every handle a layer, an optimizer or the user holds sees the new data. to(DType) converts floating
  // tensors only (integer buffers such as num_batches_tracked stay i64). Either everything moves or, on
  // an error, nothing does.
  Module& to(Device device);
  Module& to(DType dtype);
  // Where the module's tensors are: the device of its first parameter or buffer (cpu when it has none).
  // Code that feeds a model data from the host moves the inputs here.
  Device device() const;

  // ---- state ----
  // Parameters and persistent buffers under their dotted names, detached but sharing storage.
  StateDict state_dict() const;
  // Copies matching entries into this module's tensors in place (dtype converted). A shape mismatch
  // always throws; with strict, so do missing or unexpected keys — every problem named in one Error,
  // and nothing copied.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

  // ---- forward and hooks ----
  // The hooked call: pre-hooks, forward, hooks (each list in registration order).
  Tensor operator()(const Tensor& x);
  Tensor operator()(const std::vector<Tensor>& inputs);
  // Override one of these. The defaults forward one to the other (a single-input module accepts a
  // one-element list) and fail clearly when neither is overridden or the input count is wrong.
  virtual Tensor forward(const Tensor& x);
  virtual Tensor forward(const std::vector<Tensor>& inputs);

  // Activation checkpointing (engine/nn/checkpoint.h): when on, a call in training mode with gradients
  // recorded keeps none of this module's inner activations and recomputes them in the backward.
  void set_checkpointed(bool on = true) { checkpointed_ = on; }
  bool checkpointed() const { return checkpointed_; }

  // Hooks on the submodule at `path` ("" = this module); see engine/nn/hooks.h.
  HookHandle register_forward_hook(const std::string& path, ForwardHook hook);
  HookHandle register_forward_pre_hook(const std::string& path, ForwardPreHook hook);
  HookHandle register_forward_hook(ForwardHook hook) { return register_forward_hook("", std::move(hook)); }
  HookHandle register_forward_pre_hook(ForwardPreHook hook) { return register_forward_pre_hook("", std::move(hook)); }
  // Hooks registered on this module, plus on every descendant when `recurse`.
  int64_t num_hooks(bool recurse = true) const;

 protected:
  // The children in registration order, for containers.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& child_entries() const { return children_; }

 private:
  struct Buffer {
    std::string name;
    Tensor value;
    bool persistent;
  };

  void add_child(std::string name, std::shared_ptr<Module> child);
  void check_new_name(const char* what, const std::string& name) const;
  std::shared_ptr<Module> self_pointer();
  std::shared_ptr<Module> find_for(const char* op, const std::string& path);
  // Preorder walk over the distinct modules of the tree; `handle` is null for the module walked from.
  using Visitor = std::function<void(const std::string& name, const Module& module,
                                     const std::shared_ptr<Module>* handle)>;
  void visit_modules(const Visitor& visit) const;
  void collect_state(const std::string& prefix, StateDict& out) const;
  // Replaces the storage of every parameter, gradient and buffer that `wanted` selects by `convert` applied
  // to that whole storage, grouped by storage so that tensors sharing one keep sharing it.
  void convert_tensors(const std::function<bool(const Tensor&)>& wanted,
                       const std::function<Tensor(const Tensor&)>& convert);
  Tensor call_with_hooks(std::vector<Tensor> inputs);
  Tensor call_checkpointed(const std::vector<Tensor>& inputs);

  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::shared_ptr<HookRegistry> hooks_;  // created on the first registration
  bool training_ = true;
  bool checkpointed_ = false;
};

std::ostream& operator<<(std::ostream& os, const Module& module);

// A class's name without its namespaces ("vireo::nn::Linear" -> "Linear"), for messages and type_name().
std::string class_name(const std::type_info& type);

}  // namespace vireo::nn
