// DeepPCR (engine/parallel/deep_pcr.h) against the sequential chain: the forward states on random small MLPs
// (tanh, GELU, SiLU, identity; depths that are and are not powers of two, L = 1), the PCR sweep count
// ⌈log₂ L⌉, Newton's exactness on the first k layers after k iterations, the backward against the
// sequential chain rule and against the engine's autograd, a finite-difference check in f64, thread-count
// independence, and the argument errors. The independent reference is the chain built from engine ops
// (linear + activation), never the module's own code.
#include "engine/parallel/deep_pcr.h"

#include <algorithm>
#include <cmath>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_error;
using vireo::testing::with_threads;

namespace {

constexpr TensorOptions kF64 = {.dtype = DType::f64};

// A random chain of `layers` layers of width `width`: W_l ~ N(0, gain²/d), b_l ~ N(0, 0.1²), z_0 ~ N(0, 1).
struct RandomChain {
  Tensor input, weights, biases;
  RandomChain(int64_t layers, int64_t batch, int64_t width, double gain, uint64_t seed, DType dtype = DType::f64) {
    Generator generator(seed);
    const TensorOptions options{.dtype = dtype};
    input = randn({batch, width}, options, &generator);
    weights = mul(randn({layers, width, width}, options, &generator), gain / std::sqrt(double(width)));
    biases = mul(randn({layers, width}, options, &generator), 0.1);
  }
};

Tensor apply(deep_pcr::Activation activation, const Tensor& x) {
  switch (activation) {
    case deep_pcr::Activation::identity: return x;
    case deep_pcr::Activation::relu: return relu(x);
    case deep_pcr::Activation::tanh: return tanh(x);
    case deep_pcr::Activation::sigmoid: return sigmoid(x);
    case deep_pcr::Activation::silu: return silu(x);
    case deep_pcr::Activation::gelu: return gelu(x);
  }
  return x;
}

// z_1 … z_L stacked [L, B, d], by the engine's own ops (differentiable).
Tensor engine_chain(const Tensor& input, const Tensor& weights, const Tensor& biases, deep_pcr::Activation activation) {
  std::vector<Tensor> states;
  Tensor state = input;
  for (int64_t layer = 0; layer < weights.size(0); ++layer) {
    state = apply(activation, linear(state, weights.select(0, layer), biases.select(0, layer)));
    states.push_back(state);
  }
  return stack(states);
}

double max_difference(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const std::vector<double> x = a.to_vector(), y = b.to_vector();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
  return worst;
}

int64_t ceil_log2(int64_t n) { return n <= 1 ? 0 : int64_t(std::ceil(std::log2(double(n)))); }

}  // namespace

TEST_CASE("deep_pcr forward equals the sequential chain on random small MLPs") {
  for (const auto activation : {deep_pcr::Activation::tanh, deep_pcr::Activation::gelu, deep_pcr::Activation::silu}) {
    for (const int64_t layers : {1, 2, 3, 5, 8, 13, 33, 64}) {
      INFO("activation ", int(activation), ", L = ", layers);
      const RandomChain chain(layers, 3, 6, 1.2, 100 + layers);
      const deep_pcr::Forward parallel = deep_pcr::forward(chain.input, chain.weights, chain.biases, activation);
      const Tensor reference = engine_chain(chain.input, chain.weights, chain.biases, activation);
      CHECK(parallel.statistics.converged);
      CHECK(parallel.statistics.sweeps_per_solve == ceil_log2(layers));
      CHECK(parallel.statistics.newton_iterations >= 1);
      CHECK(parallel.statistics.newton_iterations <= layers);
      CHECK(parallel.statistics.sequential_steps ==
            parallel.statistics.newton_iterations * (parallel.statistics.sweeps_per_solve + 1) + 1);
      CHECK(parallel.statistics.residual_history.size() == size_t(parallel.statistics.newton_iterations + 1));
      CHECK(max_difference(parallel.states, reference) < 1e-9);
      const deep_pcr::Forward sequential = deep_pcr::sequential_forward(chain.input, chain.weights, chain.biases, activation);
      CHECK(max_difference(sequential.states, reference) < 1e-12);
      CHECK(sequential.statistics.sequential_steps == layers);
    }
  }
}

TEST_CASE("deep_pcr forward in f32 matches the f64 chain to f32 precision") {
  const RandomChain chain(100, 2, 16, 1.0, 7, DType::f32);
  const deep_pcr::Forward parallel = deep_pcr::forward(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh);
  const Tensor reference = engine_chain(chain.input.to(DType::f64), chain.weights.to(DType::f64),
                                        chain.biases.to(DType::f64), deep_pcr::Activation::tanh);
  CHECK(parallel.states.dtype() == DType::f32);
  CHECK(parallel.statistics.converged);
  CHECK(parallel.statistics.sweeps_per_solve == 7);
  CHECK(max_difference(parallel.states.to(DType::f64), reference) < 1e-4);
}

