// DeepPCR: Newton iterations over a whole MLP chain with parallel-cyclic-reduction solves, its backward,
// and the sequential reference (engine/parallel/deep_pcr.h has the mathematics and the API).
//
// Everything runs in Eigen on raw f32/f64 buffers, templated on the scalar. Layout: a batch of states is a
// row-major B×d block (row b is sample b), so a layer of the chain is the product Z_l = σ(Z_{l−1} W_lᵀ + 1 b_lᵀ);
// a per-sample Jacobian is a row-major d×d block; the recurrence keeps row r = i·B + b for equation i,
// sample b. Parallel work goes through cpu::parallel_for, one contiguous range of layers or rows per
// thread; each number is computed by exactly one thread, so results do not depend on the thread count.
#include "engine/parallel/deep_pcr.h"

// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized inside Eigen's kernels (as in engine/cpu/gemm.cpp).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

// Each product here is small (d ≤ a few hundred) and runs inside our own parallel loops.
#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "engine/autograd.h"
#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"

namespace vireo::deep_pcr {
namespace {

template <class Scalar>
using RowMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class Scalar>
using MatrixView = Eigen::Map<RowMatrix<Scalar>>;
template <class Scalar>
using ConstMatrixView = Eigen::Map<const RowMatrix<Scalar>>;
template <class Scalar>
using VectorView = Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;
template <class Scalar>
using ConstVectorView = Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>;

// The least number of loop iterations worth a thread of their own, for iterations of `work` multiply-adds
// each: about 16k multiply-adds, a few microseconds, pays for waking a thread.
int64_t grain_for(int64_t work) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(work, 1)); }

int64_t ceil_log2(int64_t n) {
  int64_t sweeps = 0;
  for (int64_t span = 1; span < n; span *= 2) ++sweeps;
  return sweeps;
}

// σ(x) and σ'(x) together.
template <class Scalar>
void activate(Activation activation, Scalar x, Scalar& value, Scalar& slope) {
  switch (activation) {
    case Activation::identity:
      value = x, slope = 1;
      return;
    case Activation::relu:
      value = x > 0 ? x : Scalar(0), slope = x > 0 ? Scalar(1) : Scalar(0);
      return;
    case Activation::tanh:
      value = std::tanh(x), slope = 1 - value * value;
      return;
    case Activation::sigmoid:
      value = 1 / (1 + std::exp(-x)), slope = value * (1 - value);
      return;
    case Activation::silu: {  // x·s(x), derivative s·(1 + x·(1 − s))
      const Scalar sigmoid = 1 / (1 + std::exp(-x));
      value = x * sigmoid, slope = sigmoid * (1 + x * (1 - sigmoid));
      return;
    }
    case Activation::gelu: {  // x·Φ(x), derivative Φ(x) + x·φ(x)
      const Scalar cdf = Scalar(0.5) * (1 + std::erf(x * Scalar(M_SQRT1_2)));
      const Scalar density = std::exp(Scalar(-0.5) * x * x) * Scalar(0.5 * M_2_SQRTPI * M_SQRT1_2);
      value = x * cdf, slope = cdf + x * density;
      return;
    }
  }
}

// The chain's parameters as raw buffers: W_l is `weights + (l − 1)·d²`, l = 1 … L.
template <class Scalar>
struct Chain {
  int64_t layers, batch, width;
  const Scalar* weights;
  const Scalar* biases;
  Activation activation;

  ConstMatrixView<Scalar> weight(int64_t layer) const {
    return {weights + (layer - 1) * width * width, width, width};
  }
  Eigen::Map<const Eigen::Matrix<Scalar, 1, Eigen::Dynamic>> bias(int64_t layer) const {
    return {biases + (layer - 1) * width, width};
  }
  // A_l = Z_{l−1} W_lᵀ + 1 b_lᵀ: the preactivations of layer l for the whole batch.
  RowMatrix<Scalar> preactivation(int64_t layer, const Scalar* previous) const {
    RowMatrix<Scalar> result = ConstMatrixView<Scalar>(previous, batch, width) * weight(layer).transpose();
    result.rowwise() += bias(layer);
    return result;
  }
  int64_t state_size() const { return batch * width; }
};

