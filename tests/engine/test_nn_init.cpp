// nn::init and every layer's default initialization: gains and fans from their formulas, the bounds of the
// uniform rules, sample means and standard deviations within tolerances derived from the sample size,
// the truncated normal's bounds and moments, the normal quantile it is built on, and reproducibility of
// whole models under manual_seed.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "gradcheck.h"
#include "nn_test_models.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::TinyResNet;

namespace {

struct Sample {
  double mean = 0, std = 0, min = 0, max = 0;
  int64_t n = 0;
};

Sample describe_values(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  Sample s;
  s.n = static_cast<int64_t>(v.size());
  for (double x : v) s.mean += x / static_cast<double>(s.n);
  for (double x : v) s.std += (x - s.mean) * (x - s.mean) / static_cast<double>(s.n - 1);
  s.std = std::sqrt(s.std);
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

// Five standard errors: a correct implementation fails such a check with probability below 1e-6.
// Mean of n draws: σ/√n. Standard deviation of n draws: σ·√((κ − 1)/(4n)) with κ the kurtosis
// (3 for a normal, 9/5 for a uniform).
double mean_tolerance(double sigma, int64_t n) { return 5.0 * sigma / std::sqrt(static_cast<double>(n)); }
double std_tolerance(double sigma, int64_t n, double kurtosis) {
  return 5.0 * sigma * std::sqrt((kurtosis - 1.0) / (4.0 * static_cast<double>(n)));
}

// Checks a sample against U(−bound, bound): inside the bounds, reaching near them, mean 0, std bound/√3.
void check_uniform(const Tensor& t, double bound) {
  const Sample s = describe_values(t);
  const double sigma = bound / std::sqrt(3.0);
  CHECK(s.min >= -bound);
  CHECK(s.max <= bound);
  // Each extreme misses the last 1% of its side with probability 0.995^n, below 3e-7 for n ≥ 3000.
  if (s.n >= 3000) {
    CHECK(s.max > 0.99 * bound);
    CHECK(s.min < -0.99 * bound);
  }
  CHECK(std::abs(s.mean) < mean_tolerance(sigma, s.n));
  CHECK(std::abs(s.std - sigma) < std_tolerance(sigma, s.n, 9.0 / 5.0));
}

void check_normal(const Tensor& t, double mean, double sigma) {
  const Sample s = describe_values(t);
  CHECK(std::abs(s.mean - mean) < mean_tolerance(sigma, s.n));
  CHECK(std::abs(s.std - sigma) < std_tolerance(sigma, s.n, 3.0));
}

double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi); }
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

}  // namespace

