// Autograd semantics: accumulation, retain_graph and freeing, NoGrad, detach, retain_grad, hooks, the
// in-place version check, anomaly mode — and that the gradient checker itself catches a wrong backward.
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using Inputs = std::vector<Tensor>;

namespace {
Tensor leaf(std::initializer_list<double> values) {
  return tensor(values, {.dtype = DType::f64, .requires_grad = true});
}
}  // namespace

TEST_CASE("backward through a diamond reaches the leaf once per path") {
  Tensor x = leaf({2.0, 3.0});
  Tensor y = mul(x, x);            // x²
  Tensor z = add(mul(y, 3.0), y);  // 4x²
  sum(z).backward();
  check_close(x.grad(), {16.0, 24.0});
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  Tensor x = leaf({1.0, -2.0});
  sum(mul(x, 3.0)).backward();
  sum(mul(x, 3.0)).backward();
  check_close(x.grad(), {6.0, 6.0});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum(x).backward();
  check_close(x.grad(), {1.0, 1.0});
}

TEST_CASE("a kept gradient is never changed by a later backward") {
  Tensor x = leaf({1.0});
  sum(x).backward();
  Tensor kept = x.grad();
  sum(x).backward();
  check_close(kept, {1.0});
  check_close(x.grad(), {2.0});
}

TEST_CASE("the graph is freed after backward unless retained") {
  Tensor x = leaf({1.0, 2.0});
  Tensor y = sum(exp(x));
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  check_close(x.grad(), {2 * std::exp(1.0), 2 * std::exp(2.0)});
  check_error([&] { y.backward(); }, {"already freed", "retain_graph"});
}

TEST_CASE("backward with an explicit gradient and its errors") {
  Tensor x = leaf({1.0, 2.0, 3.0});
  Tensor y = mul(x, 2.0);
  y.backward(tensor({1.0, 0.0, -1.0}, {.dtype = DType::f64}));
  check_close(x.grad(), {2.0, 0.0, -2.0});
  Tensor z = mul(x, 2.0);
  check_error([&] { z.backward(); }, {"backward", "one-element"});
  check_error([&] { z.backward(ones({2}, {.dtype = DType::f64})); }, {"backward", "[2]", "[3]"});
  Tensor plain = ones({1});
  check_error([&] { plain.backward(); }, {"does not require grad"});
}

TEST_CASE("NoGrad records nothing and detach cuts history") {
  Tensor x = leaf({1.0});
  {
    NoGrad no_grad;
    Tensor y = mul(x, 2.0);
    CHECK_FALSE(y.requires_grad());
    CHECK(grad_enabled() == false);
  }
  CHECK(grad_enabled());
  Tensor d = mul(x, 2.0).detach();
  CHECK_FALSE(d.requires_grad());
  Tensor y = add(mul(x, 2.0), mul(d, 100.0));
  y.backward();
  check_close(x.grad(), {2.0});
}

TEST_CASE("retain_grad keeps the gradient of a non-leaf") {
  Tensor x = leaf({1.0, 2.0});
  Tensor h = mul(x, 3.0);
  h.retain_grad();
  Tensor other = mul(x, 5.0);
  sum(mul(h, h)).backward();
  check_close(h.grad(), {6.0, 12.0});
  CHECK_FALSE(other.grad().defined());
}

TEST_CASE("tensor hooks see and may replace the gradient") {
  Tensor x = leaf({1.0, 2.0});
  Tensor h = mul(x, 2.0);
  std::vector<double> seen;
  h.register_hook([&](const Tensor& g) {
    seen = g.to_vector();
    return mul(g, 10.0);
  });
  const int leaf_hook = x.register_hook([](const Tensor& g) { return add(g, 1.0); });
  sum(h).backward();
  CHECK(seen == std::vector<double>{1.0, 1.0});
  check_close(x.grad(), {21.0, 21.0});
  x.remove_hook(leaf_hook);
  x.zero_grad();
  sum(mul(x, 2.0)).backward();
  check_close(x.grad(), {2.0, 2.0});
}

TEST_CASE("modifying a saved tensor in place makes backward refuse") {
  Tensor x = leaf({1.0, 2.0});
  Tensor w = tensor({3.0, 4.0}, {.dtype = DType::f64});
  Tensor y = sum(mul(x, w));  // mul saves w for x's gradient
  w.add_(ones({2}, {.dtype = DType::f64}));
  check_error([&] { y.backward(); }, {"backward of 'mul'", "modified in place"});
}

TEST_CASE("in-place update of a tensor that requires grad is refused outside NoGrad") {
  Tensor x = leaf({1.0});
  check_error([&] { x.fill_(0.0); }, {"fill_", "requires grad"});
  {
    NoGrad no_grad;
    x.mul_(3.0);  // the optimizer's case
  }
  check_close(x, {3.0});
  const uint64_t before = x.version();
  {
    NoGrad no_grad;
    x.add_(x, 1.0);
  }
  CHECK(x.version() == before + 1);
  // Reading a tensor that requires grad into an in-place update would drop its gradient path silently.
  Tensor target = zeros({1}, {.dtype = DType::f64});
  check_error([&] { target.copy_(x); }, {"copy_", "source", "requires grad"});
  check_error([&] { target.add_(x); }, {"add_", "source", "requires grad"});
}

TEST_CASE("anomaly mode names the first op that produced a non-finite value") {
  Tensor x = leaf({0.0, 1.0});
  {
    DetectAnomaly anomaly;
    check_error([&] { log(x); }, {"anomaly", "log", "output"});
    Tensor s = sqrt(x);  // finite output, infinite derivative at 0
    check_error([&] { sum(s).backward(); }, {"anomaly", "backward of sqrt", "gradient"});
  }
  CHECK_NOTHROW(log(x));
}

TEST_CASE("the gradient checker catches a wrong backward") {
  // An op whose recorded backward is off by a factor of 2: gradcheck must report it.
  auto wrong = [](const Inputs& in) {
    Tensor out;
    {
      NoGrad no_grad;
      out = mul(in[0], 3.0);
    }
    return record("wrong_scale", out, {in[0]}, [](const Tensor& g) { return std::vector<Tensor>{mul(g, 6.0)}; });
  };
  CHECK_FALSE(vireo::testing::gradcheck(wrong, Inputs({random_input({4}, 1)})).empty());
  auto right = [](const Inputs& in) { return mul(in[0], 3.0); };
  CHECK(vireo::testing::gradcheck(right, Inputs({random_input({4}, 1)})).empty());
}

TEST_CASE("an unused branch receives no gradient and does not block others") {
  Tensor x = leaf({1.0, 2.0});
  Tensor a = mul(x, 2.0);
  Tensor b = mul(a, 0.0);  // contributes, with zero
  Tensor y = sum(add(a, b));
  y.backward();
  check_close(x.grad(), {2.0, 2.0});
}

