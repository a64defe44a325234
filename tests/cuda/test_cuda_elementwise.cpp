// The CUDA elementwise kernels (binary, unary, unary_backward, where), pad and Approx-BP codes.
// Host tests (run everywhere): the per-element math the kernels run (engine/cuda/elementwise_math.h),
// evaluated on the host, against the CPU kernels' results. GPU parity tests (skipped without a GPU): each
// kernel on CUDA against the CPU on random inputs — contiguous, transposed and broadcast views; f32, f64,
// f16, bf16 and i64 where the kernel takes it.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/parity_pairs.h"
#include "engine/cuda/elementwise_math.h"
#include "engine/kernels/approx_activation.h"
#include "engine/kernels/elementwise.h"
#include "engine/kernels/pad.h"

using namespace vireo;
using namespace vireo::test;
using kernels::BinaryOp;
using kernels::UnaryOp;
using kernels::UnaryParams;

namespace {

struct UnaryCase {
  UnaryOp op;
  const char* name;
  double lo, hi;  // the input range (positive where the function needs it)
  UnaryParams params;
};

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {UnaryOp::neg, "neg", -3, 3, {}},
      {UnaryOp::exp, "exp", -3, 3, {}},
      {UnaryOp::log, "log", 0.1, 5, {}},
      {UnaryOp::sqrt, "sqrt", 0.1, 5, {}},
      {UnaryOp::rsqrt, "rsqrt", 0.1, 5, {}},
      {UnaryOp::abs, "abs", -3, 3, {}},
      {UnaryOp::sign, "sign", -3, 3, {}},
      {UnaryOp::square, "square", -3, 3, {}},
      {UnaryOp::erf, "erf", -3, 3, {}},
      {UnaryOp::relu, "relu", -3, 3, {}},
      {UnaryOp::gelu, "gelu", -4, 4, {}},
      {UnaryOp::gelu_tanh, "gelu_tanh", -4, 4, {}},
      {UnaryOp::silu, "silu", -6, 6, {}},
      {UnaryOp::sigmoid, "sigmoid", -6, 6, {}},
      {UnaryOp::tanh, "tanh", -3, 3, {}},
      {UnaryOp::softplus, "softplus", -5, 5, {2.0, 4.0}},
      {UnaryOp::leaky_relu, "leaky_relu", -3, 3, {0.1, 0.0}},
      {UnaryOp::clamp, "clamp", -3, 3, {-1.0, 1.5}},
      {UnaryOp::add_scalar, "add_scalar", -3, 3, {0.75, 0.0}},
      {UnaryOp::mul_scalar, "mul_scalar", -3, 3, {-1.5, 0.0}},
      {UnaryOp::pow_scalar, "pow_scalar 2.5", 0.1, 3, {2.5, 0.0}},
      {UnaryOp::pow_scalar, "pow_scalar 2", -3, 3, {2.0, 0.0}},
  };
  return cases;
}

const std::vector<BinaryOp>& binary_ops() {
  static const std::vector<BinaryOp> ops = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div,
                                            BinaryOp::pow, BinaryOp::maximum, BinaryOp::minimum, BinaryOp::eq,
                                            BinaryOp::ne,  BinaryOp::lt, BinaryOp::le, BinaryOp::gt, BinaryOp::ge};
  return ops;
}

std::vector<double> uniform_values(int64_t n, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> values(static_cast<size_t>(n));
  for (double& v : values) v = uniform(rng);
  return values;
}

bool same_or_both_nan(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// |got − want| ≤ atol + rtol·|want| for every element (NaN matches NaN).
void check_values(const std::vector<double>& got, const std::vector<double>& want, double rtol, double atol,
                  const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;  // also equal infinities
    if (std::isnan(got[i]) || std::isnan(want[i])) {
      CHECK_MESSAGE(same_or_both_nan(got[i], want[i]), what, " element ", i, ": ", got[i], " vs ", want[i]);
      continue;
    }
    CHECK_MESSAGE(std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]), what, " element ", i, ": ", got[i],
                  " (shared math) vs ", want[i], " (CPU kernel)");
  }
}

