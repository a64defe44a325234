// Optimizers: one step of SGD (plain, momentum, dampening, Nesterov, weight decay, maximize), Adam
// (amsgrad), AdamW and LARS (with an excluded group) against the update formula written out here, several
// steps against reference loops in double, f32 against the f64 reference, parameter groups, parameters
// without gradients, zero_grad, non-contiguous parameters, version bumps, the allocation-free steady state,
// LARS's thread-count independence, and argument errors.
#include <cmath>
#include <vector>

#include "engine/optim.h"
#include "engine/storage.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::optim;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::with_threads;

namespace {

using Values = std::vector<double>;

Tensor leaf(const Values& values, const Shape& shape, DType dtype = DType::f64) {
  Tensor t = Tensor::from_vector(values, shape, {.dtype = dtype});
  t.requires_grad_();
  return t;
}

void give_grad(const Tensor& param, const Values& grad) {
  param.set_grad(Tensor::from_vector(grad, param.shape(), {.dtype = param.dtype()}));
}

Values random_values(int64_t n, uint64_t seed, double low = -1.0, double high = 1.0) {
  Generator generator(seed);
  Values u = rand({n}, {.dtype = DType::f64}, &generator).to_vector();
  for (double& x : u) x = low + (high - low) * x;
  return u;
}

double l2_norm(const Values& x) {
  double s = 0;
  for (double v : x) s += v * v;
  return std::sqrt(s);
}

// ---- reference updates in double, written from the formulas (not from the kernels) ----

struct SgdReference {
  SGDOptions options;
  Values buffer = {};
  void step(Values& p, const Values& g, double lr, double weight_decay) {
    const bool first = buffer.empty();
    if (first) buffer.assign(p.size(), 0.0);
    for (size_t i = 0; i < p.size(); ++i) {
      double d = (options.maximize ? -g[i] : g[i]) + weight_decay * p[i];
      if (options.momentum != 0.0) {
        buffer[i] = first ? d : options.momentum * buffer[i] + (1.0 - options.dampening) * d;
        d = options.nesterov ? d + options.momentum * buffer[i] : buffer[i];
      }
      p[i] -= lr * d;
    }
  }
};

struct AdamReference {
  AdamOptions options;
  bool decoupled = false;
  Values m = {}, v = {}, v_max = {};
  int t = 0;
  void step(Values& p, const Values& g, double lr, double weight_decay) {
    if (m.empty()) m = v = v_max = Values(p.size(), 0.0);
    ++t;
    const double beta1 = options.betas[0], beta2 = options.betas[1];
    for (size_t i = 0; i < p.size(); ++i) {
      double gi = options.maximize ? -g[i] : g[i];
      if (decoupled) p[i] *= 1.0 - lr * weight_decay;
      else gi += weight_decay * p[i];
      m[i] = beta1 * m[i] + (1.0 - beta1) * gi;
      v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi;
      v_max[i] = std::max(v_max[i], v[i]);
      const double second = options.amsgrad ? v_max[i] : v[i];
      const double m_hat = m[i] / (1.0 - std::pow(beta1, t));
      p[i] -= lr * m_hat / (std::sqrt(second) / std::sqrt(1.0 - std::pow(beta2, t)) + options.eps);
    }
  }
};

struct LarsReference {
  LARSOptions options;
  Values buffer = {};
  double trust_ratio = 1.0;
  void step(Values& p, const Values& g, double lr, double weight_decay, bool excluded) {
    if (buffer.empty()) buffer.assign(p.size(), 0.0);
    Values d(p.size());
    for (size_t i = 0; i < p.size(); ++i) d[i] = g[i] + weight_decay * p[i];
    trust_ratio = 1.0;
    const double param_norm = l2_norm(p), update_norm = l2_norm(d);
    if (!excluded && param_norm > 0 && update_norm > 0)
      trust_ratio = options.trust_coefficient * param_norm / (update_norm + options.eps);
    for (size_t i = 0; i < p.size(); ++i) {
      buffer[i] = options.momentum * buffer[i] + trust_ratio * d[i];
      p[i] -= lr * buffer[i];
    }
  }
};

constexpr double kTight = 1e-12;  // f64 kernels against f64 references: rounding only

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// SGD

TEST_CASE("SGD plain step is p minus lr times g") {
  const Values p0 = {1.0, -2.0, 0.5, 3.0}, g = {0.1, 0.4, -0.3, 2.0};
  Tensor p = leaf(p0, {2, 2});
  give_grad(p, g);
  SGD sgd({p}, {.lr = 0.25});
  sgd.step();
  Values expected(4);
  for (size_t i = 0; i < 4; ++i) expected[i] = p0[i] - 0.25 * g[i];
  check_close(p, expected, kTight);
  CHECK(sgd.state(p) == nullptr);  // no momentum: nothing to remember
}

TEST_CASE("SGD with weight decay adds weight_decay times p to the gradient") {
  const Values p0 = {1.0, -2.0, 0.5}, g = {0.1, 0.4, -0.3};
  Tensor p = leaf(p0, {3});
  give_grad(p, g);
  SGD sgd({p}, {.lr = 0.1, .weight_decay = 0.01});
  sgd.step();
  Values expected(3);
  for (size_t i = 0; i < 3; ++i) expected[i] = p0[i] - 0.1 * (g[i] + 0.01 * p0[i]);
  check_close(p, expected, kTight);
}

TEST_CASE("SGD momentum starts the buffer at the gradient then accumulates with dampening") {
  const Values p0 = {1.0, -2.0}, g1 = {0.5, -1.0}, g2 = {0.25, 2.0};
  Tensor p = leaf(p0, {2});
  SGD sgd({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.3});
  give_grad(p, g1);
  sgd.step();
  // first step: buf = g (no dampening on the first step, as torch)
  Values p1(2), buf(2);
  for (size_t i = 0; i < 2; ++i) {
    buf[i] = g1[i];
    p1[i] = p0[i] - 0.1 * buf[i];
  }
  check_close(p, p1, kTight);
  check_close(sgd.state(p)->buffers.at("momentum_buffer"), buf, kTight);
  give_grad(p, g2);
  sgd.step();
  Values p2(2);
  for (size_t i = 0; i < 2; ++i) {
    buf[i] = 0.9 * buf[i] + (1.0 - 0.3) * g2[i];
    p2[i] = p1[i] - 0.1 * buf[i];
  }
  check_close(p, p2, kTight);
  check_close(sgd.state(p)->buffers.at("momentum_buffer"), buf, kTight);
}

TEST_CASE("SGD nesterov steps along g plus momentum times the buffer") {
  const Values p0 = {0.3, -0.7}, g1 = {1.0, 0.5}, g2 = {-0.5, 0.25};
  Tensor p = leaf(p0, {2});
  SGD sgd({p}, {.lr = 0.2, .momentum = 0.8, .nesterov = true});
  give_grad(p, g1);
  sgd.step();
  give_grad(p, g2);
  sgd.step();
  Values expected = p0, buf(2);
  for (size_t i = 0; i < 2; ++i) {
    buf[i] = g1[i];
    expected[i] -= 0.2 * (g1[i] + 0.8 * buf[i]);
    buf[i] = 0.8 * buf[i] + g2[i];
    expected[i] -= 0.2 * (g2[i] + 0.8 * buf[i]);
  }
  check_close(p, expected, kTight);
}

TEST_CASE("SGD with every option matches the reference loop over several steps") {
  for (bool nesterov : {false, true}) {
    for (bool maximize : {false, true}) {
      CAPTURE(nesterov);
      CAPTURE(maximize);
      const SGDOptions options{.lr = 0.05, .momentum = 0.9, .dampening = nesterov ? 0.0 : 0.1, .nesterov = nesterov,
                               .weight_decay = 1e-2, .maximize = maximize};
      Values expected = random_values(12, 1);
      Tensor p = leaf(expected, {3, 4});
      SGD sgd({p}, options);
      SgdReference reference{options};
      for (int step = 0; step < 5; ++step) {
        const Values g = random_values(12, 100 + step);
        give_grad(p, g);
        sgd.step();
        reference.step(expected, g, options.lr, options.weight_decay);
      }
      check_close(p, expected, kTight);
      check_close(sgd.state(p)->buffers.at("momentum_buffer"), reference.buffer, kTight);
    }
  }
}

TEST_CASE("SGD maximize ascends the gradient") {
  Tensor p = leaf({1.0}, {1});
  give_grad(p, {2.0});
  SGD sgd({p}, {.lr = 0.5, .maximize = true});
  sgd.step();
  CHECK(p.item() == doctest::Approx(1.0 + 0.5 * 2.0));
}

TEST_CASE("SGD refuses nesterov without momentum or with dampening") {
  Tensor p = leaf({1.0}, {1});
  check_error([&] { SGD({p}, {.lr = 0.1, .nesterov = true}); }, {"SGD", "Nesterov", "momentum 0"});
  check_error([&] { SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.5, .nesterov = true}); },
              {"SGD", "Nesterov", "dampening 0.5"});
  check_error([&] { SGD({p}, {.lr = 0.1, .momentum = -0.9}); }, {"SGD", "momentum -0.9"});
}