// The equations x_i = M_i x_{i−1} + c_i (i = 0 … n−1, x_{−1} = 0) of `batch` samples, with a second pair of
// buffers for the double-buffered sweeps. `offsets` holds x once solve() returns.
template <class Scalar>
struct Recurrence {
  int64_t equations, batch, width;
  std::vector<Scalar> matrices, offsets, next_matrices, next_offsets;

  Recurrence(int64_t equations, int64_t batch, int64_t width)
      : equations(equations), batch(batch), width(width),
        matrices(equations * batch * width * width), offsets(equations * batch * width),
        next_matrices(matrices.size()), next_offsets(offsets.size()) {}

  Scalar* matrix(int64_t row) { return matrices.data() + row * width * width; }
  Scalar* offset(int64_t row) { return offsets.data() + row * width; }

  // Parallel cyclic reduction; returns the number of sweeps, ⌈log₂ n⌉.
  int64_t solve() {
    const int64_t rows = equations * batch, d = width, dd = width * width;
    int64_t sweeps = 0;
    for (int64_t stride = 1; stride < equations; stride *= 2, ++sweeps) {
      // Rows of equations i < stride are solved; row r's partner, equation i − stride, is row r − known.
      const int64_t known = stride * batch;
      std::copy(offsets.begin(), offsets.begin() + known * d, next_offsets.begin());
      // c_i ← M_i c_{i−k} + c_i for every unsolved row.
      cpu::parallel_for(known, rows, grain_for(dd), [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row)
          VectorView<Scalar>(next_offsets.data() + row * d, d).noalias() =
              ConstMatrixView<Scalar>(matrices.data() + row * dd, d, d) *
                  ConstVectorView<Scalar>(offsets.data() + (row - known) * d, d) +
              ConstVectorView<Scalar>(offsets.data() + row * d, d);
      });
      // M_i ← M_i M_{i−k} where equation i − k is itself unsolved (i ≥ 2k); for stride < i < 2k the new
      // equation no longer depends on an unknown, and in the last sweep no row needs its matrix again.
      cpu::parallel_for(2 * known, rows, grain_for(dd * d), [&](int64_t begin, int64_t end) {
        for (int64_t row = begin; row < end; ++row)
          MatrixView<Scalar>(next_matrices.data() + row * dd, d, d).noalias() =
              ConstMatrixView<Scalar>(matrices.data() + row * dd, d, d) *
              ConstMatrixView<Scalar>(matrices.data() + (row - known) * dd, d, d);
      });
      std::swap(matrices, next_matrices);
      std::swap(offsets, next_offsets);
    }
    return sweeps;
  }
};

// One Newton linearisation of the whole chain at `states` ((L + 1)·B·d: z_0 … z_L), all layers at once:
// equation i = l − 1 of `recurrence` becomes z'_l = J_l z'_{l−1} + c_l with J_l = diag(σ'(a_l)) W_l and
// c_l = f_l(z_{l−1}) − J_l z_{l−1} = σ(a_l) − σ'(a_l) ⊙ (a_l − b_l); equation 0 is z'_1 = f_1(z_0).
// Returns the residual max |z_l − f_l(z_{l−1})| / max(1, max |f_l(z_{l−1})|).
template <class Scalar>
double linearise(const Chain<Scalar>& chain, const std::vector<Scalar>& states, Recurrence<Scalar>& recurrence) {
  const int64_t batch = chain.batch, d = chain.width, size = chain.state_size();
  std::vector<Scalar> layer_residual(chain.layers), layer_scale(chain.layers);
  cpu::parallel_for(1, chain.layers + 1, grain_for(2 * size * d), [&](int64_t begin, int64_t end) {
    for (int64_t layer = begin; layer < end; ++layer) {
      const Scalar* previous = states.data() + (layer - 1) * size;
      const Scalar* current = states.data() + layer * size;
      const RowMatrix<Scalar> preactivation = chain.preactivation(layer, previous);
      const auto weight = chain.weight(layer);
      const int64_t equation = layer - 1;
      Scalar residual = 0, scale = 0;
      Eigen::Matrix<Scalar, Eigen::Dynamic, 1> slopes(d);
      for (int64_t sample = 0; sample < batch; ++sample) {
        Scalar* offset = recurrence.offset(equation * batch + sample);
        for (int64_t unit = 0; unit < d; ++unit) {
          const Scalar a = preactivation(sample, unit);
          Scalar value, slope;
          activate(chain.activation, a, value, slope);
          residual = std::max(residual, std::abs(current[sample * d + unit] - value));
          scale = std::max(scale, std::abs(value));
          slopes[unit] = slope;
          offset[unit] = equation == 0 ? value : value - slope * (a - chain.biases[(layer - 1) * d + unit]);
        }
        if (equation > 0)
          MatrixView<Scalar>(recurrence.matrix(equation * batch + sample), d, d).noalias() =
              slopes.asDiagonal() * weight;
      }
      layer_residual[layer - 1] = residual;
      layer_scale[layer - 1] = scale;
    }
  });
  const Scalar residual = *std::max_element(layer_residual.begin(), layer_residual.end());
  const Scalar scale = *std::max_element(layer_scale.begin(), layer_scale.end());
  return static_cast<double>(residual) / std::max(1.0, static_cast<double>(scale));
}