// The shared math of a unary op, forward and derivative, in C, against the CPU kernels in the same dtype.
template <class C>
void check_unary_math(const UnaryCase& c, DType dtype, double rtol, double atol) {
  const int64_t n = 257;
  const std::vector<double> xs = uniform_values(n, c.lo, c.hi, 11), gs = uniform_values(n, -2, 2, 12);
  const Tensor x = Tensor::from_vector(xs, {n}, {.dtype = dtype});
  const Tensor g = Tensor::from_vector(gs, {n}, {.dtype = dtype});
  Tensor y = Tensor::empty({n}, {.dtype = dtype}), dx = Tensor::empty({n}, {.dtype = dtype});
  kernels::unary(Device::cpu(), c.op, x, y, c.params);
  kernels::unary_backward(Device::cpu(), c.op, x, g, dx, c.params);
  const std::vector<double> x_values = x.to_vector(), g_values = g.to_vector();
  std::vector<double> forward(n), backward(n);
  const C a = static_cast<C>(c.params.a), b = static_cast<C>(c.params.b);
  for (int64_t i = 0; i < n; ++i) {
    const C v = static_cast<C>(x_values[i]);
    forward[i] = cuda::unary_value<C>(c.op, v, a, b);
    backward[i] = static_cast<C>(g_values[i]) * cuda::unary_derivative<C>(c.op, v, a, b);
  }
  check_values(forward, y.to_vector(), rtol, atol, std::string(c.name) + " forward " + dtype_name(dtype));
  check_values(backward, dx.to_vector(), rtol, atol, std::string(c.name) + " derivative " + dtype_name(dtype));
}

// Binary operands with ties (for the comparisons and maximum/minimum), and NaNs in floating dtypes.
std::vector<double> binary_operand(int64_t n, uint64_t seed, bool integer, bool nonzero) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(-4, 4);
  std::vector<double> values(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double v = integer ? pick(rng) : pick(rng) * 0.5;
    if (nonzero && v == 0) v = integer ? 3 : 1.5;
    if (!integer && i % 17 == 5) v = std::numeric_limits<double>::quiet_NaN();
    values[static_cast<size_t>(i)] = v;
  }
  return values;
}

template <class C>
void check_binary_math(DType dtype) {
  const int64_t n = 300;
  const bool integer = dtype == DType::i64;
  for (BinaryOp op : binary_ops()) {
    // i64 pow: small non-negative exponents; i64 div: nonzero divisors.
    std::vector<double> as = binary_operand(n, 21, integer, false);
    std::vector<double> bs = binary_operand(n, 22, integer, op == BinaryOp::div && integer);
    if (op == BinaryOp::pow) {
      for (double& v : as) v = std::isnan(v) ? v : std::abs(v) + 0.25;
      for (double& v : bs) v = std::isnan(v) ? v : (integer ? std::abs(v) : v);
    }
    const Tensor a = Tensor::from_vector(as, {n}, {.dtype = dtype});
    const Tensor b = Tensor::from_vector(bs, {n}, {.dtype = dtype});
    Tensor out = Tensor::empty({n}, {.dtype = dtype});
    kernels::binary(Device::cpu(), op, a, b, out);
    const std::vector<double> av = a.to_vector(), bv = b.to_vector();
    std::vector<double> shared(n);
    for (int64_t i = 0; i < n; ++i)
      shared[i] = static_cast<double>(cuda::binary_value<C>(op, static_cast<C>(av[i]), static_cast<C>(bv[i])));
    check_values(shared, out.to_vector(), 0.0, 0.0, std::string("binary op ") + std::to_string(static_cast<int>(op)) +
                                                        " " + dtype_name(dtype));
  }
}

}  // namespace

// ---- host tests: the shared per-element math against the CPU kernels ----

TEST_CASE("the shared unary math and its derivatives match the CPU kernels in f64 and f32") {
  for (const UnaryCase& c : unary_cases()) {
    check_unary_math<double>(c, DType::f64, 1e-13, 1e-15);
    // f32: the CPU's exp is its own vectorized one (≤ 2 ulp), which s·(1 − s) can amplify near saturation.
    check_unary_math<float>(c, DType::f32, 1e-4, 1e-6);
  }
}

TEST_CASE("the shared binary math (NaN rules of maximum/minimum and comparisons and i64 pow) matches the CPU exactly") {
  check_binary_math<double>(DType::f64);
  check_binary_math<float>(DType::f32);
  check_binary_math<int64_t>(DType::i64);
}

