// Matrix products: matmul in every torch.matmul configuration, bmm and linear, against a plain loop
// reference written here; gradient checks (also on transposed and broadcast operands); argument errors.
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {

// torch.matmul by its definition, in doubles: a 1-D left operand is a row [1, K], a 1-D right operand
// a column [K, 1]; batch dimensions broadcast (NumPy rules); the added dimensions are dropped at the end.
struct Reference {
  std::vector<double> values;
  Shape shape;
};

Reference reference_matmul(const Tensor& a, const Tensor& b) {
  Shape sa = a.shape(), sb = b.shape();
  if (sa.size() == 1) sa.insert(sa.begin(), 1);
  if (sb.size() == 1) sb.push_back(1);
  const std::vector<double> av = a.to_vector(), bv = b.to_vector();
  const int64_t m = sa[sa.size() - 2], k = sa.back(), n = sb.back();
  const Shape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  const size_t nd = std::max(batch_a.size(), batch_b.size());
  Shape batch(nd);
  auto extent = [nd](const Shape& s, size_t i) { return i + s.size() < nd ? int64_t{1} : s[i + s.size() - nd]; };
  for (size_t i = 0; i < nd; ++i) batch[i] = std::max(extent(batch_a, i), extent(batch_b, i));
  int64_t batch_count = 1;
  for (int64_t e : batch) batch_count *= e;
  Reference ref;
  for (int64_t flat = 0; flat < batch_count; ++flat) {
    // The batch multi-index, then each operand's own (broadcast) batch offset.
    int64_t rest = flat, offset_a = 0, offset_b = 0, stride_a = m * k, stride_b = k * n;
    for (int64_t i = static_cast<int64_t>(nd) - 1; i >= 0; --i) {
      const int64_t index = rest % batch[i];
      rest /= batch[i];
      const int64_t ea = extent(batch_a, i), eb = extent(batch_b, i);
      offset_a += (ea == 1 ? 0 : index) * stride_a;
      offset_b += (eb == 1 ? 0 : index) * stride_b;
      stride_a *= ea;
      stride_b *= eb;
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < k; ++p) sum += av[offset_a + i * k + p] * bv[offset_b + p * n + j];
        ref.values.push_back(sum);
      }
  }
  ref.shape = batch;
  if (a.dim() > 1) ref.shape.push_back(m);
  if (b.dim() > 1) ref.shape.push_back(n);
  return ref;
}

void check_matmul(const Tensor& a, const Tensor& b, double tolerance) {
  INFO("a ", describe(a), " b ", describe(b));
  const Reference ref = reference_matmul(a, b);
  const Tensor out = matmul(a, b);
  CHECK(out.shape() == ref.shape);
  check_close(out, ref.values, tolerance);
}

// y[r, o] = Σ_i x[r, i]·W[o, i] + bias[o], over the rows r of x flattened.
std::vector<double> reference_linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  const std::vector<double> xv = x.to_vector(), wv = w.to_vector();
  const std::vector<double> bv = bias.defined() ? bias.to_vector() : std::vector<double>();
  const int64_t in = w.shape()[1], out = w.shape()[0], rows = x.numel() / in;
  std::vector<double> y;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double sum = bias.defined() ? bv[o] : 0.0;
      for (int64_t i = 0; i < in; ++i) sum += xv[r * in + i] * wv[o * in + i];
      y.push_back(sum);
    }
  return y;
}

Tensor random_f32(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, {}, &g);
}

}  // namespace

TEST_CASE("matmul forward: vectors and matrices") {
  const Tensor v = random_input({5}, 1).detach(), w = random_input({5}, 2).detach();
  check_matmul(v, w, 1e-12);  // dot product
  CHECK(matmul(v, w).dim() == 0);
  check_matmul(random_input({3, 5}, 3).detach(), w, 1e-12);     // matrix · vector
  check_matmul(v, random_input({5, 4}, 4).detach(), 1e-12);     // vector · matrix
  check_matmul(random_input({3, 5}, 5).detach(), random_input({5, 4}, 6).detach(), 1e-12);
  // Hand-computed: [[1, 2], [3, 4]]·[[5, 6], [7, 8]] = [[19, 22], [43, 50]].
  check_close(matmul(Tensor::from_vector({1, 2, 3, 4}, {2, 2}), Tensor::from_vector({5, 6, 7, 8}, {2, 2})),
              {19, 22, 43, 50});
}

