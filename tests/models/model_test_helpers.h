// Helpers the model suites share: a hand-written SGD loop (the optimizer library is separate), state-dict
// key lookups, element-wise comparison and the parameter count of layers written out by formula.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "gradcheck.h"

namespace vireo::testing {

// Trains `model` on one fixed batch with plain SGD, p ← p − lr·∇p, and returns the loss before each step.
inline std::vector<double> fit_batch(nn::Module& model, const std::function<Tensor()>& loss_of_batch, int steps,
                                     double learning_rate) {
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    model.zero_grad();
    const Tensor loss = loss_of_batch();
    losses.push_back(loss.item());
    loss.backward();
    NoGrad no_grad;
    for (Tensor& parameter : model.parameters())
      if (parameter.grad().defined()) parameter.add_(parameter.grad(), -learning_rate);
  }
  return losses;
}

inline bool has_key(const StateDict& state, const std::string& key) { return state.find(key) != state.end(); }

inline double max_abs_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  if (x.size() != y.size()) return INFINITY;
  double worst = 0.0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

// Parameter counts of the layers the models are built from.
inline int64_t conv_parameters(int64_t in, int64_t out, int64_t kernel, bool bias) {
  return in * out * kernel * kernel + (bias ? out : 0);
}
inline int64_t linear_parameters(int64_t in, int64_t out, bool bias = true) { return in * out + (bias ? out : 0); }
inline int64_t norm_parameters(int64_t channels) { return 2 * channels; }  // weight and bias

// Mean and (population) standard deviation of a tensor's values.
inline std::pair<double, double> mean_and_std(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  double mean = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double variance = 0.0;
  for (double x : v) variance += (x - mean) * (x - mean);
  return {mean, std::sqrt(variance / static_cast<double>(v.size()))};
}

}  // namespace vireo::testing
