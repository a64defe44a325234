// Activation modules, torch.nn's, each a thin layer over the engine's activation op of the same name
// (engine/ops/activation.h, and softmax / log_softmax from engine/ops/loss.h).
#pragma once

#include "engine/nn/module.h"
#include "engine/ops/activation.h"

namespace vireo::nn {

class ReLU : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override;
};

// GELU(x) = x·Φ(x) with the exact erf, or the tanh approximation (GPT-2's) when asked.
// approx_backward: ReGELU2 (engine/ops/activation.h) — the same exact-erf forward, a backward from 2-bit
// codes, so the graph does not keep the input (exact-erf form only).
class GELU : public Module {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::none) : approximate(approximate) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const GeluApproximation approximate;
  bool approx_backward = false;
};

// approx_backward: ReSiLU2 — the exact SiLU forward, a backward from 2-bit codes.
class SiLU : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  bool approx_backward = false;
};

class Sigmoid : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override;
};

class Tanh : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const double negative_slope;
};

// softplus(x) = log(1 + exp(β·x))/β, linear above threshold/β.
class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0) : beta(beta), threshold(threshold) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const double beta, threshold;
};

class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim(dim) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const int64_t dim;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : dim(dim) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  const int64_t dim;
};

}  // namespace vireo::nn