// ---------------------------------------------------------------------------------------------------------
// Adam and AdamW

TEST_CASE("Adam first step is the bias-corrected formula") {
  const Values p0 = {0.5, -1.5, 2.0}, g = {0.2, -0.01, 3.0};
  Tensor p = leaf(p0, {3});
  give_grad(p, g);
  const double lr = 0.01, beta1 = 0.8, beta2 = 0.99, eps = 1e-3;
  Adam adam({p}, {.lr = lr, .betas = {beta1, beta2}, .eps = eps});
  adam.step();
  Values expected(3), m(3), v(3);
  for (size_t i = 0; i < 3; ++i) {
    m[i] = (1 - beta1) * g[i];
    v[i] = (1 - beta2) * g[i] * g[i];
    const double step_size = lr / (1 - beta1);
    const double denominator = std::sqrt(v[i]) / std::sqrt(1 - beta2) + eps;
    expected[i] = p0[i] - step_size * m[i] / denominator;
  }
  check_close(p, expected, kTight);
  const ParameterState* state = adam.state(p);
  REQUIRE(state != nullptr);
  CHECK(state->step == 1);
  check_close(state->buffers.at("exp_avg"), m, kTight);
  check_close(state->buffers.at("exp_avg_sq"), v, kTight);
  CHECK(state->buffers.count("max_exp_avg_sq") == 0);
}