TEST_CASE("an affine chain needs one Newton iteration and a warm start at the solution needs none") {
  const RandomChain chain(20, 2, 5, 0.9, 3);
  const deep_pcr::Forward affine = deep_pcr::forward(chain.input, chain.weights, chain.biases, deep_pcr::Activation::identity);
  CHECK(affine.statistics.newton_iterations == 1);
  CHECK(max_difference(affine.states, engine_chain(chain.input, chain.weights, chain.biases, deep_pcr::Activation::identity)) < 1e-12);

  const Tensor solution = engine_chain(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh);
  const deep_pcr::Forward warm = deep_pcr::forward(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh,
                                                   {.initial_guess = solution});
  CHECK(warm.statistics.newton_iterations == 0);
  CHECK(warm.statistics.converged);
  CHECK(max_difference(warm.states, solution) == 0.0);
}

TEST_CASE("Newton makes the first k layers exact after k iterations and the whole chain after L") {
  // A strongly nonlinear chain (gain 3) started far from its solution, so that nothing converges early.
  const int64_t layers = 7;
  const RandomChain chain(layers, 2, 4, 3.0, 11);
  const Tensor exact = engine_chain(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh);
  for (int64_t k = 1; k <= layers; ++k) {
    INFO("after ", k, " iterations");
    const deep_pcr::Forward partial = deep_pcr::forward(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh,
                                                        {.tolerance = 0.0, .max_newton_iterations = k});
    CHECK(partial.statistics.newton_iterations == k);
    CHECK(max_difference(partial.states.slice(0, 0, k), exact.slice(0, 0, k)) < 1e-12);
    if (k == layers - 1) CHECK(max_difference(partial.states.slice(0, k, layers), exact.slice(0, k, layers)) > 1e-8);
  }
  // Without a tolerance to stop at, Newton runs its default cap: L iterations.
  const deep_pcr::Forward capped =
      deep_pcr::forward(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh, {.tolerance = 0.0});
  CHECK(capped.statistics.newton_iterations == layers);
  CHECK(max_difference(capped.states, exact) < 1e-12);
}

TEST_CASE("solve_linear_recurrence takes ceil(log2 n) sweeps and equals forward substitution") {
  for (const int64_t n : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31}) {
    INFO("n = ", n);
    Generator generator{uint64_t(n)};
    const Tensor matrices = mul(randn({n, 2, 3, 3}, kF64, &generator), 0.5);
    const Tensor offsets = randn({n, 2, 3}, kF64, &generator);
    int64_t sweeps = -1;
    const Tensor solution = deep_pcr::solve_linear_recurrence(matrices, offsets, &sweeps);
    CHECK(sweeps == ceil_log2(n));
    std::vector<Tensor> expected = {offsets.select(0, 0)};  // x_0 = c_0; M_0 is ignored
    for (int64_t i = 1; i < n; ++i)
      expected.push_back(add(squeeze(matmul(matrices.select(0, i), unsqueeze(expected.back(), -1)), -1), offsets.select(0, i)));
    CHECK(max_difference(solution, stack(expected)) < 1e-12);
  }
}

TEST_CASE("deep_pcr backward equals the sequential chain rule and autograd") {
  for (const auto activation : {deep_pcr::Activation::tanh, deep_pcr::Activation::gelu}) {
    for (const int64_t layers : {1, 2, 6, 19}) {
      INFO("activation ", int(activation), ", L = ", layers);
      const RandomChain chain(layers, 3, 5, 1.1, 200 + layers);
      Generator generator(5);
      const Tensor per_layer = randn({layers, 3, 5}, kF64, &generator);  // ∂loss/∂z_l for every l
      const Tensor last = randn({3, 5}, kF64, &generator);               // ∂loss/∂z_L only

      // Autograd through the engine's ops, with loss = Σ per_layer ⊙ states + Σ last ⊙ z_L.
      Tensor input = chain.input.clone().requires_grad_(), weights = chain.weights.clone().requires_grad_(),
             biases = chain.biases.clone().requires_grad_();
      const Tensor states = engine_chain(input, weights, biases, activation);
      add(sum(mul(states, per_layer)), sum(mul(states.select(0, layers - 1), last))).backward();

      const Tensor solved = deep_pcr::forward(chain.input, chain.weights, chain.biases, activation).states;
      const Tensor combined = add(per_layer, cat({zeros({layers - 1, 3, 5}, kF64), unsqueeze(last, 0)}));
      const deep_pcr::Gradients parallel =
          deep_pcr::backward(chain.input, solved, chain.weights, chain.biases, activation, combined);
      const deep_pcr::Gradients sequential =
          deep_pcr::sequential_backward(chain.input, solved, chain.weights, chain.biases, activation, combined);
      CHECK(parallel.sweeps == ceil_log2(layers));
      for (const auto* gradients : {&parallel, &sequential}) {
        CHECK(max_difference(gradients->input, input.grad()) < 1e-9);
        CHECK(max_difference(gradients->weights, weights.grad()) < 1e-9);
        CHECK(max_difference(gradients->biases, biases.grad()) < 1e-9);
      }

      // ∂loss/∂z_L alone, [B, d], means the same as [L, B, d] with zeros above the last layer.
      const deep_pcr::Gradients from_last = deep_pcr::backward(chain.input, solved, chain.weights, chain.biases, activation, last);
      const deep_pcr::Gradients from_padded = deep_pcr::sequential_backward(
          chain.input, solved, chain.weights, chain.biases, activation, cat({zeros({layers - 1, 3, 5}, kF64), unsqueeze(last, 0)}));
      CHECK(max_difference(from_last.input, from_padded.input) < 1e-12);
      CHECK(max_difference(from_last.weights, from_padded.weights) < 1e-12);
    }
  }
}