template <class Scalar>
Forward newton_forward(const Chain<Scalar>& chain, const Scalar* input, const Scalar* initial_guess,
                       double tolerance, int64_t max_iterations, TensorOptions tensor_options) {
  const int64_t size = chain.state_size();
  std::vector<Scalar> states((chain.layers + 1) * size);  // z_0 … z_L; z_1 … z_L start at 0 or the guess
  std::copy(input, input + size, states.begin());
  if (initial_guess) std::copy(initial_guess, initial_guess + chain.layers * size, states.begin() + size);
  Recurrence<Scalar> recurrence(chain.layers, chain.batch, chain.width);

  Statistics statistics;
  statistics.sweeps_per_solve = ceil_log2(chain.layers);
  for (;;) {
    statistics.residual = linearise(chain, states, recurrence);
    statistics.residual_history.push_back(statistics.residual);
    if (statistics.residual <= tolerance || statistics.newton_iterations == max_iterations) break;
    recurrence.solve();
    std::copy(recurrence.offsets.begin(), recurrence.offsets.end(), states.begin() + size);
    ++statistics.newton_iterations;
  }
  statistics.converged = statistics.residual <= tolerance;
  statistics.sequential_steps = statistics.newton_iterations * (statistics.sweeps_per_solve + 1) + 1;

  Tensor result = Tensor::empty({chain.layers, chain.batch, chain.width}, tensor_options);
  std::memcpy(result.data<Scalar>(), states.data() + size, chain.layers * size * sizeof(Scalar));
  return {result, statistics};
}

template <class Scalar>
Forward sequential_chain(const Chain<Scalar>& chain, const Scalar* input, TensorOptions tensor_options) {
  const int64_t size = chain.state_size();
  Tensor result = Tensor::empty({chain.layers, chain.batch, chain.width}, tensor_options);
  Scalar* states = result.data<Scalar>();
  for (int64_t layer = 1; layer <= chain.layers; ++layer) {
    const RowMatrix<Scalar> preactivation = chain.preactivation(layer, layer == 1 ? input : states + (layer - 2) * size);
    Scalar* current = states + (layer - 1) * size;
    Scalar slope;
    for (int64_t k = 0; k < size; ++k) activate(chain.activation, preactivation.data()[k], current[k], slope);
  }
  Statistics statistics{.newton_iterations = 0, .sweeps_per_solve = 0, .sequential_steps = chain.layers,
                        .residual = 0, .residual_history = {}, .converged = true};
  return {result, statistics};
}

// Where a backward pass reads the gradients that reach the states directly: e_l for every layer, or e_L
// alone (then e_l = 0 for l < L).
template <class Scalar>
struct StateGradients {
  const Scalar* values;
  bool every_layer;
  int64_t layers, size;
  const Scalar* at(int64_t layer) const {  // nullptr where e_l = 0
    if (every_layer) return values + (layer - 1) * size;
    return layer == layers ? values : nullptr;
  }
};