TEST_CASE("Adam with L2 weight decay matches the reference loop over several steps") {
  const AdamOptions options{.lr = 0.02, .betas = {0.9, 0.95}, .eps = 1e-6, .weight_decay = 0.1};
  Values expected = random_values(10, 2);
  Tensor p = leaf(expected, {2, 5});
  Adam adam({p}, options);
  AdamReference reference{options};
  for (int step = 0; step < 6; ++step) {
    const Values g = random_values(10, 200 + step);
    give_grad(p, g);
    adam.step();
    reference.step(expected, g, options.lr, options.weight_decay);
  }
  check_close(p, expected, kTight);
  CHECK(adam.state(p)->step == 6);
  check_close(adam.state(p)->buffers.at("exp_avg"), reference.m, 1e-10);
  check_close(adam.state(p)->buffers.at("exp_avg_sq"), reference.v, 1e-10);
}

TEST_CASE("Adam amsgrad divides by the running maximum of the second moment") {
  const AdamOptions options{.lr = 0.1, .betas = {0.5, 0.6}, .amsgrad = true, .maximize = true};
  Values expected = {1.0, -1.0, 0.25};
  Tensor p = leaf(expected, {3});
  Adam adam({p}, options);
  AdamReference reference{options};
  // Gradients that shrink: v falls below its earlier maximum, so amsgrad changes the step.
  const std::vector<Values> grads = {{4.0, -3.0, 2.0}, {0.5, 0.1, -0.2}, {0.1, -0.05, 0.01}};
  for (const Values& g : grads) {
    give_grad(p, g);
    adam.step();
    reference.step(expected, g, options.lr, 0.0);
  }
  check_close(p, expected, kTight);
  check_close(adam.state(p)->buffers.at("max_exp_avg_sq"), reference.v_max, kTight);
  for (size_t i = 0; i < 3; ++i) CHECK(reference.v_max[i] > reference.v[i]);  // the maximum mattered
}