TEST_CASE("deep_pcr chain passes the f64 finite-difference gradient check") {
  for (const auto activation : {deep_pcr::Activation::tanh, deep_pcr::Activation::gelu}) {
    INFO("activation ", int(activation));
    const RandomChain chain(5, 2, 3, 1.3, 42);
    std::vector<Tensor> inputs = {chain.input.clone().requires_grad_(), chain.weights.clone().requires_grad_(),
                                  chain.biases.clone().requires_grad_()};
    // Tight tolerance so that the finite differences see the chain itself, not Newton's stopping point.
    const deep_pcr::Options options{.tolerance = 1e-14};
    CHECK_GRADCHECK([&](const std::vector<Tensor>& x) { return deep_pcr::chain(x[0], x[1], x[2], activation, options); },
                    inputs);
  }
}

TEST_CASE("deep_pcr results do not depend on the thread count") {
  const RandomChain chain(64, 2, 16, 1.0, 9, DType::f32);
  Generator generator(1);
  const Tensor last = randn({2, 16}, {}, &generator);
  auto run = [&] {
    const deep_pcr::Forward forward = deep_pcr::forward(chain.input, chain.weights, chain.biases, deep_pcr::Activation::tanh);
    const deep_pcr::Gradients gradients =
        deep_pcr::backward(chain.input, forward.states, chain.weights, chain.biases, deep_pcr::Activation::tanh, last);
    return std::vector<Tensor>{forward.states, gradients.input, gradients.weights};
  };
  const std::vector<Tensor> one = with_threads(1, run), two = with_threads(2, run);
  for (size_t i = 0; i < one.size(); ++i) CHECK(max_difference(one[i], two[i]) == 0.0);
}

TEST_CASE("deep_pcr refuses mismatched shapes and dtypes with the shapes in the message") {
  const RandomChain chain(4, 2, 3, 1.0, 1);
  check_error([&] { deep_pcr::forward(chain.input, zeros({4, 3, 5}, kF64), chain.biases, deep_pcr::Activation::tanh); },
              {"deep_pcr::forward", "[4, 3, 5]", "[2, 3]"});
  check_error([&] { deep_pcr::forward(chain.input, chain.weights, zeros({3, 3}, kF64), deep_pcr::Activation::tanh); },
              {"deep_pcr::forward", "biases", "[3, 3]"});
  check_error([&] { deep_pcr::forward(chain.input.to(DType::f32), chain.weights, chain.biases, deep_pcr::Activation::tanh); },
              {"deep_pcr::forward", "f32", "f64"});
  check_error([&] {
    deep_pcr::backward(chain.input, zeros({4, 2, 3}, kF64), chain.weights, chain.biases, deep_pcr::Activation::tanh,
                       zeros({2, 4}, kF64));
  }, {"deep_pcr::backward", "state gradients", "[2, 4]"});
  check_error([&] { deep_pcr::solve_linear_recurrence(zeros({3, 1, 2, 2}, kF64), zeros({2, 1, 2}, kF64)); },
              {"deep_pcr::solve_linear_recurrence", "[3, 1, 2, 2]", "[2, 1, 2]"});
  // chain() will not hand back states Newton did not converge to.
  check_error([&] {
    deep_pcr::chain(chain.input, mul(chain.weights, 3.0), chain.biases, deep_pcr::Activation::tanh,
                    {.tolerance = 0.0, .max_newton_iterations = 1});
  }, {"deep_pcr::chain", "did not converge"});
}
