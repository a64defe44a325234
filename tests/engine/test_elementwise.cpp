// Elementwise ops: forward values against hand-computed results, broadcasting, gradient checks (also on
// non-contiguous and broadcast inputs), argument errors.
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

TEST_CASE("add/sub/mul/div forward with broadcasting") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = tensor({10, 20, 30});
  check_close(add(a, b), {11, 22, 33, 14, 25, 36});
  check_close(sub(a, b), {-9, -18, -27, -6, -15, -24});
  check_close(mul(a, b), {10, 40, 90, 40, 100, 180});
  check_close(div(a, b), {0.1, 0.1, 0.1, 0.4, 0.25, 0.2});
  Tensor column = Tensor::from_vector({1, 2}, {2, 1});
  check_close(add(column, b), {11, 21, 31, 12, 22, 32});
  CHECK(add(column, b).shape() == Shape{2, 3});
}

TEST_CASE("unary forward values") {
  Tensor x = tensor({-2.0, -0.5, 0.0, 0.5, 2.0}, {.dtype = DType::f64});
  check_close(abs(x), {2, 0.5, 0, 0.5, 2});
  check_close(sign(x), {-1, -1, 0, 1, 1});
  check_close(exp(x), {std::exp(-2.0), std::exp(-0.5), 1, std::exp(0.5), std::exp(2.0)});
  check_close(clamp(x, -1.0, 1.0), {-1, -0.5, 0, 0.5, 1});
  check_close(square(x), {4, 0.25, 0, 0.25, 4});
  check_close(pow(x, 3.0), {-8, -0.125, 0, 0.125, 8});
  check_close(maximum(x, zeros_like(x)), {0, 0, 0, 0.5, 2});
  check_close(where(gt(x, 0.0), x, neg(x)), {2, 0.5, 0, 0.5, 2});
  check_close(ge(x, zeros_like(x)), {0, 0, 1, 1, 1});
}

TEST_CASE("elementwise argument errors name the op and both shapes") {
  check_error([] { add(zeros({2, 3}), zeros({4})); }, {"add", "[2, 3]", "[4]"});
  check_error([] { mul(zeros({2}), zeros({2}, {.dtype = DType::f64})); }, {"mul", "f32", "f64"});
}

// One gradient check per op, each on a contiguous input, a broadcast pair or a non-contiguous view.
#define BINARY_GRADCHECK(name, op, low, high)                                                             \
  TEST_CASE("gradcheck: " name) {                                                                       \
    CHECK_GRADCHECK([](const Inputs& in) { return op(in[0], in[1]); },                                  \
                    Inputs({random_input({3, 4}, 1, low, high), random_input({4}, 2, low, high)}));     \
    CHECK_GRADCHECK([](const Inputs& in) { return op(in[0], in[1]); },                                  \
                    Inputs({random_input({3, 1}, 3, low, high), transposed_input({1, 4}, 4)}));         \
  }

BINARY_GRADCHECK("add", add, -1.0, 1.0)
BINARY_GRADCHECK("sub", sub, -1.0, 1.0)
BINARY_GRADCHECK("mul", mul, -1.0, 1.0)
BINARY_GRADCHECK("maximum", maximum, -1.0, 1.0)
BINARY_GRADCHECK("minimum", minimum, -1.0, 1.0)

TEST_CASE("gradcheck: div") {
  CHECK_GRADCHECK([](const Inputs& in) { return div(in[0], in[1]); },
                  Inputs({random_input({3, 4}, 5), random_input({3, 4}, 6, 0.5, 2.0)}));
  CHECK_GRADCHECK([](const Inputs& in) { return div(in[0], in[1]); },
                  Inputs({transposed_input({3, 4}, 7), random_input({4}, 8, 0.5, 2.0)}));
}

TEST_CASE("gradcheck: pow") {
  CHECK_GRADCHECK([](const Inputs& in) { return pow(in[0], in[1]); },
                  Inputs({random_input({2, 3}, 7, 0.5, 2.0), random_input({3}, 8)}));
}

TEST_CASE("maximum splits the gradient evenly on ties") {
  Tensor a = tensor({1.0, 2.0}, {.dtype = DType::f64, .requires_grad = true});
  Tensor b = tensor({1.0, 3.0}, {.dtype = DType::f64, .requires_grad = true});
  sum(maximum(a, b)).backward();
  check_close(a.grad(), {0.5, 0.0});
  check_close(b.grad(), {0.5, 1.0});
}

#define UNARY_GRADCHECK(name, expression, low, high)                                                     \
  TEST_CASE("gradcheck: " name) {                                                                       \
    auto f = [](const Inputs& in) {                                                                     \
      const Tensor& x = in[0];                                                                          \
      return expression;                                                                                \
    };                                                                                                  \
    CHECK_GRADCHECK(f, Inputs({random_input({3, 4}, 21, low, high)}));                                  \
    /* a non-contiguous view: every other column of a leaf */                                           \
    auto strided = [f](const Inputs& in) { return f({in[0].slice(1, 0, 6, 2)}); };                     \
    CHECK_GRADCHECK(strided, Inputs({random_input({4, 6}, 22, low, high)}));                            \
  }

UNARY_GRADCHECK("neg", neg(x), -2.0, 2.0)
UNARY_GRADCHECK("exp", exp(x), -2.0, 2.0)
UNARY_GRADCHECK("log", log(x), 0.2, 3.0)
UNARY_GRADCHECK("sqrt", sqrt(x), 0.2, 3.0)
UNARY_GRADCHECK("rsqrt", rsqrt(x), 0.2, 3.0)
UNARY_GRADCHECK("abs", abs(x), 0.1, 2.0)
UNARY_GRADCHECK("abs of negative values", abs(x), -2.0, -0.1)
UNARY_GRADCHECK("square", square(x), -2.0, 2.0)
UNARY_GRADCHECK("erf", erf(x), -2.0, 2.0)
UNARY_GRADCHECK("pow scalar exponent", pow(x, 2.5), 0.2, 2.0)
UNARY_GRADCHECK("add scalar", add(x, 3.0), -2.0, 2.0)
UNARY_GRADCHECK("mul scalar", mul(x, -1.5), -2.0, 2.0)
UNARY_GRADCHECK("scalar divided by tensor", 2.0 / x, 0.5, 2.0)
UNARY_GRADCHECK("clamp", clamp(x, -0.5, 0.5), -2.0, 2.0)
UNARY_GRADCHECK("sign", mul(sign(x), x), 0.1, 2.0)

TEST_CASE("gradcheck: unary ops on non-contiguous inputs") {
  Tensor base = random_input({4, 6}, 31, 0.2, 2.0);
  // A strided view (every other column) of a leaf: the gradient must land in the right places.
  CHECK_GRADCHECK([](const Inputs& in) { return log(in[0].slice(1, 0, 6, 2)); }, Inputs({base}));
  CHECK_GRADCHECK([](const Inputs& in) { return exp(in[0].transpose(0, 1)); }, Inputs({random_input({3, 5}, 32)}));
}

TEST_CASE("gradcheck: where") {
  Tensor condition = tensor({1, 0, 1}, {.dtype = DType::f64});
  CHECK_GRADCHECK([condition](const Inputs& in) { return where(condition, in[0], in[1]); },
                  Inputs({random_input({2, 3}, 41), random_input({3}, 42)}));
}