TEST_CASE("matmul forward: batched with broadcasting") {
  // [2, 1, 3, 4] @ [5, 4, 6] -> [2, 5, 3, 6]
  check_matmul(random_input({2, 1, 3, 4}, 7).detach(), random_input({5, 4, 6}, 8).detach(), 1e-12);
  CHECK(matmul(zeros({2, 1, 3, 4}), zeros({5, 4, 6})).shape() == Shape{2, 5, 3, 6});
  check_matmul(random_input({2, 3, 4}, 9).detach(), random_input({4, 6}, 10).detach(), 1e-12);    // one GEMM
  check_matmul(random_input({3, 4}, 11).detach(), random_input({2, 4, 6}, 12).detach(), 1e-12);   // left broadcast
  check_matmul(random_input({4}, 13).detach(), random_input({2, 4, 6}, 14).detach(), 1e-12);      // vector · batch
  check_matmul(random_input({2, 3, 4}, 15).detach(), random_input({4}, 16).detach(), 1e-12);      // batch · vector
  check_matmul(random_input({2, 1, 3, 4}, 17).detach(), random_input({1, 3, 4, 2}, 18).detach(), 1e-12);
}

TEST_CASE("matmul forward: transposed and strided operands") {
  // Transposed views go to the GEMM as transpose flags; a view with a step copies.
  const Tensor a = random_input({5, 3}, 19).detach().t(), b = random_input({6, 5}, 20).detach().t();
  check_matmul(a, b, 1e-12);
  check_matmul(random_input({2, 5, 3}, 21).detach().transpose(-1, -2), random_input({2, 5, 4}, 22).detach(), 1e-12);
  check_matmul(random_input({3, 10}, 23).detach().slice(1, 0, 10, 2), random_input({5, 4}, 24).detach(), 1e-12);
  // A transposed batch whose rows cannot merge into one matrix: batched GEMMs with trans_a.
  check_matmul(random_input({2, 4, 3}, 25).detach().transpose(-1, -2), random_input({4, 7}, 26).detach(), 1e-12);
  check_matmul(random_input({5, 3}, 27).detach().t(), random_input({5}, 28).detach(), 1e-12);
}

TEST_CASE("matmul forward: f32 through the packed kernel") {
  // Large enough for several micro-tiles with partial edges, on every layout.
  const Tensor a = random_f32({2, 70, 90}, 29), b = random_f32({90, 41}, 30);
  check_matmul(a, b, 1e-4);
  check_matmul(a.transpose(-1, -2).contiguous().transpose(-1, -2), b.t().contiguous().t(), 1e-4);
  check_matmul(random_f32({3, 33, 65}, 31), random_f32({3, 65, 17}, 32), 1e-4);
  check_matmul(random_f32({65}, 33), random_f32({65, 300}, 34), 1e-4);
}

TEST_CASE("matmul and linear with empty dimensions") {
  // K = 0: an empty sum, so zeros; M = 0 or an empty batch: empty results of the right shape.
  check_close(matmul(ones({3, 0}), ones({0, 4})), std::vector<double>(12, 0.0));
  CHECK(matmul(ones({0, 3}), ones({3, 4})).shape() == Shape{0, 4});
  CHECK(matmul(ones({2, 0, 3, 4}), ones({4, 5})).shape() == Shape{2, 0, 3, 5});
  CHECK(bmm(ones({0, 3, 4}), ones({0, 4, 5})).shape() == Shape{0, 3, 5});
  check_close(linear(ones({2, 0}), ones({3, 0}), tensor({1, 2, 3})), {1, 2, 3, 1, 2, 3});
}