TEST_CASE("the shared i64 unary maps are the CPU's neg and abs and only those are defined") {
  const Tensor x = Tensor::from_vector({-7, -1, 0, 1, 9}, {5}, {.dtype = DType::i64});
  for (UnaryOp op : {UnaryOp::neg, UnaryOp::abs}) {
    Tensor out = Tensor::empty({5}, {.dtype = DType::i64});
    kernels::unary(Device::cpu(), op, x, out, UnaryParams{});
    const auto xv = x.to_vector(), want = out.to_vector();
    for (size_t i = 0; i < xv.size(); ++i)
      CHECK(static_cast<double>(cuda::unary_integer_value(op, static_cast<int64_t>(xv[i]))) == want[i]);
    CHECK(cuda::unary_defined_for_integers(op));
  }
  CHECK_FALSE(cuda::unary_defined_for_integers(UnaryOp::exp));
}

TEST_CASE("pad_source_index is kernels::pad_source in every mode and reads nothing from an empty dimension") {
  for (PadMode mode : {PadMode::constant, PadMode::reflect, PadMode::replicate})
    for (int64_t extent = 1; extent <= 6; ++extent)
      for (int64_t before = mode == PadMode::constant ? -3 : 0; before <= (mode == PadMode::reflect ? extent - 1 : 4);
           ++before)
        for (int64_t p = 0; p < extent + 2 * 4; ++p)
          CHECK(cuda::pad_source_index(p, before, extent, mode) == kernels::pad_source(p, before, extent, mode));
  CHECK(cuda::pad_source_index(0, 0, 0, PadMode::replicate) == -1);
}

TEST_CASE("the shared Approx-BP codes and unpacking match the CPU's pack and unpack kernels") {
  const int64_t n = 103;  // not a multiple of four: the last byte is partial
  const std::array<double, 3> thresholds = {-1.0, 0.0, 1.0};
  std::vector<double> xs = uniform_values(n, -2, 2, 5);
  xs[3] = -1.0, xs[4] = 0.0, xs[5] = 1.0;  // on the thresholds: "greater than" is strict
  const Tensor x = Tensor::from_vector(xs, {n}, {.dtype = DType::f32});
  Tensor packed = Tensor::empty({(n + 3) / 4}, {.dtype = DType::u8});
  kernels::pack_activation_codes(Device::cpu(), x, thresholds, packed);
  Tensor codes = Tensor::empty({n}, {.dtype = DType::u8});
  kernels::unpack_activation_codes(Device::cpu(), packed, codes);
  const auto xv = x.to_vector(), want = codes.to_vector();
  const uint8_t* bytes = static_cast<const uint8_t*>(packed.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(xv[i]);
    CHECK(cuda::activation_code<float>(v, -1.0f, 0.0f, 1.0f) == want[i]);
    CHECK(cuda::unpack_code(bytes, i) == want[i]);
  }
}

// ---- GPU parity ----

TEST_CASE("CUDA binary ops match the CPU on contiguous and transposed and broadcast operands in every dtype") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64}) {
    const bool integer = dtype == DType::i64;
    for (BinaryOp op : binary_ops()) {
      const std::string what = std::string("binary ") + std::to_string(static_cast<int>(op)) + " " + dtype_name(dtype);
      // pow: positive bases (and i64 exponents 0 … 3); div: divisors away from zero, so no quotient
      // overflows f16 on one device only.
      const bool positive_base = op == BinaryOp::pow;
      const double b_lo = op == BinaryOp::div ? (integer ? 1 : 0.5) : (positive_base ? 0 : -4);
      const double b_hi = integer && op == BinaryOp::pow ? 3 : 4;
      Pair a = random_pair({7, 33}, dtype, positive_base ? 0.5 : -4, 4, 1);
      Pair b = random_pair({7, 33}, dtype, b_lo, b_hi, 2);
      // Contiguous.
      Pair out = empty_pair({7, 33}, dtype);
      kernels::binary(Device::cpu(), op, a.cpu, b.cpu, out.cpu);
      kernels::binary(Device::cuda(), op, a.cuda, b.cuda, out.cuda);
      expect_pair_close(out, dtype, what + " contiguous");
      // a transposed (a view), b a broadcast row (stride 0), out transposed too.
      Pair at = view(a, [](const Tensor& t) { return t.transpose(0, 1); });
      Pair row = random_pair({1, 7}, dtype, b_lo, b_hi, 3);
      Pair bb = view(row, [](const Tensor& t) { return t.expand({33, 7}); });
      Pair wide = empty_pair({7, 33}, dtype);
      Pair ot = view(wide, [](const Tensor& t) { return t.transpose(0, 1); });
      kernels::binary(Device::cpu(), op, at.cpu, bb.cpu, ot.cpu);
      kernels::binary(Device::cuda(), op, at.cuda, bb.cuda, ot.cuda);
      expect_pair_close(wide, dtype, what + " strided and broadcast");
    }
  }
}