TEST_CASE("AdamW decays the weights before the Adam step") {
  const Values p0 = {2.0, -1.0}, g = {0.3, 0.6};
  Tensor p = leaf(p0, {2});
  give_grad(p, g);
  const double lr = 0.1, wd = 0.5;
  AdamW adamw({p}, {.lr = lr, .weight_decay = wd});
  adamw.step();
  Values expected(2);
  for (size_t i = 0; i < 2; ++i) {
    const double decayed = p0[i] * (1 - lr * wd);
    const double m = 0.1 * g[i], v = 0.001 * g[i] * g[i];
    expected[i] = decayed - lr / 0.1 * m / (std::sqrt(v) / std::sqrt(0.001) + 1e-8);
  }
  check_close(p, expected, kTight);
}

TEST_CASE("AdamW matches the reference loop and keeps torch's default weight decay") {
  CHECK(AdamWOptions{}.weight_decay == 1e-2);
  CHECK(AdamOptions{}.weight_decay == 0.0);
  const AdamWOptions options{.lr = 0.05, .betas = {0.85, 0.98}, .weight_decay = 0.2, .amsgrad = true};
  Values expected = random_values(8, 3);
  Tensor p = leaf(expected, {8});
  AdamW adamw({p}, options);
  CHECK(adamw.decoupled_weight_decay());
  AdamReference reference{{.lr = options.lr, .betas = options.betas, .eps = options.eps, .amsgrad = true}, true};
  for (int step = 0; step < 5; ++step) {
    const Values g = random_values(8, 300 + step);
    give_grad(p, g);
    adamw.step();
    reference.step(expected, g, options.lr, options.weight_decay);
  }
  check_close(p, expected, kTight);
}

TEST_CASE("Adam refuses bad betas and epsilon") {
  Tensor p = leaf({1.0}, {1});
  check_error([&] { Adam({p}, {.betas = {1.0, 0.999}}); }, {"Adam", "beta parameter at index 0", "1"});
  check_error([&] { AdamW({p}, {.betas = {0.9, -0.1}}); }, {"AdamW", "index 1", "-0.1"});
  check_error([&] { Adam({p}, {.eps = -1e-8}); }, {"Adam", "epsilon", "-1e-08"});
}

// ---------------------------------------------------------------------------------------------------------
// LARS

TEST_CASE("LARS one step scales the decayed gradient by the trust ratio and excludes the bias group") {
  const Values w0 = {0.6, -0.8, 1.2, 0.4}, gw = {0.05, 0.1, -0.2, 0.3};
  const Values b0 = {0.1, -0.3}, gb = {0.5, -0.25};
  Tensor w = leaf(w0, {2, 2}), b = leaf(b0, {2});
  give_grad(w, gw);
  give_grad(b, gb);
  const double lr = 0.5, wd = 0.01, eta = 0.02;
  LARS lars(lars_param_groups({{"fc.weight", w}, {"fc.bias", b}}, lr, wd),
            {.momentum = 0.9, .trust_coefficient = eta});
  REQUIRE(lars.param_groups().size() == 2);
  CHECK(lars.param_groups()[1].exclude_from_adaptation);
  lars.step();

  Values d(4);
  for (size_t i = 0; i < 4; ++i) d[i] = gw[i] + wd * w0[i];
  const double ratio = eta * l2_norm(w0) / l2_norm(d);
  Values w1(4), b1(2);
  for (size_t i = 0; i < 4; ++i) w1[i] = w0[i] - lr * ratio * d[i];  // buf = 0.9·0 + ratio·d
  for (size_t i = 0; i < 2; ++i) b1[i] = b0[i] - lr * gb[i];         // excluded: no decay, no ratio
  check_close(w, w1, kTight);
  check_close(b, b1, kTight);
  CHECK(lars.last_trust_ratio(w) == doctest::Approx(ratio).epsilon(kTight));
  CHECK(lars.last_trust_ratio(b) == 1.0);
}

TEST_CASE("LARS matches the BYOL reference over several steps") {
  const LARSOptions options{.lr = 0.3, .momentum = 0.9, .weight_decay = 1.5e-6, .trust_coefficient = 1e-3,
                            .eps = 1e-9};
  Values w_expected = random_values(15, 4), b_expected = random_values(3, 5);
  Tensor w = leaf(w_expected, {3, 5}), b = leaf(b_expected, {3});
  LARS lars(lars_param_groups({{"w", w}, {"b", b}}, options.lr, options.weight_decay), options);
  LarsReference w_reference{options}, b_reference{options};
  for (int step = 0; step < 5; ++step) {
    const Values gw = random_values(15, 400 + step), gb = random_values(3, 500 + step);
    give_grad(w, gw);
    give_grad(b, gb);
    lars.step();
    w_reference.step(w_expected, gw, options.lr, options.weight_decay, false);
    b_reference.step(b_expected, gb, options.lr, 0.0, true);
  }
  check_close(w, w_expected, kTight);
  check_close(b, b_expected, kTight);
  check_close(lars.state(w)->buffers.at("momentum_buffer"), w_reference.buffer, kTight);
  CHECK(lars.last_trust_ratio(w) == doctest::Approx(w_reference.trust_ratio).epsilon(kTight));
}

