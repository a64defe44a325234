#include "engine/autograd.h"

#include <cmath>
#include <unordered_map>

#include "engine/ops.h"

namespace vireo {
namespace {
thread_local bool g_grad_enabled = true;
bool g_anomaly_mode = false;
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool enabled) { g_grad_enabled = enabled; }
bool anomaly_mode() { return g_anomaly_mode; }
void set_anomaly_mode(bool enabled) { g_anomaly_mode = enabled; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void check_finite(const char* op, const Tensor& tensor, const char* what) {
  if (!tensor.defined() || !is_floating(tensor.dtype())) return;
  NoGrad no_grad;
  for (double v : tensor.to_vector())
    if (!std::isfinite(v)) fail("anomaly: ", op, " produced a non-finite value (", v, ") in its ", what, " ",
                                describe(tensor));
}

Tensor record(const char* op, Tensor output, const std::vector<Tensor>& inputs, BackwardFunction backward,
              const std::vector<Tensor>& saved) {
  if (anomaly_mode()) check_finite(op, output, "output");
  if (!needs_grad(inputs)) return output;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->inputs.reserve(inputs.size());
  for (const Tensor& input : inputs) {
    Edge edge;
    if (input.defined() && input.requires_grad()) {
      if (input.grad_fn()) edge.node = input.grad_fn();
      else edge.leaf = input.impl_ptr();
    }
    node->inputs.push_back(std::move(edge));
  }
  node->backward = std::move(backward);
  for (const Tensor& t : saved)
    if (t.defined()) node->saved_versions.emplace_back(t.storage(), t.version());
  // The output may be a fresh tensor or a view that shares an input's impl fields; give it its own impl
  // if it is one of the inputs (an op that returned its argument unchanged).
  for (const Tensor& input : inputs)
    if (input.defined() && input.impl() == output.impl()) output = output.detach();
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
  return output;
}

namespace {

Tensor apply_hooks(const std::vector<std::pair<int, GradientHook>>& hooks, Tensor grad) {
  for (const auto& [id, hook] : hooks) {
    Tensor replaced = hook(grad);
    if (replaced.defined()) {
      VIREO_CHECK(replaced.shape() == grad.shape(), "gradient hook: returned ", describe(replaced), " for a gradient ",
                  describe(grad));
      grad = replaced;
    }
  }
  return grad;
}

Tensor accumulate(const Tensor& existing, const Tensor& incoming) {
  return existing.defined() ? add(existing, incoming) : incoming;
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  VIREO_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(), " gradients");
  // Seed gradients.
  std::unordered_map<Node*, Tensor> pending;  // gradient accumulated for each node's output so far
  std::vector<std::shared_ptr<Node>> starts;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, Tensor>> leaf_seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    VIREO_CHECK(root.defined(), "backward: the root tensor is undefined");
    VIREO_CHECK(root.requires_grad(), "backward: the tensor ", describe(root),
                " does not require grad and has no history (was it computed under NoGrad, or detached?)");
    Tensor grad = grads[i];
    if (!grad.defined()) {
      VIREO_CHECK(root.numel() == 1, "backward: a gradient can be implied only for one-element outputs; ",
                  describe(root), " needs an explicit gradient");
      grad = ones(root.shape(), root.options());
    }
    VIREO_CHECK(grad.shape() == root.shape(), "backward: gradient ", describe(grad), " does not match the output ",
                describe(root));
    if (root.grad_fn()) {
      pending[root.grad_fn().get()] = accumulate(pending[root.grad_fn().get()], grad);
      starts.push_back(root.grad_fn());
    } else {
      leaf_seeds.emplace_back(root.impl_ptr(), grad);
    }
  }

  // Count, for each node, how many edges lead into it from nodes reachable from the roots; a node runs
  // once all of them have delivered (reverse topological order, Kahn's algorithm).
  std::unordered_map<Node*, int> dependencies;
  {
    std::vector<Node*> stack;
    std::unordered_map<Node*, bool> seen;
    for (auto& start : starts)
      if (!seen[start.get()]) {
        seen[start.get()] = true;
        stack.push_back(start.get());
      }
    while (!stack.empty()) {
      Node* node = stack.back();
      stack.pop_back();
      if (node->freed)
        fail("backward: the graph through '", node->op,
             "' was already freed by an earlier backward; pass retain_graph=true to the first one");
      for (const Edge& edge : node->inputs) {
        if (!edge.node) continue;
        ++dependencies[edge.node.get()];
        if (!seen[edge.node.get()]) {
          seen[edge.node.get()] = true;
          stack.push_back(edge.node.get());
        }
      }
    }
  }

  NoGrad no_grad;  // backward functions compute with ops; their work is not itself recorded

  auto deliver_to_leaf = [](const std::shared_ptr<TensorImpl>& leaf, Tensor&& incoming) {
    Tensor grad = std::move(incoming);
    grad = apply_hooks(leaf->hooks, grad);
    VIREO_CHECK(grad.shape() == leaf->shape, "backward: gradient ", describe(grad), " for a leaf of shape ",
                leaf->shape);
    if (grad.dtype() != leaf->dtype) grad = grad.to(leaf->dtype);
    // A leaf owns its gradient: a contiguous tensor nobody else holds (the incoming one may be a
    // broadcast view, or shared with another leaf), replaced out of place on accumulation so that a
    // gradient someone kept from an earlier backward never changes behind them. Optimizers may then
    // update it in place. An incoming gradient that is already such a tensor is adopted without a copy.
    if (leaf->grad.defined()) {
      leaf->grad = add(leaf->grad, grad);
    } else {
      const bool sole_owner = grad.impl_ptr().use_count() == 1 && grad.storage().use_count() == 1;
      const bool whole_buffer = grad.is_contiguous() && grad.offset() == 0;
      leaf->grad = sole_owner && whole_buffer ? grad : clone(grad);
    }
  };
  for (auto& [leaf, grad] : leaf_seeds) deliver_to_leaf(leaf, Tensor(grad));

  // Nodes whose every consumer has delivered. A node that received no gradient at all (every path to it
  // returned an undefined gradient) still passes through, so that its inputs' counts drop.
  std::vector<std::shared_ptr<Node>> ready;
  for (auto& start : starts)
    if (dependencies[start.get()] == 0) {
      ready.push_back(start);
      dependencies[start.get()] = -1;  // queued once, even when several roots share it
    }
  std::vector<std::shared_ptr<Node>> visited;
  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.back();
    ready.pop_back();
    visited.push_back(node);
    std::vector<Tensor> input_grads(node->inputs.size());
    if (auto found = pending.find(node.get()); found != pending.end()) {
      Tensor grad = apply_hooks(node->hooks, std::move(found->second));
      pending.erase(found);
      if (auto retained = node->retained_output.lock()) retained->grad = accumulate(retained->grad, grad);
      for (const auto& [storage, version] : node->saved_versions)
        if (storage->version() != version)
          fail("backward of '", node->op, "': a tensor it saved was modified in place afterwards (version ", version,
               " when saved, now ", storage->version(), "); clone it before modifying it");
      input_grads = node->backward(grad);
      VIREO_CHECK(input_grads.size() == node->inputs.size(), "backward of '", node->op, "' returned ",
                  input_grads.size(), " gradients for ", node->inputs.size(), " inputs");
    }
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      const Edge& edge = node->inputs[i];
      Tensor& input_grad = input_grads[i];
      if (input_grad.defined() && anomaly_mode())
        check_finite(("backward of " + node->op).c_str(), input_grad, "gradient");
      if (edge.node) {
        if (input_grad.defined()) pending[edge.node.get()] = accumulate(pending[edge.node.get()], input_grad);
        if (--dependencies[edge.node.get()] == 0) ready.push_back(edge.node);
      } else if (edge.leaf && input_grad.defined()) {
        deliver_to_leaf(edge.leaf, std::move(input_grad));
      }
    }
  }

  if (!retain_graph) {
    // Free saved tensors now rather than when the output tensors die.
    for (auto& node : visited) {
      node->backward = nullptr;
      node->saved_versions.clear();
      node->freed = true;
    }
  }
}

}  // namespace vireo