TEST_CASE("calculate_gain and fan_in_and_fan_out follow PyTorch's formulas") {
  using nn::init::Nonlinearity;
  CHECK(nn::init::calculate_gain(Nonlinearity::linear) == 1.0);
  CHECK(nn::init::calculate_gain(Nonlinearity::conv2d) == 1.0);
  CHECK(nn::init::calculate_gain(Nonlinearity::sigmoid) == 1.0);
  CHECK(nn::init::calculate_gain(Nonlinearity::tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(nn::init::calculate_gain(Nonlinearity::relu) == doctest::Approx(std::sqrt(2.0)));
  CHECK(nn::init::calculate_gain(Nonlinearity::leaky_relu) == doctest::Approx(std::sqrt(2.0 / (1.0 + 0.01 * 0.01))));
  CHECK(nn::init::calculate_gain(Nonlinearity::leaky_relu, std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK(nn::init::calculate_gain(Nonlinearity::selu) == 0.75);

  const Tensor conv_weight = empty({5, 3, 2, 4});
  CHECK(nn::init::fan_in_and_fan_out(conv_weight) == std::pair<int64_t, int64_t>{3 * 2 * 4, 5 * 2 * 4});
  CHECK(nn::init::fan_in_and_fan_out(empty({7, 2})) == std::pair<int64_t, int64_t>{2, 7});
  check_error([] { nn::init::fan_in_and_fan_out(empty({5})); }, {"fan_in_and_fan_out", "[5]"});
}

TEST_CASE("uniform_ and normal_ fill in place with the requested distribution") {
  Tensor t = empty({200, 100}, {.requires_grad = true});  // a parameter: filled under NoGrad
  const Tensor handle = t;
  nn::init::uniform_(t, -0.5, 0.5);
  CHECK(t.impl() == handle.impl());
  check_uniform(t, 0.5);
  nn::init::normal_(t, 2.0, 0.25);
  check_normal(t, 2.0, 0.25);
  // A strided view is filled through its strides.
  Tensor base = zeros({100, 60});
  nn::init::uniform_(base.transpose(0, 1), 1.0, 2.0);
  const Sample s = describe_values(base);
  CHECK(s.min >= 1.0);
  CHECK(s.max < 2.0);
  // An explicit generator gives the same values for the same seed.
  Generator g1(42), g2(42);
  Tensor a = empty({10}), b = empty({10});
  nn::init::normal_(a, 0.0, 1.0, &g1);
  nn::init::normal_(b, 0.0, 1.0, &g2);
  CHECK(a.to_vector() == b.to_vector());
  check_error([] { nn::init::uniform_(empty({2}, {.dtype = DType::i64})); }, {"uniform_", "i64"});
}

TEST_CASE("constant_ zeros_ and ones_ set every element") {
  Tensor t = empty({2, 3}, {.dtype = DType::f64, .requires_grad = true});
  nn::init::constant_(t, 0.75);
  check_close(t, std::vector<double>(6, 0.75));
  nn::init::zeros_(t);
  check_close(t, std::vector<double>(6, 0.0));
  nn::init::ones_(t);
  check_close(t, std::vector<double>(6, 1.0));
}

TEST_CASE("kaiming and xavier initializers use the fan and gain formulas") {
  using nn::init::FanMode;
  using nn::init::Nonlinearity;
  // kaiming_uniform with PyTorch's defaults (a = 0, leaky_relu, fan_in): bound = √2·√3/√fan_in.
  Tensor w = empty({300, 40});
  nn::init::kaiming_uniform_(w);
  check_uniform(w, std::sqrt(2.0) * std::sqrt(3.0) / std::sqrt(40.0));
  // kaiming_normal with relu and fan_out on a conv weight [64, 8, 3, 3]: std = √2/√(64·9).
  Tensor conv = empty({64, 8, 3, 3});
  nn::init::kaiming_normal_(conv, 0.0, FanMode::fan_out, Nonlinearity::relu);
  check_normal(conv, 0.0, std::sqrt(2.0) / std::sqrt(64.0 * 9.0));
  // xavier: std = gain·√(2/(fan_in + fan_out)).
  Tensor x = empty({120, 80});
  nn::init::xavier_uniform_(x, 2.0);
  check_uniform(x, 2.0 * std::sqrt(6.0 / 200.0));
  nn::init::xavier_normal_(x);
  check_normal(x, 0.0, std::sqrt(2.0 / 200.0));
  // Zero-element tensors are left alone.
  CHECK(nn::init::kaiming_uniform_(empty({0, 3})).numel() == 0);
}

TEST_CASE("normal_quantile inverts the normal CDF to near machine precision") {
  for (double p : {1e-300, 1e-100, 1e-12, 1e-6, 0.001, 0.02, 0.3, 0.5, 0.7, 0.975, 0.999999, 1.0 - 1e-12}) {
    const double x = nn::init::normal_quantile(p);
    INFO("p = ", p, ", x = ", x);
    // Compare in the tail where each side is precise.
    if (p <= 0.5) CHECK(normal_cdf(x) == doctest::Approx(p).epsilon(1e-12));
    else CHECK(normal_cdf(-x) == doctest::Approx(1.0 - p).epsilon(1e-9));
  }
  CHECK(nn::init::normal_quantile(0.5) == doctest::Approx(0.0).epsilon(1e-15));
  CHECK(nn::init::normal_quantile(0.975) == doctest::Approx(1.959963984540054).epsilon(1e-14));
  CHECK(std::isinf(nn::init::normal_quantile(0.0)));
  CHECK(std::isinf(nn::init::normal_quantile(1.0)));
}

TEST_CASE("trunc_normal_ stays inside its bounds with the truncated normal's moments") {
  // For N(μ, σ²) on [a, b] with α = (a − μ)/σ, β = (b − μ)/σ, Z = Φ(β) − Φ(α):
  //   mean = μ + σ·(φ(α) − φ(β))/Z,  var = σ²·(1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²).
  struct Case {
    double mean, std, a, b;
  };
  for (const Case c : {Case{0.0, 1.0, -2.0, 2.0}, Case{1.0, 2.0, -1.0, 4.0}, Case{0.0, 0.02, -0.04, 0.04},
                       Case{0.0, 1.0, 2.0, 3.0}, Case{5.0, 1.0, -1.0, 3.0}}) {
    INFO("mean ", c.mean, " std ", c.std, " [", c.a, ", ", c.b, "]");
    Tensor t = empty({40000}, {.dtype = DType::f64});
    nn::init::trunc_normal_(t, c.mean, c.std, c.a, c.b);
    const Sample s = describe_values(t);
    CHECK(s.min >= c.a);
    CHECK(s.max <= c.b);
    const double alpha = (c.a - c.mean) / c.std, beta = (c.b - c.mean) / c.std;
    const double z = normal_cdf(beta) - normal_cdf(alpha);
    const double shift = (normal_pdf(alpha) - normal_pdf(beta)) / z;
    const double expected_mean = c.mean + c.std * shift;
    const double expected_std =
        c.std * std::sqrt(1.0 + (alpha * normal_pdf(alpha) - beta * normal_pdf(beta)) / z - shift * shift);
    // A truncated normal has kurtosis at most 3, so the normal's tolerance on the std is conservative.
    CHECK(std::abs(s.mean - expected_mean) < mean_tolerance(expected_std, s.n));
    CHECK(std::abs(s.std - expected_std) < std_tolerance(expected_std, s.n, 3.0));
  }
  // f32 tensors stay inside too: rounding to f32 is monotone and these bounds are representable.
  Tensor f = empty({5000});
  nn::init::trunc_normal_(f, 0.0, 1.0, -0.5, 0.5);
  const Sample s = describe_values(f);
  CHECK(s.min >= -0.5);
  CHECK(s.max <= 0.5);
  check_error([] { nn::init::trunc_normal_(empty({2}), 0.0, 1.0, 1.0, -1.0); }, {"trunc_normal_", "empty"});
}

TEST_CASE("Linear and Conv2d default initialization is U of plus-minus 1 over sqrt fan_in") {
  manual_seed(1);
  nn::Linear linear(50, 400);
  check_uniform(linear.weight, 1.0 / std::sqrt(50.0));
  check_uniform(linear.bias, 1.0 / std::sqrt(50.0));
  // fan_in = in/groups·kh·kw = 8/2·3·3 = 36.
  nn::Conv2d conv(8, 600, 3, {.groups = 2});
  check_uniform(conv.weight, 1.0 / 6.0);
  check_uniform(conv.bias, 1.0 / 6.0);
}

TEST_CASE("ConvTranspose2d default initialization uses the fan_in of its weight layout") {
  manual_seed(2);
  // weight [in, out/groups, kh, kw] = [400, 3, 2, 2]: PyTorch's fan_in is size(1)·kh·kw = 12.
  nn::ConvTranspose2d deconv(400, 6, 2, {.groups = 2});
  CHECK(deconv.weight.shape() == Shape{400, 3, 2, 2});
  check_uniform(deconv.weight, 1.0 / std::sqrt(12.0));
  const Sample bias = describe_values(deconv.bias);
  CHECK(bias.min >= -1.0 / std::sqrt(12.0));
  CHECK(bias.max <= 1.0 / std::sqrt(12.0));
}

TEST_CASE("normalization layers start at weight one and bias zero with fresh running statistics") {
  nn::BatchNorm2d bn(6);
  check_close(bn.weight, std::vector<double>(6, 1.0));
  check_close(bn.bias, std::vector<double>(6, 0.0));
  check_close(bn.running_mean, std::vector<double>(6, 0.0));
  check_close(bn.running_var, std::vector<double>(6, 1.0));
  CHECK(bn.num_batches_tracked.item() == 0);
  bn(randn({4, 6, 2, 2}));
  bn.reset_running_stats();
  CHECK(bn.num_batches_tracked.item() == 0);
  check_close(bn.running_var, std::vector<double>(6, 1.0));
  nn::LayerNorm ln(Shape{2, 3});
  check_close(ln.weight, std::vector<double>(6, 1.0));
  check_close(ln.bias, std::vector<double>(6, 0.0));
  nn::GroupNorm gn(2, 4);
  check_close(gn.weight, std::vector<double>(4, 1.0));
  check_close(gn.bias, std::vector<double>(4, 0.0));
}

TEST_CASE("Embedding starts as N of 0 and 1 with the padding row zeroed") {
  manual_seed(3);
  nn::Embedding table(400, 50, {.padding_idx = 7});
  check_close(table.weight.select(0, 7), std::vector<double>(50, 0.0));
  check_normal(table.weight.slice(0, 8, 400), 0.0, 1.0);
}

TEST_CASE("MultiheadAttention starts with xavier in_proj and zero biases and out_proj as a Linear") {
  manual_seed(4);
  const int64_t e = 96;
  nn::MultiheadAttention mha(e, 4);
  // in_proj_weight [3E, E]: fan_in = E, fan_out = 3E, bound = √(6/(4E)).
  check_uniform(mha.in_proj_weight, std::sqrt(6.0 / (4.0 * e)));
  check_close(mha.in_proj_bias, std::vector<double>(3 * e, 0.0));
  check_close(mha.out_proj->bias, std::vector<double>(e, 0.0));
  check_uniform(mha.out_proj->weight, 1.0 / std::sqrt(static_cast<double>(e)));
}

TEST_CASE("models built after the same manual_seed are identical and other seeds differ") {
  auto build = [](uint64_t seed) {
    manual_seed(seed);
    return std::make_shared<TinyResNet>()->state_dict();
  };
  const StateDict a = build(21), b = build(21), c = build(22);
  REQUIRE(a.size() == b.size());
  bool identical = true, differs = false;
  for (const auto& [key, value] : a) {
    identical &= value.to_vector() == b.at(key).to_vector();
    if (key.find("weight") != std::string::npos && key.find("bn") == std::string::npos)
      differs |= value.to_vector() != c.at(key).to_vector();
  }
  CHECK(identical);
  CHECK(differs);

  manual_seed(23);
  nn::MultiheadAttention m1(8, 2);
  nn::Embedding e1(5, 3);
  manual_seed(23);
  nn::MultiheadAttention m2(8, 2);
  nn::Embedding e2(5, 3);
  CHECK(m1.in_proj_weight.to_vector() == m2.in_proj_weight.to_vector());
  CHECK(m1.out_proj->weight.to_vector() == m2.out_proj->weight.to_vector());
  CHECK(e1.weight.to_vector() == e2.weight.to_vector());
}
