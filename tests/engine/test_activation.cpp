// Activations: forward against the textbook formulas, gradient checks for each.
#include <cmath>
#include <numbers>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::random_input;
using vireo::testing::transposed_input;
using Inputs = std::vector<Tensor>;

namespace {
const std::vector<double> kPoints = {-4.0, -1.5, -0.3, 0.0, 0.4, 1.2, 3.0, 25.0};
Tensor points() { return Tensor::from_vector(kPoints, {8}, {.dtype = DType::f64}); }
std::vector<double> apply(double (*f)(double)) {
  std::vector<double> out;
  for (double x : kPoints) out.push_back(f(x));
  return out;
}
}  // namespace

TEST_CASE("activation forward values") {
  check_close(relu(points()), apply([](double x) { return x > 0 ? x : 0.0; }));
  check_close(gelu(points()), apply([](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }));
  check_close(gelu(points(), GeluApproximation::tanh), apply([](double x) {
                return 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
              }));
  check_close(silu(points()), apply([](double x) { return x / (1 + std::exp(-x)); }));
  check_close(sigmoid(points()), apply([](double x) { return 1 / (1 + std::exp(-x)); }));
  check_close(tanh(points()), apply([](double x) { return std::tanh(x); }));
  // softplus switches to the identity above the threshold (x = 25 with beta 1).
  check_close(softplus(points()), apply([](double x) { return x > 20 ? x : std::log1p(std::exp(x)); }));
  check_close(leaky_relu(points(), 0.1), apply([](double x) { return x > 0 ? x : 0.1 * x; }));
  check_close(softplus(points(), 2.0), apply([](double x) { return 2 * x > 20 ? x : std::log1p(std::exp(2 * x)) / 2; }));
}

TEST_CASE("gradcheck: activations") {
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> cases = {
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"gelu tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::tanh); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"softplus", [](const Tensor& x) { return softplus(x, 1.5, 20.0); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2); }},
  };
  for (const auto& [name, f] : cases) {
    INFO("activation: ", name);
    // Inputs away from 0, where relu and leaky_relu have a kink.
    Tensor x = random_input({3, 5}, 51, 0.05, 2.5);
    Tensor signs = Tensor::from_vector({1, -1, 1, -1, 1}, {5}, {.dtype = DType::f64});
    CHECK_GRADCHECK([&f, signs](const Inputs& in) { return f(mul(in[0], signs)); }, Inputs({x}));
    CHECK_GRADCHECK([&f](const Inputs& in) { return f(mul(in[0], -1.0)); }, Inputs({transposed_input({3, 4}, 52)}));
  }
}
