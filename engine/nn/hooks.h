// Forward hooks: functions that run around a module's forward, PyTorch's register_forward_hook and
// register_forward_pre_hook. Feature extraction and steering are built on them, so a model never has to
// special-case either: every call of a module through Module::operator() runs its hooks.
//
//   pre-hook:  inputs  -> replacement inputs   (an empty vector keeps them)
//   hook:      output  -> replacement output   (an undefined Tensor keeps it)
//
// A hook may also return nothing (void): it only observes, and then it does not fire again when an
// activation-checkpointed block recomputes its forward during the backward (engine/nn/checkpoint.h) —
// it sees each forward once. A hook that returns a replacement fires in both passes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/nn/checkpoint.h"
#include "engine/tensor.h"

namespace vireo::nn {

class Module;

// Runs after forward. Written either as (output) -> Tensor or as (module, inputs, output) -> Tensor; both
// are stored in the second, fuller form.
class ForwardHook {
 public:
  using Function = std::function<Tensor(Module& module, const std::vector<Tensor>& inputs, const Tensor& output)>;

  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, ForwardHook> &&
             (std::is_invocable_v<F&, Module&, const std::vector<Tensor>&, const Tensor&> ||
              std::is_invocable_v<F&, const Tensor&>))
  ForwardHook(F hook) : function_(wrap(std::move(hook))) {}

  Tensor operator()(Module& module, const std::vector<Tensor>& inputs, const Tensor& output) const {
    return function_(module, inputs, output);
  }

 private:
  template <class F>
  static Function wrap(F hook) {
    if constexpr (std::is_invocable_v<F&, Module&, const std::vector<Tensor>&, const Tensor&>) {
      using Result = std::invoke_result_t<F&, Module&, const std::vector<Tensor>&, const Tensor&>;
      if constexpr (std::is_void_v<Result>)
        return [hook = std::move(hook)](Module& m, const std::vector<Tensor>& in, const Tensor& out) mutable {
          if (!in_checkpoint_recomputation()) hook(m, in, out);
          return Tensor();
        };
      else
        return Function(std::move(hook));
    } else {
      using Result = std::invoke_result_t<F&, const Tensor&>;
      return [hook = std::move(hook)](Module&, const std::vector<Tensor>&, const Tensor& out) mutable -> Tensor {
        if constexpr (std::is_void_v<Result>) {
          if (!in_checkpoint_recomputation()) hook(out);
          return Tensor();
        } else {
          return hook(out);
        }
      };
    }
  }

  Function function_;
};

// Runs before forward. Written as (module, inputs) -> inputs or as (inputs) -> inputs.
class ForwardPreHook {
 public:
  using Function = std::function<std::vector<Tensor>(Module& module, const std::vector<Tensor>& inputs)>;

  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, ForwardPreHook> &&
             (std::is_invocable_v<F&, Module&, const std::vector<Tensor>&> ||
              std::is_invocable_v<F&, const std::vector<Tensor>&>))
  ForwardPreHook(F hook) : function_(wrap(std::move(hook))) {}

  std::vector<Tensor> operator()(Module& module, const std::vector<Tensor>& inputs) const {
    return function_(module, inputs);
  }

 private:
  template <class F>
  static Function wrap(F hook) {
    if constexpr (std::is_invocable_v<F&, Module&, const std::vector<Tensor>&>) {
      using Result = std::invoke_result_t<F&, Module&, const std::vector<Tensor>&>;
      return [hook = std::move(hook)](Module& m, const std::vector<Tensor>& in) mutable -> std::vector<Tensor> {
        if constexpr (std::is_void_v<Result>) {
          if (!in_checkpoint_recomputation()) hook(m, in);
          return {};
        } else {
          return hook(m, in);
        }
      };
    } else {
      using Result = std::invoke_result_t<F&, const std::vector<Tensor>&>;
      return [hook = std::move(hook)](Module&, const std::vector<Tensor>& in) mutable -> std::vector<Tensor> {
        if constexpr (std::is_void_v<Result>) {
          if (!in_checkpoint_recomputation()) hook(in);
          return {};
        } else {
          return hook(in);
        }
      };
    }
  }

  Function function_;
};

// The hooks registered on one module, in registration order. A module owns its registry through a
// shared_ptr; handles hold a weak_ptr, so removing a hook after the module died is a harmless no-op.
struct HookRegistry {
  std::vector<std::pair<int64_t, std::shared_ptr<const ForwardPreHook>>> pre_hooks;
  std::vector<std::pair<int64_t, std::shared_ptr<const ForwardHook>>> hooks;

  // A process-wide id, so a handle can never remove another registration's hook.
  static int64_t next_id();
  bool contains(int64_t id) const;
  void remove(int64_t id);
  int64_t size() const { return static_cast<int64_t>(pre_hooks.size() + hooks.size()); }
};

// Returned by register_forward_hook / register_forward_pre_hook. remove() unregisters the hook (again is a
// no-op, as is removing after the module died). Destroying a handle leaves the hook in place, as PyTorch.
class HookHandle {
 public:
  HookHandle() = default;
  HookHandle(std::weak_ptr<HookRegistry> registry, int64_t id) : registry_(std::move(registry)), id_(id) {}

  void remove();
  bool active() const;  // still registered on a living module
  int64_t id() const { return id_; }

 private:
  std::weak_ptr<HookRegistry> registry_;
  int64_t id_ = 0;
};

}  // namespace vireo::nn