TEST_CASE("CUDA unary ops and their backward match the CPU on contiguous and transposed inputs") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : floating_dtypes()) {
    for (const UnaryCase& c : unary_cases()) {
      const std::string what = std::string(c.name) + " " + dtype_name(dtype);
      Pair x = random_pair({9, 65}, dtype, c.lo, c.hi, 4);
      Pair g = random_pair({9, 65}, dtype, -2, 2, 5);
      Pair y = empty_pair({9, 65}, dtype), dx = empty_pair({9, 65}, dtype);
      for (Device device : {Device::cpu(), Device::cuda()}) {
        const bool gpu = device.is_cuda();
        kernels::unary(device, c.op, gpu ? x.cuda : x.cpu, gpu ? y.cuda : y.cpu, c.params);
        kernels::unary_backward(device, c.op, gpu ? x.cuda : x.cpu, gpu ? g.cuda : g.cpu, gpu ? dx.cuda : dx.cpu,
                                c.params);
      }
      expect_pair_close(y, dtype, what + " forward");
      expect_pair_close(dx, dtype, what + " backward");
      // Transposed input and gradient, contiguous outputs.
      Pair xt = view(x, [](const Tensor& t) { return t.transpose(0, 1); });
      Pair gt = view(g, [](const Tensor& t) { return t.transpose(0, 1); });
      Pair yt = empty_pair({65, 9}, dtype), dxt = empty_pair({65, 9}, dtype);
      for (Device device : {Device::cpu(), Device::cuda()}) {
        const bool gpu = device.is_cuda();
        kernels::unary(device, c.op, gpu ? xt.cuda : xt.cpu, gpu ? yt.cuda : yt.cpu, c.params);
        kernels::unary_backward(device, c.op, gpu ? xt.cuda : xt.cpu, gpu ? gt.cuda : gt.cpu,
                                gpu ? dxt.cuda : dxt.cpu, c.params);
      }
      expect_pair_close(yt, dtype, what + " forward, transposed");
      expect_pair_close(dxt, dtype, what + " backward, transposed");
    }
  }
  // i64: neg and abs exist, the rest are refused with the op's name.
  Pair xi = random_pair({5, 6}, DType::i64, -9, 9, 6);
  for (UnaryOp op : {UnaryOp::neg, UnaryOp::abs}) {
    Pair out = empty_pair({5, 6}, DType::i64);
    kernels::unary(Device::cpu(), op, xi.cpu, out.cpu, UnaryParams{});
    kernels::unary(Device::cuda(), op, xi.cuda, out.cuda, UnaryParams{});
    expect_pair_close(out, DType::i64, "i64 unary");
  }
  Tensor out = Tensor::empty({5, 6}, {.dtype = DType::i64, .device = Device::cuda()});
  CHECK_THROWS_WITH(kernels::unary(Device::cuda(), UnaryOp::exp, xi.cuda, out, UnaryParams{}),
                    doctest::Contains("exp is not defined for i64"));
}

TEST_CASE("CUDA where matches the CPU with broadcast condition and operands") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64}) {
    std::vector<double> flags(19);
    for (size_t k = 0; k < flags.size(); ++k) flags[k] = k % 3 == 0 ? 0.0 : (k % 3 == 1 ? 1.0 : -2.5);  // zero: b
    Pair condition_row = pair_from_values(flags, {1, 19}, dtype);
    Pair condition = view(condition_row, [](const Tensor& t) { return t.expand({6, 19}); });
    Pair a = random_pair({6, 19}, dtype, -3, 3, 8);
    Pair b_column = random_pair({6, 1}, dtype, -3, 3, 9);
    Pair b = view(b_column, [](const Tensor& t) { return t.expand({6, 19}); });
    Pair out = empty_pair({6, 19}, dtype);
    kernels::where(Device::cpu(), condition.cpu, a.cpu, b.cpu, out.cpu);
    kernels::where(Device::cuda(), condition.cuda, a.cuda, b.cuda, out.cuda);
    expect_pair_close(out, dtype, std::string("where ") + dtype_name(dtype));
  }
}