TEST_CASE("LARS trust ratio is one when the parameter or the update is zero") {
  Tensor zero_param = leaf({0.0, 0.0}, {2}), zero_update = leaf({1.0, 2.0}, {2});
  give_grad(zero_param, {0.5, -0.5});
  give_grad(zero_update, {0.0, 0.0});
  LARS lars({zero_param, zero_update}, {.lr = 0.1, .momentum = 0.0});
  lars.step();
  CHECK(lars.last_trust_ratio(zero_param) == 1.0);
  CHECK(lars.last_trust_ratio(zero_update) == 1.0);
  check_close(zero_param, {-0.05, 0.05}, kTight);
  check_close(zero_update, {1.0, 2.0}, kTight);
}

TEST_CASE("LARS refuses an excluded group with weight decay") {
  Tensor b = leaf({1.0}, {1});
  ParamGroup group{.params = {b}, .lr = 0.1, .weight_decay = 1e-4, .exclude_from_adaptation = true};
  check_error([&] { LARS({group}); }, {"LARS", "param group 0", "excluded from adaptation", "0.0001"});
  LARS lars({b}, {.lr = 0.1});
  lars.param_groups()[0].exclude_from_adaptation = true;
  lars.param_groups()[0].weight_decay = 0.5;
  give_grad(b, {1.0});
  check_error([&] { lars.step(); }, {"LARS", "weight_decay 0.5"});
  check_error([&] { LARS({b}, {.trust_coefficient = 0.0}); }, {"LARS", "trust_coefficient 0"});
}

TEST_CASE("LARS norms and updates do not depend on the thread count") {
  const int64_t n = 300007;  // many chunks, and a length no thread split divides evenly
  const Values w0 = random_values(n, 6), g = random_values(n, 7, -1e-3, 1e-3);
  auto run = [&](int threads) {
    return with_threads(threads, [&] {
      Tensor w = leaf(w0, {n}, DType::f32);
      LARS lars({w}, {.lr = 0.7, .weight_decay = 1e-4});
      for (int step = 0; step < 2; ++step) {
        give_grad(w, g);
        lars.step();
      }
      return std::pair<double, Values>(lars.last_trust_ratio(w), w.to_vector());
    });
  };
  const auto one = run(1), two = run(2), three = run(3);
  CHECK(one.first == two.first);
  CHECK(one.first == three.first);
  CHECK(one.second == two.second);
  CHECK(one.second == three.second);
  CHECK(one.first != 1.0);
}

// ---------------------------------------------------------------------------------------------------------
// What every optimizer shares

TEST_CASE("param groups keep their own learning rate and weight decay") {
  const Values a0 = {1.0, 2.0}, b0 = {-1.0, 0.5}, ga = {0.5, 0.5}, gb = {1.0, -1.0};
  Tensor a = leaf(a0, {2}), b = leaf(b0, {2});
  give_grad(a, ga);
  give_grad(b, gb);
  SGD sgd(std::vector<ParamGroup>{{.params = {a}, .lr = 0.1, .weight_decay = 0.0},
                                  {.params = {b}, .lr = 0.01, .weight_decay = 0.5}},
          {.momentum = 0.5});
  sgd.step();
  check_close(a, {a0[0] - 0.1 * ga[0], a0[1] - 0.1 * ga[1]}, kTight);
  check_close(b, {b0[0] - 0.01 * (gb[0] + 0.5 * b0[0]), b0[1] - 0.01 * (gb[1] + 0.5 * b0[1])}, kTight);
  // A schedule writes group.lr; the next step uses it.
  sgd.param_groups()[0].lr = 0.0;
  const Values a1 = a.to_vector();
  sgd.step();
  check_close(a, a1, kTight);
}