// The gradients once g_l = ∂loss/∂z_l (total) is known for every layer: δ_l = σ'(a_l) ⊙ g_l,
// ∂W_l = δ_lᵀ Z_{l−1}, ∂b_l = Σ_b δ_l, and ∂z_0 = δ_1 W_1 — independent across layers.
template <class Scalar>
void parameter_gradients(const Chain<Scalar>& chain, const Scalar* input, const Scalar* states, const Scalar* slopes,
                         const Scalar* total_gradients, Gradients& gradients) {
  const int64_t batch = chain.batch, d = chain.width, size = chain.state_size();
  Scalar* weight_gradients = gradients.weights.data<Scalar>();
  Scalar* bias_gradients = gradients.biases.data<Scalar>();
  cpu::parallel_for(1, chain.layers + 1, grain_for(2 * size * d), [&](int64_t begin, int64_t end) {
    for (int64_t layer = begin; layer < end; ++layer) {
      const int64_t at = (layer - 1) * size;
      const RowMatrix<Scalar> delta = ConstMatrixView<Scalar>(slopes + at, batch, d).cwiseProduct(
          ConstMatrixView<Scalar>(total_gradients + at, batch, d));
      const Scalar* previous = layer == 1 ? input : states + (layer - 2) * size;
      MatrixView<Scalar>(weight_gradients + (layer - 1) * d * d, d, d).noalias() =
          delta.transpose() * ConstMatrixView<Scalar>(previous, batch, d);
      Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>(bias_gradients + (layer - 1) * d, d) = delta.colwise().sum();
      if (layer == 1)
        MatrixView<Scalar>(gradients.input.data<Scalar>(), batch, d).noalias() = delta * chain.weight(1);
    }
  });
}

template <class Scalar>
Gradients pcr_backward(const Chain<Scalar>& chain, const Scalar* input, const Scalar* states,
                       const StateGradients<Scalar>& direct, TensorOptions tensor_options) {
  const int64_t layers = chain.layers, batch = chain.batch, d = chain.width, size = chain.state_size();
  // Unknowns u_i = g_{L−i}, i = 0 … L−1: u_0 = e_L, u_i = J_{L−i+1}ᵀ u_{i−1} + e_{L−i}. Layer l's Jacobian
  // serves equation L − l + 1 (layer 1's only gives ∂z_0, afterwards).
  Recurrence<Scalar> recurrence(layers, batch, d);
  std::vector<Scalar> slopes(layers * size);
  cpu::parallel_for(1, layers + 1, grain_for(2 * size * d), [&](int64_t begin, int64_t end) {
    for (int64_t layer = begin; layer < end; ++layer) {
      const RowMatrix<Scalar> preactivation = chain.preactivation(layer, layer == 1 ? input : states + (layer - 2) * size);
      Scalar* slope = slopes.data() + (layer - 1) * size;
      Scalar value;
      for (int64_t k = 0; k < size; ++k) activate(chain.activation, preactivation.data()[k], value, slope[k]);
      const int64_t equation = layers - layer;  // the equation whose offset is e_l
      const Scalar* gradient = direct.at(layer);
      if (gradient) std::copy(gradient, gradient + size, recurrence.offset(equation * batch));
      if (layer == 1) continue;
      for (int64_t sample = 0; sample < batch; ++sample)  // J_lᵀ = W_lᵀ diag(σ'(a_l))
        MatrixView<Scalar>(recurrence.matrix((equation + 1) * batch + sample), d, d).noalias() =
            chain.weight(layer).transpose() * ConstVectorView<Scalar>(slope + sample * d, d).asDiagonal();
    }
  });
  Gradients gradients{.input = Tensor::empty({batch, d}, tensor_options),
                      .weights = Tensor::empty({layers, d, d}, tensor_options),
                      .biases = Tensor::empty({layers, d}, tensor_options)};
  gradients.sweeps = recurrence.solve();
  // The solution runs from g_L down; the parameter step reads g_l at (l − 1)·B·d.
  std::vector<Scalar> total(layers * size);
  for (int64_t layer = 1; layer <= layers; ++layer) {
    const Scalar* solved = recurrence.offset((layers - layer) * batch);
    std::copy(solved, solved + size, total.begin() + (layer - 1) * size);
  }
  parameter_gradients(chain, input, states, slopes.data(), total.data(), gradients);
  return gradients;
}