TEST_CASE("bmm forward") {
  const Tensor a = random_input({3, 4, 5}, 35).detach(), b = random_input({3, 5, 2}, 36).detach();
  const Reference ref = reference_matmul(a, b);
  CHECK(bmm(a, b).shape() == Shape{3, 4, 2});
  check_close(bmm(a, b), ref.values, 1e-12);
  check_close(bmm(a.transpose(1, 2).contiguous().transpose(1, 2), b), ref.values, 1e-12);
}

TEST_CASE("linear forward: bias no bias 1-D and 3-D inputs transposed operands") {
  const Tensor w = random_input({5, 4}, 37).detach(), bias = random_input({5}, 38).detach();
  const Tensor x3 = random_input({2, 3, 4}, 39).detach();
  CHECK(linear(x3, w, bias).shape() == Shape{2, 3, 5});
  check_close(linear(x3, w, bias), reference_linear(x3, w, bias), 1e-12);
  check_close(linear(x3, w), reference_linear(x3, w, Tensor()), 1e-12);
  const Tensor x1 = random_input({4}, 40).detach();
  CHECK(linear(x1, w, bias).shape() == Shape{5});
  check_close(linear(x1, w, bias), reference_linear(x1, w, bias), 1e-12);
  // A transposed 2-D input and a transposed weight view are read in place.
  const Tensor xt = random_input({4, 6}, 41).detach().t();
  check_close(linear(xt, w, bias), reference_linear(xt.contiguous(), w, bias), 1e-12);
  const Tensor wt = random_input({4, 5}, 42).detach().t();
  check_close(linear(x3, wt, bias), reference_linear(x3, wt.contiguous(), bias), 1e-12);
  // f32 with enough rows and features for the packed kernel and its fused bias epilogue.
  const Tensor xf = random_f32({3, 50, 70}, 43), wf = random_f32({45, 70}, 44), bf = random_f32({45}, 45);
  check_close(linear(xf, wf, bf), reference_linear(xf, wf, bf), 1e-4);
}

TEST_CASE("gradcheck: matmul 2d") {
  CHECK_GRADCHECK([](const Inputs& in) { return matmul(in[0], in[1]); },
                  Inputs({random_input({3, 4}, 50), random_input({4, 5}, 51)}));
}

TEST_CASE("gradcheck: matmul 1d") {
  auto f = [](const Inputs& in) { return matmul(in[0], in[1]); };
  CHECK_GRADCHECK(f, Inputs({random_input({4}, 52), random_input({4}, 53)}));
  CHECK_GRADCHECK(f, Inputs({random_input({3, 4}, 54), random_input({4}, 55)}));
  CHECK_GRADCHECK(f, Inputs({random_input({4}, 56), random_input({4, 5}, 57)}));
  CHECK_GRADCHECK(f, Inputs({random_input({4}, 58), random_input({2, 4, 3}, 59)}));
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 4}, 60), random_input({4}, 61)}));
}

TEST_CASE("gradcheck: matmul batched broadcast") {
  auto f = [](const Inputs& in) { return matmul(in[0], in[1]); };
  CHECK_GRADCHECK(f, Inputs({random_input({2, 1, 3, 4}, 62), random_input({3, 4, 2}, 63)}));
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 4}, 64), random_input({4, 5}, 65)}));     // one GEMM
  CHECK_GRADCHECK(f, Inputs({random_input({3, 4}, 66), random_input({2, 4, 5}, 67)}));     // left broadcast
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 4}, 68), random_input({2, 4, 5}, 69)}));
}

TEST_CASE("gradcheck: matmul transposed inputs") {
  auto f = [](const Inputs& in) { return matmul(in[0], in[1]); };
  CHECK_GRADCHECK(f, Inputs({transposed_input({3, 4}, 70), transposed_input({4, 5}, 71)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({2, 3, 4}, 72), random_input({4, 5}, 73)}));
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 4}, 74), transposed_input({2, 4, 5}, 75)}));
}

