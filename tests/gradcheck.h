// The helpers every op suite shares — above all finite-difference gradient checking in f64.
//
// gradcheck(f, inputs) compares, for every input that requires grad, the analytic gradient of
// sum(f(inputs) · w) (w a fixed random weighting, so every output element matters with its own weight)
// with central differences (f(x + h) − f(x − h)) / 2h. It returns a description of the worst mismatch,
// empty when every entry agrees within atol + rtol·|numeric|.
#pragma once

#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/ops.h"

namespace vireo::testing {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-4;
};

inline std::string gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                             GradcheckOptions options = {}) {
  Generator weights_generator(1234);
  // Analytic gradients.
  for (Tensor& input : inputs)
    if (input.defined() && input.requires_grad()) input.zero_grad();
  Tensor output = f(inputs);
  Tensor weights = randn(output.shape(), {.dtype = DType::f64}, &weights_generator);
  Tensor objective = sum(mul(output, weights));
  objective.backward();

  auto evaluate = [&]() {
    NoGrad no_grad;
    return sum(mul(f(inputs), weights)).item();
  };
  std::ostringstream report;
  double worst = 0.0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& input = inputs[k];
    if (!input.defined() || !input.requires_grad()) continue;
    if (input.dtype() != DType::f64) return "input " + std::to_string(k) + " is not f64";
    const Tensor analytic_tensor = input.grad();
    if (!analytic_tensor.defined()) return "input " + std::to_string(k) + " received no gradient";
    if (analytic_tensor.shape() != input.shape()) return "input " + std::to_string(k) + " got a gradient of the wrong shape";
    const std::vector<double> analytic = analytic_tensor.to_vector();
    // Perturb through a contiguous f64 view of the same storage when the input is contiguous; otherwise
    // perturb element by element through index arithmetic on its strides.
    double* base = static_cast<double*>(input.storage()->data());
    const Shape& shape = input.shape();
    const Shape& strides = input.strides();
    for (int64_t flat = 0; flat < input.numel(); ++flat) {
      int64_t rest = flat, at = input.offset();
      for (int64_t d = input.dim() - 1; d >= 0; --d) {
        at += (rest % shape[d]) * strides[d];
        rest /= shape[d];
      }
      const double original = base[at];
      base[at] = original + options.eps;
      const double plus = evaluate();
      base[at] = original - options.eps;
      const double minus = evaluate();
      base[at] = original;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double error = std::abs(numeric - analytic[flat]);
      const double allowed = options.atol + options.rtol * std::abs(numeric);
      if (error > allowed && error - allowed > worst) {
        worst = error - allowed;
        report.str("");
        report << "input " << k << " element " << flat << ": analytic " << analytic[flat] << ", numeric " << numeric;
      }
    }
  }
  return report.str();
}

// A random f64 leaf that requires grad.
inline Tensor random_input(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator g(seed);
  Tensor t = rand(shape, {.dtype = DType::f64}, &g);
  NoGrad no_grad;
  t = add(mul(t, high - low), low).detach();
  t.requires_grad_();
  return t;
}

// A non-contiguous f64 leaf with the given shape: the transpose of a contiguous tensor of the last two
// dimensions swapped. Gradients flow to the returned view's base.
inline Tensor transposed_input(const Shape& shape, uint64_t seed) {
  Shape swapped = shape;
  std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
  Tensor base = random_input(swapped, seed);
  Tensor view = base.detach().transpose(-1, -2);
  view.impl()->requires_grad = true;  // a leaf view over the same storage
  return view;
}

// Asserts that `body` throws vireo::Error whose message contains every fragment.
template <class Body>
void check_error(Body&& body, std::initializer_list<const char*> fragments) {
  try {
    body();
    FAIL("expected a vireo::Error");
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const char* fragment : fragments) {
      INFO("message: ", message);
      CHECK(message.find(fragment) != std::string::npos);
    }
  }
}

// An i64 index tensor of the given values and shape.
inline Tensor indices(std::initializer_list<double> values, const Shape& shape) {
  return Tensor::from_vector(std::vector<double>(values), shape, {.dtype = DType::i64});
}

// Runs `body` with OpenMP limited to `threads` threads and returns its result (determinism tests).
template <class Body>
auto with_threads(int threads, Body&& body) {
  const int previous = omp_get_max_threads();
  omp_set_num_threads(threads);
  auto result = body();
  omp_set_num_threads(previous);
  return result;
}

inline void check_close(const Tensor& actual, const std::vector<double>& expected, double tolerance = 1e-6) {
  const std::vector<double> values = actual.to_vector();
  REQUIRE(values.size() == expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element ", i);
    CHECK(values[i] == doctest::Approx(expected[i]).epsilon(tolerance));
  }
}

}  // namespace vireo::testing

#define CHECK_GRADCHECK(f, inputs, ...)                                              \
  do {                                                                               \
    const std::string vireo_gradcheck_report = ::vireo::testing::gradcheck(f, inputs, ##__VA_ARGS__); \
    INFO(vireo_gradcheck_report);                                                    \
    CHECK(vireo_gradcheck_report.empty());                                           \
  } while (0)
