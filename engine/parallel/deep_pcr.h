// DeepPCR: a chain of L layers evaluated in O(log L) sequential steps instead of L (Danieli et al. 2023;
// METHODS.md §3). The chain is a deep, narrow MLP whose layer l maps z_{l−1} to
//
//     z_l = f_l(z_{l−1}) = σ(W_l z_{l−1} + b_l),   l = 1 … L,   z_l ∈ R^d for each of B samples.
//
// Forward. Read the chain as the system r_l = z_l − f_l(z_{l−1}) = 0 in the unknowns z_1 … z_L and solve it
// by Newton's method. Linearised at the current guess z, layer l becomes the affine recurrence
//
//     z'_l = J_l z'_{l−1} + c_l,   J_l = diag(σ'(a_l)) W_l,   c_l = f_l(z_{l−1}) − J_l z_{l−1},   a_l = W_l z_{l−1} + b_l,
//
// with z'_0 = z_0 given. Computing J_l and c_l is one step in which all L layers are independent; the
// recurrence is solved by parallel cyclic reduction (solve_linear_recurrence below) in ⌈log₂ L⌉ sweeps.
// Newton on this chain is exact after at most L iterations whatever the guess: if z_1 … z_{k−1} are exact,
// the update of z_k is f_k(z_{k−1}) + J_k·0, so iteration k makes z_k exact. On a chain that does not
// amplify perturbations (a contracting or critical one) the quadratic convergence stops it far earlier,
// after a number of iterations that hardly depends on L (7 or 8 for tanh MLPs of depth 1024, README). On a
// chaotic chain, whose perturbations grow exponentially along it, Newton needs O(L) iterations, and at
// large L rounding keeps it from converging at all: DeepPCR is for chains that are not chaotic. The
// stopping rule: the residual max |z_l − f_l(z_{l−1})| (relative to the largest |f_l| when that exceeds 1)
// at most the tolerance.
//
// Backward. Given the gradients e_l = ∂loss/∂z_l that reach each state directly (often only e_L), the
// total gradients g_l obey the linear recurrence g_L = e_L, g_{l−1} = J_lᵀ g_l + e_{l−1}: one more PCR
// solve, run from l = L down. Then δ_l = σ'(a_l) ⊙ g_l gives every parameter gradient in one parallel
// step: ∂W_l = Σ_b δ_l z_{l−1}ᵀ, ∂b_l = Σ_b δ_l, and ∂z_0 = W_1ᵀ δ_1 — the sequential chain rule's values.
//
// The price: every sweep multiplies d×d Jacobians (one per layer and sample, d³ work each) where the
// sequential chain does one d×d matrix-vector product per layer, and the Jacobians take 2·L·B·d² numbers of
// memory. It pays only with many parallel processors, small d and large L; on a 2-core CPU it is slower
// in wall-clock (README, "DeepPCR: sequential depth vs L").
//
// Tensors at the boundary — input [B, d], weights [L, d, d] (torch's Linear layout, W_l[out, in]),
// biases [L, d], states [L, B, d] holding z_1 … z_L — all f32 or all f64, on the CPU. Inside, the module is
// Eigen (the d×d products) and OpenMP (across the layers and samples of one step). Results do not depend
// on the thread count: each number is computed by one thread, in the same order.
//
//   auto forward = deep_pcr::forward(z0, weights, biases, deep_pcr::Activation::tanh);
//   forward.states.select(0, L − 1);              // z_L, equal to the sequential chain's to tolerance
//   forward.statistics.newton_iterations;          // e.g. 7 for L = 1024, each of ⌈log₂ L⌉ = 10 sweeps
//   auto gradients = deep_pcr::backward(z0, forward.states, weights, biases, deep_pcr::Activation::tanh, dz_L);
//   Tensor states = deep_pcr::chain(z0, weights, biases, deep_pcr::Activation::tanh);  // with autograd
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "engine/tensor.h"