// The chain rule layer after layer, from l = L down: g_L = e_L, δ_l = σ'(a_l) ⊙ g_l, ∂W_l = δ_lᵀ Z_{l−1},
// ∂b_l = Σ_b δ_l, g_{l−1} = J_lᵀ g_l + e_{l−1} (row by row: δ_l W_l), and ∂z_0 = g_0.
template <class Scalar>
Gradients sequential_chain_rule(const Chain<Scalar>& chain, const Scalar* input, const Scalar* states,
                                const StateGradients<Scalar>& direct, TensorOptions tensor_options) {
  const int64_t layers = chain.layers, batch = chain.batch, d = chain.width, size = chain.state_size();
  Gradients gradients{.input = Tensor::empty({batch, d}, tensor_options),
                      .weights = Tensor::empty({layers, d, d}, tensor_options),
                      .biases = Tensor::empty({layers, d}, tensor_options), .sweeps = 0};
  RowMatrix<Scalar> gradient = RowMatrix<Scalar>::Zero(batch, d), delta(batch, d);
  for (int64_t layer = layers; layer >= 1; --layer) {
    if (const Scalar* e = direct.at(layer)) gradient += ConstMatrixView<Scalar>(e, batch, d);
    const Scalar* previous = layer == 1 ? input : states + (layer - 2) * size;
    const RowMatrix<Scalar> preactivation = chain.preactivation(layer, previous);
    Scalar value, slope;
    for (int64_t k = 0; k < size; ++k) {
      activate(chain.activation, preactivation.data()[k], value, slope);
      delta.data()[k] = slope * gradient.data()[k];
    }
    MatrixView<Scalar>(gradients.weights.data<Scalar>() + (layer - 1) * d * d, d, d).noalias() =
        delta.transpose() * ConstMatrixView<Scalar>(previous, batch, d);
    Eigen::Map<Eigen::Matrix<Scalar, 1, Eigen::Dynamic>>(gradients.biases.data<Scalar>() + (layer - 1) * d, d) =
        delta.colwise().sum();
    gradient.noalias() = delta * chain.weight(layer);
  }
  MatrixView<Scalar>(gradients.input.data<Scalar>(), batch, d) = gradient;
  return gradients;
}

// ---- the Tensor boundary ----

struct ChainShape {
  int64_t layers, batch, width;
};

ChainShape check_chain(const char* op, const Tensor& input, const Tensor& weights, const Tensor& biases) {
  VIREO_CHECK(input.defined() && weights.defined() && biases.defined(), op, ": the input, weights or biases are undefined");
  VIREO_CHECK(input.dim() == 2, op, ": the input must be [B, d], got ", describe(input));
  const int64_t batch = input.size(0), width = input.size(1);
  VIREO_CHECK(weights.dim() == 3 && weights.size(0) >= 1 && weights.size(1) == width && weights.size(2) == width, op,
              ": the weights must be [L, d, d] with L ≥ 1 and d = ", width, " (the input's width), got ", describe(weights),
              " for the input ", describe(input));
  const int64_t layers = weights.size(0);
  VIREO_CHECK(biases.dim() == 2 && biases.size(0) == layers && biases.size(1) == width, op, ": the biases must be [",
              layers, ", ", width, "] for the weights ", describe(weights), ", got ", describe(biases));
  for (const Tensor* tensor : {&input, &weights, &biases}) {
    VIREO_CHECK(tensor->device().is_cpu(), op, ": runs on the CPU, got ", describe(*tensor));
    VIREO_CHECK(tensor->dtype() == input.dtype() && (input.dtype() == DType::f32 || input.dtype() == DType::f64), op,
                ": needs the input, weights and biases all f32 or all f64, got ", describe(input), ", ", describe(weights),
                " and ", describe(biases));
  }
  VIREO_CHECK(batch >= 1 && width >= 1, op, ": the input ", describe(input), " is empty");
  return {layers, batch, width};
}