TEST_CASE("parameters without a gradient are skipped by every optimizer") {
  auto check_skips = [](auto make) {
    Tensor with = leaf({1.0, 2.0}, {2}), without = leaf({3.0, 4.0}, {2});
    give_grad(with, {0.5, 0.5});
    auto optimizer = make(std::vector<Tensor>{with, without});
    optimizer.step();
    CHECK(with.to_vector() != Values{1.0, 2.0});
    CHECK(without.to_vector() == Values{3.0, 4.0});
    CHECK(without.version() == 0);
    CHECK(optimizer.state(without) == nullptr);
    CHECK(optimizer.state_dict().count("state.1.momentum_buffer") + optimizer.state_dict().count("state.1.exp_avg") ==
          0);
  };
  check_skips([](std::vector<Tensor> ps) { return SGD(ps, {.lr = 0.1, .momentum = 0.9}); });
  check_skips([](std::vector<Tensor> ps) { return Adam(ps, {.lr = 0.1}); });
  check_skips([](std::vector<Tensor> ps) { return AdamW(ps, {.lr = 0.1}); });
  check_skips([](std::vector<Tensor> ps) { return LARS(ps, {.lr = 0.1}); });
}

TEST_CASE("zero_grad drops every gradient") {
  Tensor a = leaf({1.0}, {1}), b = leaf({2.0}, {1});
  give_grad(a, {1.0});
  give_grad(b, {1.0});
  Adam adam(std::vector<ParamGroup>{{.params = {a}, .lr = 0.1}, {.params = {b}, .lr = 0.2}});
  adam.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  adam.step();  // nothing to do
  CHECK(a.item() == 1.0);
}

TEST_CASE("f32 updates agree with the f64 reference") {
  const Values p0 = random_values(20, 8), g1 = random_values(20, 9), g2 = random_values(20, 10);
  auto run = [&](auto make) {
    Tensor p = leaf(p0, {4, 5}, DType::f32);
    auto optimizer = make(std::vector<Tensor>{p});
    for (const Values& g : {g1, g2}) {
      give_grad(p, g);
      optimizer.step();
    }
    return p;
  };
  // Inputs rounded to f32 first, so the comparison measures the kernels' f32 arithmetic only.
  auto f32 = [](Values v) {
    for (double& x : v) x = static_cast<float>(x);
    return v;
  };
  {
    SGDOptions o{.lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 1e-3};
    Values expected = f32(p0);
    SgdReference reference{o};
    reference.step(expected, f32(g1), o.lr, o.weight_decay);
    reference.step(expected, f32(g2), o.lr, o.weight_decay);
    check_close(run([&](std::vector<Tensor> ps) { return SGD(ps, o); }), expected, 1e-5);
  }
  {
    AdamOptions o{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true};
    Values expected = f32(p0);
    AdamReference reference{o};
    reference.step(expected, f32(g1), o.lr, o.weight_decay);
    reference.step(expected, f32(g2), o.lr, o.weight_decay);
    check_close(run([&](std::vector<Tensor> ps) { return Adam(ps, o); }), expected, 1e-5);
  }
  {
    LARSOptions o{.lr = 0.5, .weight_decay = 1e-3, .trust_coefficient = 0.01};
    Values expected = f32(p0);
    LarsReference reference{o};
    reference.step(expected, f32(g1), o.lr, o.weight_decay, false);
    reference.step(expected, f32(g2), o.lr, o.weight_decay, false);
    check_close(run([&](std::vector<Tensor> ps) { return LARS(ps, o); }), expected, 1e-5);
  }
}

TEST_CASE("a non-contiguous parameter is updated through its view") {
  Tensor base = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = DType::f64});
  Tensor view = base.transpose(0, 1);  // [3, 2], strides [1, 3]
  view.requires_grad_();
  give_grad(view, {0.5, 1.0, 1.5, 2.0, 2.5, 3.0});
  SGD sgd({view}, {.lr = 0.1, .momentum = 0.9});
  sgd.step();
  // view[i][j] = base[j][i]; row-major over the view: (0,0)=1 (0,1)=4 (1,0)=2 (1,1)=5 (2,0)=3 (2,1)=6
  check_close(view, {1 - 0.05, 4 - 0.1, 2 - 0.15, 5 - 0.2, 3 - 0.25, 6 - 0.3}, kTight);
  check_close(base, {1 - 0.05, 2 - 0.15, 3 - 0.25, 4 - 0.1, 5 - 0.2, 6 - 0.3}, kTight);
}