TEST_CASE("gradcheck: bmm") {
  auto f = [](const Inputs& in) { return bmm(in[0], in[1]); };
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 4}, 76), random_input({2, 4, 5}, 77)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({2, 3, 4}, 78), transposed_input({2, 4, 5}, 79)}));
}

TEST_CASE("gradcheck: linear with bias") {
  auto f = [](const Inputs& in) { return linear(in[0], in[1], in[2]); };
  CHECK_GRADCHECK(f, Inputs({random_input({4, 3}, 80), random_input({5, 3}, 81), random_input({5}, 82)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({4, 3}, 83), transposed_input({5, 3}, 84), random_input({5}, 85)}));
  CHECK_GRADCHECK(f, Inputs({random_input({3}, 86), random_input({5, 3}, 87), random_input({5}, 88)}));
}

TEST_CASE("gradcheck: linear without bias") {
  auto f = [](const Inputs& in) { return linear(in[0], in[1]); };
  CHECK_GRADCHECK(f, Inputs({random_input({4, 3}, 89), random_input({5, 3}, 90)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({4, 3}, 91), random_input({5, 3}, 92)}));
}

TEST_CASE("gradcheck: linear 3d input") {
  auto f = [](const Inputs& in) { return linear(in[0], in[1], in[2]); };
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 4}, 93), random_input({5, 4}, 94), random_input({5}, 95)}));
  // A non-contiguous 3-D input: its rows are gathered by a copy, and the gradient still reaches it.
  CHECK_GRADCHECK(f, Inputs({transposed_input({2, 3, 4}, 96), random_input({5, 4}, 97), random_input({5}, 98)}));
}

TEST_CASE("linear gradients only for the inputs that require them") {
  Tensor x = random_input({3, 4}, 99), w = random_input({2, 4}, 100).detach(), b = random_input({2}, 101);
  sum(linear(x, w, b)).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  // d/db Σ y = number of rows, for every output feature.
  check_close(b.grad(), {3, 3});
}

TEST_CASE("matmul bmm and linear argument errors name the op and the shapes") {
  check_error([] { matmul(zeros({2, 3}), zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]", "inner"});
  check_error([] { matmul(zeros({3}), zeros({4})); }, {"matmul", "[3]", "[4]"});
  check_error([] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); }, {"matmul", "[2, 3, 4]", "[3, 4, 5]", "batch"});
  check_error([] { matmul(zeros({}), zeros({3})); }, {"matmul", "[]", "[3]"});
  check_error([] { matmul(zeros({2, 3}), zeros({3, 2}, {.dtype = DType::f64})); }, {"matmul", "f32", "f64"});
  check_error([] { matmul(zeros({2, 3}, {.dtype = DType::i64}), zeros({3, 2}, {.dtype = DType::i64})); },
              {"matmul", "i64"});
  check_error([] { bmm(zeros({3, 4}), zeros({4, 5})); }, {"bmm", "3-D", "[3, 4]", "[4, 5]"});
  check_error([] { bmm(zeros({2, 3, 4}), zeros({3, 4, 5})); }, {"bmm", "[2, 3, 4]", "[3, 4, 5]", "batch"});
  check_error([] { bmm(zeros({2, 3, 4}), zeros({2, 5, 6})); }, {"bmm", "[2, 3, 4]", "[2, 5, 6]", "inner"});
  check_error([] { linear(zeros({2, 3}), zeros({4, 5})); }, {"linear", "[2, 3]", "[4, 5]"});
  check_error([] { linear(zeros({2, 3}), zeros({3})); }, {"linear", "weight", "[3]"});
  check_error([] { linear(zeros({2, 3}), zeros({4, 3}), zeros({3})); }, {"linear", "bias", "[3]", "[4, 3]"});
  check_error([] { linear(zeros({2, 3}), zeros({4, 3}), zeros({4}, {.dtype = DType::f64})); },
              {"linear", "f32", "f64"});
  check_error([] { linear(zeros({2, 3}, {.dtype = DType::f64}), zeros({4, 3})); }, {"linear", "f32", "f64"});
}
