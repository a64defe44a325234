// Steering points: the module outputs an intervention reads and edits, and the per-unit responses collected
// there through forward hooks.
//
// A point is a module path of the model ("blocks.3.mlp.fc1"), chosen by its exact name or by a regular
// expression matched against every path of named_modules() (`blocks\.\d+\.mlp\.fc1`). A point's output has
// one *unit* per feature: the last dimension of a [N, D] or [N, T, D] output, the channel of a
// [N, C, H, W] map. A unit's *response* to a sample is one number, the output pooled over everything else:
//
//   [N, D]        as is
//   [N, T, D]     over the T tokens: mean (Linear-AcT) or max (AurA)
//   [N, C, H, W]  mean over the H×W positions (the Pooling choice does not apply)
//
// ResponseCollector hooks the points, pools each batch's outputs (detached, in f64 on the CPU) and appends
// them, so a fit sees an [N, U] table of responses per point for all the samples it was shown.
#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace vireo::steering {

enum class Pooling { mean, max };  // over the tokens of a [N, T, D] output

// The paths of `model` that equal `pattern` or match it as a whole (std::regex, ECMAScript), in
// named_modules() order. No match is an Error naming the pattern and a few paths of the model.
std::vector<std::string> select_points(nn::Module& model, const std::string& pattern);
// Several patterns; their matches in named_modules() order, each path once.
std::vector<std::string> select_points(nn::Module& model, const std::vector<std::string>& patterns);

// The unit axis of an output of rank 2, 3 or 4 (1 for maps, the last otherwise); any other rank is an Error
// naming `point` and the shape.
int64_t unit_dimension(const Tensor& output, const std::string& point);
// One response per sample and unit: [N, U] in the output's dtype, pooled as the file comment says.
Tensor pool_responses(const Tensor& output, Pooling pooling, const std::string& point);

// Collects pooled responses at `points` for as long as it lives (or until remove()). Each forward pass of
// the model through operator() appends one [batch, U] block per point.
class ResponseCollector {
 public:
  ResponseCollector(nn::Module& model, std::vector<std::string> points, Pooling pooling);
  ~ResponseCollector();
  ResponseCollector(const ResponseCollector&) = delete;
  ResponseCollector& operator=(const ResponseCollector&) = delete;

  void remove();  // unregisters the hooks; the responses stay readable
  const std::vector<std::string>& points() const { return points_; }
  // [N, U] f64 on the CPU: every sample seen so far at `point`, in the order they passed.
  Tensor responses(const std::string& point) const;
  // The points in the order their outputs were first computed during a forward pass (model order).
  const std::vector<std::string>& order_seen() const { return order_seen_; }

 private:
  std::vector<std::string> points_;
  Pooling pooling_;
  std::map<std::string, std::vector<Tensor>> blocks_;
  std::vector<std::string> order_seen_;
  std::vector<nn::HookHandle> hooks_;
};

// Puts a model in eval mode (dropout off, batch norm on running statistics) for a scope, then back to the
// mode it was in: fits read a model as it is used, never as it trains.
class EvalMode {
 public:
  explicit EvalMode(nn::Module& model) : model_(model), was_training_(model.is_training()) { model.eval(); }
  ~EvalMode() { model_.train(was_training_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  nn::Module& model_;
  bool was_training_;
};

// Turns off requires_grad on a model's parameters for a scope, then back on for those that had it: the
// model is frozen while only the steering parameters (or the inputs) take gradients.
class FrozenParameters {
 public:
  explicit FrozenParameters(nn::Module& model) {
    for (Tensor& parameter : model.parameters()) {
      if (parameter.requires_grad()) {
        parameter.requires_grad_(false);
        frozen_.push_back(parameter);
      }
    }
  }
  ~FrozenParameters() {
    for (Tensor& parameter : frozen_) parameter.requires_grad_(true);
  }
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<Tensor> frozen_;
};

// Forward hooks removed together at the end of a scope, however it ends.
class ScopedHooks {
 public:
  ScopedHooks() = default;
  ~ScopedHooks() {
    for (nn::HookHandle& hook : hooks_) hook.remove();
  }
  ScopedHooks(const ScopedHooks&) = delete;
  ScopedHooks& operator=(const ScopedHooks&) = delete;
  void add(nn::HookHandle hook) { hooks_.push_back(std::move(hook)); }

 private:
  std::vector<nn::HookHandle> hooks_;
};

// Runs every batch through `model` (in eval mode, without gradient) and returns the responses per point.
// Each forward pass stops as soon as every point has produced its output: the layers after the last point
// are never computed (so collecting at an early point of a large model costs only the layers before it).
std::map<std::string, Tensor> collect_responses(nn::Module& model, const std::vector<std::string>& points,
                                                const std::vector<Tensor>& batches, Pooling pooling);

// The points in the order a forward pass of `batch` computes them (each point must be reached).
std::vector<std::string> points_in_model_order(nn::Module& model, const std::vector<std::string>& points,
                                               const Tensor& batch);

}  // namespace vireo::steering
