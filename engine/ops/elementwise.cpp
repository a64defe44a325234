// Elementwise front ends: check operands, broadcast, call the kernel, record the backward (written with
// other ops, so it runs on any device).
#include "engine/ops/elementwise.h"

#include <limits>

#include "engine/kernels/elementwise.h"
#include "engine/ops.h"

namespace vireo {

using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryParams;

namespace detail {

void check_same_kind(const char* op, const Tensor& a, const Tensor& b) {
  VIREO_CHECK(a.defined() && b.defined(), op, ": an operand is undefined");
  VIREO_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", describe(a), " and ", describe(b), ")");
  VIREO_CHECK(a.device() == b.device(), op, ": devices differ (", describe(a), " and ", describe(b), ")");
}

// Runs a binary kernel on broadcast operands and returns the fresh output (no history).
Tensor binary_forward(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  check_same_kind(op, a, b);
  const Shape shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor out = Tensor::empty(shape, a.options());
  NoGrad no_grad;
  kernels::binary(a.device(), kind, a.expand(shape), b.expand(shape), out);
  return out;
}

Tensor unary_forward(UnaryOp kind, const Tensor& x, UnaryParams params = {}) {
  Tensor out = Tensor::empty(x.shape(), x.options());
  kernels::unary(x.device(), kind, x, out, params);
  return out;
}

// A unary map whose backward is its fused derivative kernel.
Tensor unary_op(const char* op, UnaryOp kind, const Tensor& x, UnaryParams params = {}) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  Tensor out = unary_forward(kind, x, params);
  if (!is_floating(x.dtype())) return out;
  Tensor saved = x.detach();
  return record(op, out, {x}, [kind, saved, params](const Tensor& g) {
    Tensor grad = Tensor::empty(saved.shape(), saved.options());
    kernels::unary_backward(saved.device(), kind, saved, g, grad, params);
    return std::vector<Tensor>{grad};
  }, {saved});
}

}  // namespace detail

using detail::binary_forward;
using detail::unary_op;

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("add", BinaryOp::add, a, b);
  return record("add", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(g, sb)};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("sub", BinaryOp::sub, a, b);
  return record("sub", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g) {
    return std::vector<Tensor>{sum_to(g, sa), sum_to(neg(g), sb)};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("mul", BinaryOp::mul, a, b);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  Tensor sa = a.detach(), sb = b.detach();
  return record("mul", out, {a, b}, [sa, sb, ga, gb](const Tensor& g) {
    return std::vector<Tensor>{ga ? sum_to(mul(g, sb), sa.shape()) : Tensor(),
                               gb ? sum_to(mul(g, sa), sb.shape()) : Tensor()};
  }, {sa, sb});
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("div", BinaryOp::div, a, b);
  const bool gb = b.requires_grad();
  Tensor sa = a.detach(), sb = b.detach();
  return record("div", out, {a, b}, [sa, sb, gb](const Tensor& g) {
    Tensor ga = div(g, sb);
    return std::vector<Tensor>{sum_to(ga, sa.shape()), gb ? sum_to(neg(mul(ga, div(sa, sb))), sb.shape()) : Tensor()};
  }, {sa, sb});
}

Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("pow", BinaryOp::pow, a, b);
  const bool gb = b.requires_grad();
  Tensor sa = a.detach(), sb = b.detach(), so = out.detach();
  return record("pow", out, {a, b}, [sa, sb, so, gb](const Tensor& g) {
    // d/da a^b = b·a^(b−1); d/db a^b = a^b·log a
    Tensor da = mul(g, mul(sb, pow(sa, sub(sb, ones_like(sb)))));
    return std::vector<Tensor>{sum_to(da, sa.shape()), gb ? sum_to(mul(g, mul(so, log(sa))), sb.shape()) : Tensor()};
  }, {sa, sb});
}

namespace {
// maximum/minimum: the gradient goes to the selected operand, split evenly on ties (as torch).
Tensor extremum(const char* op, BinaryOp kind, const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(op, kind, a, b);
  Tensor sa = a.detach(), sb = b.detach();
  return record(op, out, {a, b}, [sa, sb, kind](const Tensor& g) {
    Tensor a_wins = kind == BinaryOp::maximum ? gt(sa, sb) : lt(sa, sb);
    Tensor tie = mul(eq(sa, sb), 0.5);
    Tensor share_a = add(a_wins, tie);
    Tensor share_b = sub(ones_like(share_a), share_a);
    return std::vector<Tensor>{sum_to(mul(g, share_a), sa.shape()), sum_to(mul(g, share_b), sb.shape())};
  }, {sa, sb});
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", BinaryOp::maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", BinaryOp::minimum, a, b); }

Tensor add(const Tensor& a, double b) { return unary_op("add_scalar", UnaryOp::add_scalar, a, {b}); }
Tensor mul(const Tensor& a, double b) {
  VIREO_CHECK(a.defined(), "mul: the input is undefined");
  Tensor out = detail::unary_forward(UnaryOp::mul_scalar, a, {b});
  return record("mul_scalar", out, {a}, [b](const Tensor& g) { return std::vector<Tensor>{mul(g, b)}; });
}
Tensor pow(const Tensor& a, double exponent) { return unary_op("pow_scalar", UnaryOp::pow_scalar, a, {exponent}); }

Tensor neg(const Tensor& x) {
  VIREO_CHECK(x.defined(), "neg: the input is undefined");
  Tensor out = detail::unary_forward(UnaryOp::neg, x);
  return record("neg", out, {x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
}
Tensor exp(const Tensor& x) { return unary_op("exp", UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary_op("log", UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary_op("sqrt", UnaryOp::sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary_op("rsqrt", UnaryOp::rsqrt, x); }
Tensor abs(const Tensor& x) { return unary_op("abs", UnaryOp::abs, x); }
Tensor sign(const Tensor& x) { return unary_op("sign", UnaryOp::sign, x); }
Tensor square(const Tensor& x) { return unary_op("square", UnaryOp::square, x); }
Tensor erf(const Tensor& x) { return unary_op("erf", UnaryOp::erf, x); }

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  return unary_op("clamp", UnaryOp::clamp, x, {min.value_or(-kInf), max.value_or(kInf)});
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  detail::check_same_kind("where", a, b);
  VIREO_CHECK(condition.defined() && condition.device() == a.device(), "where: condition ", describe(condition),
              " does not match ", describe(a));
  const Shape shape = broadcast_shapes("where", broadcast_shapes("where", condition.shape(), a.shape()), b.shape());
  Tensor mask = condition.detach().to(a.dtype());
  Tensor out = Tensor::empty(shape, a.options());
  {
    NoGrad no_grad;
    kernels::where(a.device(), mask.expand(shape), a.expand(shape), b.expand(shape), out);
  }
  return record("where", out, {a, b}, [mask, sa = a.shape(), sb = b.shape()](const Tensor& g) {
    Tensor zero = zeros({}, g.options());
    return std::vector<Tensor>{sum_to(where(mask, g, zero), sa), sum_to(where(mask, zero, g), sb)};
  });
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_forward("eq", BinaryOp::eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_forward("ne", BinaryOp::ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_forward("lt", BinaryOp::lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_forward("le", BinaryOp::le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_forward("gt", BinaryOp::gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_forward("ge", BinaryOp::ge, a, b); }
Tensor gt(const Tensor& a, double b) { return gt(a, full({}, b, a.options())); }
Tensor lt(const Tensor& a, double b) { return lt(a, full({}, b, a.options())); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator/(double a, const Tensor& b) { return mul(pow(b, -1.0), a); }

}  // namespace vireo