TEST_CASE("a step bumps the parameter version so a graph over the old values refuses backward") {
  Tensor p = leaf({1.0, 2.0}, {2});
  Tensor loss = sum(mul(p, p));  // saves p for its backward
  give_grad(p, {1.0, 1.0});
  const uint64_t before = p.version();
  Adam adam({p}, {.lr = 0.1});
  adam.step();
  CHECK(p.version() > before);
  CHECK_THROWS_AS(loss.backward(), Error);
}

TEST_CASE("a step allocates no memory once the state exists") {
  Tensor w = leaf(random_values(4096, 11), {64, 64}, DType::f32), b = leaf(random_values(64, 12), {64}, DType::f32);
  const Tensor gw = Tensor::from_vector(random_values(4096, 13), {64, 64}), gb = Tensor::from_vector(random_values(64, 14), {64});
  auto allocations_per_step = [&](Optimizer& optimizer) {
    w.set_grad(gw);
    b.set_grad(gb);
    optimizer.step();  // allocates the state
    const size_t before = allocator_for(Device::cpu()).stats().allocations;
    for (int i = 0; i < 3; ++i) optimizer.step();
    return allocator_for(Device::cpu()).stats().allocations - before;
  };
  SGD sgd({w, b}, {.lr = 1e-3, .momentum = 0.9});
  CHECK(allocations_per_step(sgd) == 0);
  Adam adam({w, b}, {.lr = 1e-3, .amsgrad = true});
  CHECK(allocations_per_step(adam) == 0);
  LARS lars(lars_param_groups({{"w", w}, {"b", b}}, 1e-3, 1e-4));
  CHECK(allocations_per_step(lars) == 0);
  const size_t before = allocator_for(Device::cpu()).stats().allocations;
  clip_grad_norm_({w, b}, 1e-3);
  CHECK(allocator_for(Device::cpu()).stats().allocations == before);
}

TEST_CASE("optimizers refuse bad parameters and groups") {
  Tensor p = leaf({1.0, 2.0}, {2});
  check_error([&] { SGD(std::vector<Tensor>{}, {.lr = 0.1}); }, {"SGD", "no parameters"});
  check_error([&] { SGD({p}, {.lr = -0.1}); }, {"SGD", "learning rate -0.1"});
  check_error([&] { Adam({p}, {.weight_decay = -1.0}); }, {"Adam", "weight_decay -1"});
  check_error([&] { SGD({p, p}, {.lr = 0.1}); }, {"SGD", "parameter 1", "more than once"});
  check_error([&] { LARS(std::vector<ParamGroup>{{.params = {p}, .lr = 0.1}, {.params = {p}, .lr = 0.1}}); },
              {"LARS", "param group 1", "more than once"});
  Tensor not_leaf = mul(p, 2.0);
  check_error([&] { SGD({not_leaf}, {.lr = 0.1}); }, {"SGD", "not a leaf", "[2] f64"});
  check_error([&] { SGD({Tensor()}, {.lr = 0.1}); }, {"SGD", "undefined"});
  Tensor labels = Tensor::from_vector({1, 2}, {2}, {.dtype = DType::i64});
  check_error([&] { Adam({labels}); }, {"Adam", "i64", "f32 or f64"});
  check_error([&] { SGD({{"fc.weight", p}}, {.lr = std::nan("")}); }, {"SGD", "learning rate nan"});
  ParamGroup mismatched{.params = {p}, .names = {"a", "b"}, .lr = 0.1};
  check_error([&] { SGD({mismatched}); }, {"SGD", "1 parameters but 2 names"});
  SGD sgd({{"fc.weight", p}}, {.lr = 0.1});
  Tensor q = leaf({1.0}, {1});
  check_error([&] { sgd.add_param_group({.params = {q, p}, .lr = 0.1}); }, {"SGD", "param group 1", "more than once"});
  CHECK(sgd.param_groups().size() == 1);
  sgd.add_param_group({.params = {q}, .lr = 0.2});
  CHECK(sgd.param_groups().size() == 2);
}