namespace vireo::deep_pcr {

// σ of every layer. gelu is the exact form x·Φ(x); relu's derivative at 0 is taken as 0.
enum class Activation { identity, relu, tanh, sigmoid, silu, gelu };

struct Options {
  // Stop when the residual is at most this; default 1e-5 for f32, 1e-10 for f64. 0: run exactly
  // max_newton_iterations iterations.
  std::optional<double> tolerance = std::nullopt;
  // Default L: by then Newton is exact (up to rounding).
  std::optional<int64_t> max_newton_iterations = std::nullopt;
  // The first Newton guess for z_1 … z_L, [L, B, d] (a warm start, e.g. the previous step's states);
  // undefined: zeros.
  Tensor initial_guess = {};
};

struct Statistics {
  int64_t newton_iterations = 0;  // linear solves performed
  int64_t sweeps_per_solve = 0;   // ⌈log₂ L⌉
  // Steps that must run one after the other: each iteration's parallel linearisation and its sweeps,
  // and the final residual evaluation. The sequential chain's depth is L.
  int64_t sequential_steps = 0;
  double residual = 0;                  // of the returned states
  std::vector<double> residual_history; // before each iteration, then of the result
  bool converged = false;               // residual ≤ tolerance
};

struct Forward {
  Tensor states;  // [L, B, d]: z_1 … z_L
  Statistics statistics;
};

struct Gradients {
  Tensor input, weights, biases;  // ∂loss/∂z_0 [B, d], ∂loss/∂W [L, d, d], ∂loss/∂b [L, d]
  int64_t sweeps = 0;             // of the backward PCR solve (⌈log₂ L⌉; 0 for the sequential backward)
};

// z_1 … z_L by Newton iterations with PCR solves. Does not throw when Newton stops unconverged (see
// statistics.converged).
Forward forward(const Tensor& input, const Tensor& weights, const Tensor& biases, Activation activation,
                const Options& options = {});

// The gradients of a loss of the states, by one PCR solve of the transposed-Jacobian recurrence.
// `state_gradients` is ∂loss/∂z_L [B, d], or ∂loss/∂z_l for every layer [L, B, d].
Gradients backward(const Tensor& input, const Tensor& states, const Tensor& weights, const Tensor& biases,
                   Activation activation, const Tensor& state_gradients);

// The reference: the chain evaluated layer after layer, and its chain rule (statistics: L sequential steps).
Forward sequential_forward(const Tensor& input, const Tensor& weights, const Tensor& biases, Activation activation);
Gradients sequential_backward(const Tensor& input, const Tensor& states, const Tensor& weights, const Tensor& biases,
                              Activation activation, const Tensor& state_gradients);

// forward() as an autograd op: returns the states [L, B, d], whose backward runs backward(). Throws an
// Error when Newton did not converge. `statistics`, when given, receives the forward's.
Tensor chain(const Tensor& input, const Tensor& weights, const Tensor& biases, Activation activation,
             const Options& options = {}, Statistics* statistics = nullptr);

// The building block: x_i = M_i x_{i−1} + c_i for i = 0 … n−1 with x_{−1} = 0 (M_0 is ignored), for B
// independent systems of width d — matrices [n, B, d, d], offsets [n, B, d]; returns x [n, B, d].
// Parallel cyclic reduction: before the sweep of stride k every x_i with i < k is known, and the others
// read x_i = M_i x_{i−k} + c_i; the sweep substitutes the equation of i − k into that of i,
//     (M_i, c_i) ← (M_i M_{i−k}, M_i c_{i−k} + c_i),
// for all i ≥ k at once (double-buffered), doubling k. Done when k ≥ n: ⌈log₂ n⌉ sweeps, returned in
// `sweeps` when given. Rows whose partner is already known need only the vector update.
Tensor solve_linear_recurrence(const Tensor& matrices, const Tensor& offsets, int64_t* sweeps = nullptr);

}  // namespace vireo::deep_pcr
