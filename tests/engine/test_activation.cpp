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

// One gradient check per activation, on inputs of both signs away from 0 (relu and leaky_relu have a kink
// there) and on a non-contiguous view.
#define ACTIVATION_GRADCHECK(name, expression)                                                           \
  TEST_CASE("gradcheck: " name) {                                                                       \
    auto f = [](const Tensor& x) { return expression; };                                                \
    Tensor signs = Tensor::from_vector({1, -1, 1, -1, 1}, {5}, {.dtype = DType::f64});                  \
    CHECK_GRADCHECK([&](const Inputs& in) { return f(mul(in[0], signs)); },                             \
                    Inputs({random_input({3, 5}, 51, 0.05, 2.5)}));                                     \
    CHECK_GRADCHECK([&](const Inputs& in) { return f(mul(in[0], -1.0)); },                              \
                    Inputs({transposed_input({3, 4}, 52)}));                                            \
  }

ACTIVATION_GRADCHECK("relu", relu(x))
ACTIVATION_GRADCHECK("gelu", gelu(x))
ACTIVATION_GRADCHECK("gelu tanh approximation", gelu(x, GeluApproximation::tanh))
ACTIVATION_GRADCHECK("silu", silu(x))
ACTIVATION_GRADCHECK("sigmoid", sigmoid(x))
ACTIVATION_GRADCHECK("tanh", tanh(x))
ACTIVATION_GRADCHECK("softplus", softplus(x, 1.5, 20.0))
ACTIVATION_GRADCHECK("softplus above its threshold", softplus(mul(x, 30.0), 1.0, 20.0))
ACTIVATION_GRADCHECK("leaky_relu", leaky_relu(x, 0.2))

TEST_CASE("f32 exp-based maps and derivatives match their f64 twins to float precision") {
  // The f32 kernels use the vectorizable exp (engine/cpu/vector_exp.h); f64 uses std::exp. Over a range
  // that reaches both saturations, every f32 value and derivative must agree with the f64 twin (computed
  // from the same f32-rounded inputs) to f32 precision: |f32 − f64| / (|f64| + 1), i.e. relative for large
  // results and absolute for results below 1 (where the textbook derivative formulas, such as
  // σ' = σ(1 − σ), lose their relative precision in f32 by cancellation, in PyTorch as here).
  Tensor x64 = linspace(-90.0, 90.0, 20001, {.dtype = DType::f64});
  Tensor x32 = x64.to(DType::f32);
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> maps = {
      {"exp", [](const Tensor& x) { return exp(clamp(x, -80.0, 80.0)); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"softplus", [](const Tensor& x) { return softplus(x); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},  // its derivative uses exp
  };
  auto worst_error = [](const std::vector<double>& fast, const std::vector<double>& exact) {
    double worst = 0.0;
    for (size_t i = 0; i < fast.size(); ++i)
      worst = std::max(worst, std::abs(fast[i] - exact[i]) / (std::abs(exact[i]) + 1.0));
    return worst;
  };
  for (const auto& [name, f] : maps) {
    INFO("map: ", name);
    Tensor in32 = x32.detach().requires_grad_(), in64 = x32.to(DType::f64).detach().requires_grad_();
    Tensor out32 = f(in32), out64 = f(in64);
    sum(out32).backward();
    sum(out64).backward();
    CHECK(worst_error(out32.to_vector(), out64.to_vector()) < 1e-6);
    CHECK(worst_error(in32.grad().to_vector(), in64.grad().to_vector()) < 1e-6);
  }
  // Saturation and special values.
  Tensor special = tensor({-std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::quiet_NaN()});
  const std::vector<double> e = exp(special).to_vector(), s = sigmoid(special).to_vector();
  CHECK(e[0] == 0.0);
  CHECK(std::isinf(e[1]));
  CHECK(std::isnan(e[2]));
  CHECK(s[0] == 0.0);
  CHECK(s[1] == 1.0);
  CHECK(std::isnan(s[2]));
}