TEST_CASE("CUDA pad matches the CPU in every mode (constant with crops) and pad_fold matches its backward") {
  VIREO_REQUIRE_GPU();
  const Shape in_shape = {3, 4, 5};
  struct Case {
    PadMode mode;
    std::vector<int64_t> before, after;
  };
  const std::vector<Case> cases = {
      {PadMode::constant, {1, 0, 2}, {0, 2, 1}},
      {PadMode::constant, {-1, 1, -2}, {1, -1, 3}},  // negative: crops
      {PadMode::reflect, {0, 2, 3}, {1, 3, 4}},
      {PadMode::replicate, {2, 1, 4}, {0, 5, 2}},
  };
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64}) {
    for (const Case& c : cases) {
      Shape out_shape = in_shape;
      for (size_t d = 0; d < in_shape.size(); ++d) out_shape[d] += c.before[d] + c.after[d];
      Pair x = random_pair(in_shape, dtype, -5, 5, 10);
      Pair out = empty_pair(out_shape, dtype);
      kernels::pad(Device::cpu(), x.cpu, out.cpu, c.before, c.mode, 0.5);
      kernels::pad(Device::cuda(), x.cuda, out.cuda, c.before, c.mode, 0.5);
      expect_pair_close(out, dtype, std::string("pad mode ") + std::to_string(static_cast<int>(c.mode)) + " " +
                                        dtype_name(dtype));
    }
  }
  // The backward along the middle dimension of [outer, extent, inner] (and along the last: inner = 1).
  for (DType dtype : floating_dtypes()) {
    for (PadMode mode : {PadMode::reflect, PadMode::replicate}) {
      for (int64_t inner : {int64_t{1}, int64_t{6}}) {
        const int64_t outer = 3, extent = 5, before = 3, after = 4;
        Pair grad_out = random_pair({outer, extent + before + after, inner}, dtype, -2, 2, 11);
        Pair grad_in = empty_pair({outer, extent, inner}, dtype);
        kernels::pad_fold(Device::cpu(), grad_out.cpu, grad_in.cpu, outer, inner, before, mode);
        kernels::pad_fold(Device::cuda(), grad_out.cuda, grad_in.cuda, outer, inner, before, mode);
        expect_pair_close(grad_in, dtype, std::string("pad_fold ") + dtype_name(dtype) + " inner " + std::to_string(inner));
      }
    }
  }
}

TEST_CASE("CUDA Approx-BP codes (pack and unpack) and backward match the CPU") {
  VIREO_REQUIRE_GPU();
  const std::array<double, 3> thresholds = {-1.0, 0.0, 1.0};
  const std::array<double, 4> slopes = {0.0, 0.1, 0.9, 1.0};
  for (DType dtype : floating_dtypes()) {
    for (int64_t n : {int64_t{1}, int64_t{103}, int64_t{4096 + 3}}) {
      Pair x = random_pair({n}, dtype, -2, 2, 12);
      Pair packed = {Tensor::empty({(n + 3) / 4}, {.dtype = DType::u8}),
                     Tensor::empty({(n + 3) / 4}, {.dtype = DType::u8, .device = Device::cuda()})};
      kernels::pack_activation_codes(Device::cpu(), x.cpu, thresholds, packed.cpu);
      kernels::pack_activation_codes(Device::cuda(), x.cuda, thresholds, packed.cuda);
      expect_close(packed.cuda, packed.cpu, std::string("packed codes ") + dtype_name(dtype));
      Pair codes = {Tensor::empty({n}, {.dtype = DType::u8}), Tensor::empty({n}, {.dtype = DType::u8, .device = Device::cuda()})};
      kernels::unpack_activation_codes(Device::cpu(), packed.cpu, codes.cpu);
      kernels::unpack_activation_codes(Device::cuda(), packed.cuda, codes.cuda);
      expect_close(codes.cuda, codes.cpu, "unpacked codes");
      Pair dy = random_pair({n}, dtype, -2, 2, 13);
      Pair dx = empty_pair({n}, dtype);
      kernels::approx_activation_backward(Device::cpu(), packed.cpu, dy.cpu, slopes, dx.cpu);
      kernels::approx_activation_backward(Device::cuda(), packed.cuda, dy.cuda, slopes, dx.cuda);
      expect_pair_close(dx, dtype, std::string("approx backward ") + dtype_name(dtype));
    }
  }
}