void check_states(const char* op, const char* what, const Tensor& tensor, const ChainShape& shape, DType dtype,
                  bool last_layer_allowed) {
  const bool every_layer = tensor.defined() && tensor.dim() == 3 && tensor.size(0) == shape.layers;
  const bool last_layer = last_layer_allowed && tensor.defined() && tensor.dim() == 2;
  VIREO_CHECK((every_layer || last_layer) && tensor.size(-2) == shape.batch && tensor.size(-1) == shape.width &&
                  tensor.dtype() == dtype && tensor.device().is_cpu(),
              op, ": ", what, " must be [", shape.layers, ", ", shape.batch, ", ", shape.width, "]",
              last_layer_allowed ? " or [" + std::to_string(shape.batch) + ", " + std::to_string(shape.width) + "]" : "",
              " ", dtype, " cpu, got ", tensor.defined() ? describe(tensor) : "an undefined tensor");
}

// Contiguous copies (or the tensors themselves) kept alive while their buffers are read.
struct Operands {
  Tensor input, weights, biases;
  Operands(const Tensor& input, const Tensor& weights, const Tensor& biases)
      : input(input.detach().contiguous()), weights(weights.detach().contiguous()), biases(biases.detach().contiguous()) {}
  template <class Scalar>
  Chain<Scalar> chain(const ChainShape& shape, Activation activation) const {
    return {shape.layers, shape.batch, shape.width, weights.data<Scalar>(), biases.data<Scalar>(), activation};
  }
};

template <class Run>
Gradients checked_backward(const char* op, const Tensor& input, const Tensor& states, const Tensor& weights,
                       const Tensor& biases, Activation activation, const Tensor& state_gradients, Run&& run) {
  const ChainShape shape = check_chain(op, input, weights, biases);
  check_states(op, "the states", states, shape, input.dtype(), false);
  check_states(op, "the state gradients", state_gradients, shape, input.dtype(), true);
  const Operands operands(input, weights, biases);
  const Tensor contiguous_states = states.detach().contiguous(), contiguous_gradients = state_gradients.detach().contiguous();
  Gradients gradients;
  cpu::dispatch_floating(op, input.dtype(), [&](auto zero) {
    using Scalar = decltype(zero);
    const StateGradients<Scalar> direct{contiguous_gradients.data<Scalar>(), contiguous_gradients.dim() == 3,
                                        shape.layers, shape.batch * shape.width};
    gradients = run(operands.chain<Scalar>(shape, activation), operands.input.data<Scalar>(),
                    contiguous_states.data<Scalar>(), direct, input.options());
  });
  return gradients;
}

}  // namespace

Forward forward(const Tensor& input, const Tensor& weights, const Tensor& biases, Activation activation,
                const Options& options) {
  const char* op = "deep_pcr::forward";
  const ChainShape shape = check_chain(op, input, weights, biases);
  if (options.initial_guess.defined()) check_states(op, "the initial guess", options.initial_guess, shape, input.dtype(), false);
  const double tolerance = options.tolerance.value_or(input.dtype() == DType::f32 ? 1e-5 : 1e-10);
  const int64_t max_iterations = options.max_newton_iterations.value_or(shape.layers);
  VIREO_CHECK(tolerance >= 0, op, ": the tolerance must be ≥ 0, got ", tolerance);
  VIREO_CHECK(max_iterations >= 0, op, ": max_newton_iterations must be ≥ 0, got ", max_iterations);
  const Operands operands(input, weights, biases);
  const Tensor guess = options.initial_guess.defined() ? options.initial_guess.detach().contiguous() : Tensor();
  Forward result;
  cpu::dispatch_floating(op, input.dtype(), [&](auto zero) {
    using Scalar = decltype(zero);
    result = newton_forward(operands.chain<Scalar>(shape, activation), operands.input.data<Scalar>(),
                            guess.defined() ? guess.data<Scalar>() : nullptr, tolerance, max_iterations, input.options());
  });
  return result;
}

Forward sequential_forward(const Tensor& input, const Tensor& weights, const Tensor& biases, Activation activation) {
  const char* op = "deep_pcr::sequential_forward";
  const ChainShape shape = check_chain(op, input, weights, biases);
  const Operands operands(input, weights, biases);
  Forward result;
  cpu::dispatch_floating(op, input.dtype(), [&](auto zero) {
    using Scalar = decltype(zero);
    result = sequential_chain(operands.chain<Scalar>(shape, activation), operands.input.data<Scalar>(), input.options());
  });
  return result;
}

