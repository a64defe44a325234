// Define-by-run autograd. Every differentiable op, after computing its output, calls `record`, which (when
// gradients are wanted) attaches a Node to the output: the op's name, edges to its inputs, and a backward
// function written with other ops — so a backward pass runs on whatever device the tensors live on.
// `Tensor::backward` walks the nodes in reverse topological order, accumulates gradients into leaves,
// and then frees the graph (unless retain_graph).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace vireo {

// Given the gradient of the loss with respect to a node's output, returns the gradient for each input
// (an undefined Tensor where an input needs none).
using BackwardFunction = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

// Where a node's input gradient goes: into another node, or into a leaf's .grad. Neither when the input
// does not require a gradient.
struct Edge {
  std::shared_ptr<Node> node;
  std::shared_ptr<TensorImpl> leaf;
  bool needs_grad() const { return node || leaf; }
};

struct Node {
  std::string op;
  std::vector<Edge> inputs;
  BackwardFunction backward;
  // Tensors the backward reads, with the storage version at the time they were saved: backward refuses
  // to run on data that was modified in place since.
  std::vector<std::pair<std::shared_ptr<Storage>, uint64_t>> saved_versions;
  // Hooks and retain_grad of the tensor this node produced.
  std::vector<std::pair<int, GradientHook>> hooks;
  std::weak_ptr<TensorImpl> retained_output;
  bool freed = false;
};

// Is gradient recording on for this thread? (on by default)
bool grad_enabled();
void set_grad_enabled(bool enabled);

// Turns gradient recording off for a scope: inference, optimizer updates, EMA updates.
class NoGrad {
 public:
  NoGrad() : previous_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGrad() { set_grad_enabled(previous_); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// Anomaly mode: every recorded op checks its output, and every backward step its gradients, for NaN/Inf
// and throws an Error naming the first op that produced one. Costs a pass over each tensor.
bool anomaly_mode();
void set_anomaly_mode(bool enabled);
class DetectAnomaly {
 public:
  DetectAnomaly() : previous_(anomaly_mode()) { set_anomaly_mode(true); }
  ~DetectAnomaly() { set_anomaly_mode(previous_); }

 private:
  bool previous_;
};

// True when gradients are being recorded and any input requires one.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches the history of `output`: called by every differentiable op after its forward kernel.
// `saved` lists the tensors the backward function captured, for the in-place modification check.
// Capture outputs as output.detach(), never the output itself (that would be a reference cycle).
// Returns `output` for convenience.
Tensor record(const char* op, Tensor output, const std::vector<Tensor>& inputs, BackwardFunction backward,
              const std::vector<Tensor>& saved = {});

// Runs backward from several roots at once (each with its gradient).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

// Throws an Error naming `op` when `tensor` holds a NaN or an infinity.
void check_finite(const char* op, const Tensor& tensor, const char* what);

}  // namespace vireo