Gradients backward(const Tensor& input, const Tensor& states, const Tensor& weights, const Tensor& biases,
                   Activation activation, const Tensor& state_gradients) {
  return checked_backward("deep_pcr::backward", input, states, weights, biases, activation, state_gradients,
                      [](const auto&... arguments) { return pcr_backward(arguments...); });
}

Gradients sequential_backward(const Tensor& input, const Tensor& states, const Tensor& weights, const Tensor& biases,
                              Activation activation, const Tensor& state_gradients) {
  return checked_backward("deep_pcr::sequential_backward", input, states, weights, biases, activation, state_gradients,
                      [](const auto&... arguments) { return sequential_chain_rule(arguments...); });
}

Tensor chain(const Tensor& input, const Tensor& weights, const Tensor& biases, Activation activation,
             const Options& options, Statistics* statistics) {
  Forward result = forward(input, weights, biases, activation, options);
  VIREO_CHECK(result.statistics.converged, "deep_pcr::chain: Newton did not converge: residual ", result.statistics.residual,
              " after ", result.statistics.newton_iterations, " iterations for L = ", weights.size(0),
              " layers; raise max_newton_iterations or the tolerance");
  if (statistics) *statistics = result.statistics;
  if (!needs_grad({input, weights, biases})) return result.states;
  const Tensor saved_input = input.detach(), saved_weights = weights.detach(), saved_biases = biases.detach();
  const Tensor saved_states = result.states.detach();
  return record(
      "deep_pcr_chain", result.states, {input, weights, biases},
      [=](const Tensor& grad_output) {
        Gradients gradients = backward(saved_input, saved_states, saved_weights, saved_biases, activation, grad_output);
        return std::vector<Tensor>{gradients.input, gradients.weights, gradients.biases};
      },
      {saved_input, saved_weights, saved_biases, saved_states});
}

Tensor solve_linear_recurrence(const Tensor& matrices, const Tensor& offsets, int64_t* sweeps) {
  const char* op = "deep_pcr::solve_linear_recurrence";
  VIREO_CHECK(matrices.defined() && offsets.defined() && matrices.dim() == 4 && offsets.dim() == 3 &&
                  matrices.size(0) >= 1 && matrices.size(0) == offsets.size(0) && matrices.size(1) == offsets.size(1) &&
                  matrices.size(2) == offsets.size(2) && matrices.size(3) == offsets.size(2),
              op, ": needs matrices [n, B, d, d] and offsets [n, B, d] with n ≥ 1, got ",
              matrices.defined() ? describe(matrices) : "undefined", " and ", offsets.defined() ? describe(offsets) : "undefined");
  VIREO_CHECK(matrices.dtype() == offsets.dtype() && matrices.device().is_cpu() && offsets.device().is_cpu(), op,
              ": needs both operands of one dtype on the CPU, got ", describe(matrices), " and ", describe(offsets));
  const Tensor contiguous_matrices = matrices.detach().contiguous(), contiguous_offsets = offsets.detach().contiguous();
  Tensor solution;
  cpu::dispatch_floating(op, offsets.dtype(), [&](auto zero) {
    using Scalar = decltype(zero);
    Recurrence<Scalar> recurrence(offsets.size(0), offsets.size(1), offsets.size(2));
    std::memcpy(recurrence.matrices.data(), contiguous_matrices.data<Scalar>(), recurrence.matrices.size() * sizeof(Scalar));
    std::memcpy(recurrence.offsets.data(), contiguous_offsets.data<Scalar>(), recurrence.offsets.size() * sizeof(Scalar));
    const int64_t performed = recurrence.solve();
    if (sweeps) *sweeps = performed;
    solution = Tensor::empty(offsets.shape(), offsets.options());
    std::memcpy(solution.data<Scalar>(), recurrence.offsets.data(), recurrence.offsets.size() * sizeof(Scalar));
  });
  return solution;
}

}  // namespace vireo::deep_pcr
