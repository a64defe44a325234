// Scaled dot-product attention: the fused kernels against an explicit softmax(Q·Kᵀ·scale + mask)·V and
// its textbook backward written here with loops, in f64 and f32, across several query and key blocks;
// fully masked rows; argument errors; f64 gradient checks for every configuration.
#include <cmath>
#include <functional>
#include <limits>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// An attention problem flattened to [B, L, E] / [B, S, E] / [B, S, Ev] row-major vectors.
struct Problem {
  int64_t batch = 0, length = 0, keys = 0, embed = 0, value_embed = 0;
  std::vector<double> q, k, v;
  std::function<double(int64_t b, int64_t i, int64_t j)> mask;  // additive; empty: none
  bool causal = false;
  double scale = 1.0;
};

// P[b, i, j] = softmax_j(scale·q_i·k_j + mask − ∞·[causal and j > i]); a row with no allowed key is all 0.
std::vector<double> reference_probabilities(const Problem& p) {
  std::vector<double> probs(p.batch * p.length * p.keys);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < p.length; ++i) {
      double* row = probs.data() + (b * p.length + i) * p.keys;
      double largest = -kInf;
      for (int64_t j = 0; j < p.keys; ++j) {
        double s = 0;
        for (int64_t e = 0; e < p.embed; ++e) s += p.q[(b * p.length + i) * p.embed + e] * p.k[(b * p.keys + j) * p.embed + e];
        s *= p.scale;
        if (p.mask) s += p.mask(b, i, j);
        if (p.causal && j > i) s = -kInf;
        row[j] = s;
        largest = std::max(largest, s);
      }
      double total = 0;
      for (int64_t j = 0; j < p.keys; ++j) {
        row[j] = largest == -kInf ? 0.0 : std::exp(row[j] - largest);
        total += row[j];
      }
      for (int64_t j = 0; j < p.keys; ++j) row[j] = total > 0 ? row[j] / total : 0.0;
    }
  return probs;
}

std::vector<double> reference_output(const Problem& p) {
  const std::vector<double> probs = reference_probabilities(p);
  std::vector<double> out(p.batch * p.length * p.value_embed, 0.0);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < p.length; ++i)
      for (int64_t j = 0; j < p.keys; ++j)
        for (int64_t e = 0; e < p.value_embed; ++e)
          out[(b * p.length + i) * p.value_embed + e] +=
              probs[(b * p.length + i) * p.keys + j] * p.v[(b * p.keys + j) * p.value_embed + e];
  return out;
}

struct Gradients {
  std::vector<double> q, k, v;
};

// The textbook backward through the full probability matrix: dV = Pᵀ·dO, dP = dO·Vᵀ,
// dS_ij = P_ij·(dP_ij − Σ_k P_ik·dP_ik), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
Gradients reference_gradients(const Problem& p, const std::vector<double>& dout) {
  const std::vector<double> probs = reference_probabilities(p);
  Gradients g{std::vector<double>(p.q.size(), 0.0), std::vector<double>(p.k.size(), 0.0),
              std::vector<double>(p.v.size(), 0.0)};
  std::vector<double> dp(p.keys), ds(p.keys);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < p.length; ++i) {
      const double* pr = probs.data() + (b * p.length + i) * p.keys;
      const double* dor = dout.data() + (b * p.length + i) * p.value_embed;
      double weighted = 0;
      for (int64_t j = 0; j < p.keys; ++j) {
        dp[j] = 0;
        for (int64_t e = 0; e < p.value_embed; ++e) {
          dp[j] += dor[e] * p.v[(b * p.keys + j) * p.value_embed + e];
          g.v[(b * p.keys + j) * p.value_embed + e] += pr[j] * dor[e];
        }
        weighted += pr[j] * dp[j];
      }
      for (int64_t j = 0; j < p.keys; ++j) {
        ds[j] = pr[j] * (dp[j] - weighted);
        for (int64_t e = 0; e < p.embed; ++e) {
          g.q[(b * p.length + i) * p.embed + e] += p.scale * ds[j] * p.k[(b * p.keys + j) * p.embed + e];
          g.k[(b * p.keys + j) * p.embed + e] += p.scale * ds[j] * p.q[(b * p.length + i) * p.embed + e];
        }
      }
    }
  return g;
}

// Random q, k, v (and their Problem) with leading shape `batch_shape`.
struct Case {
  Tensor q, k, v;
  Problem problem;
};

Case make_case(const Shape& batch_shape, int64_t length, int64_t keys, int64_t embed, int64_t value_embed, DType dtype,
               uint64_t seed) {
  auto shape = [&](int64_t rows, int64_t cols) {
    Shape s = batch_shape;
    s.push_back(rows);
    s.push_back(cols);
    return s;
  };
  Generator generator(seed);
  Case c;
  c.q = randn(shape(length, embed), {.dtype = dtype}, &generator);
  c.k = randn(shape(keys, embed), {.dtype = dtype}, &generator);
  c.v = randn(shape(keys, value_embed), {.dtype = dtype}, &generator);
  c.problem.batch = numel(batch_shape);
  c.problem.length = length;
  c.problem.keys = keys;
  c.problem.embed = embed;
  c.problem.value_embed = value_embed;
  c.problem.q = c.q.to_vector();
  c.problem.k = c.k.to_vector();
  c.problem.v = c.v.to_vector();
  c.problem.scale = 1.0 / std::sqrt(static_cast<double>(embed));
  return c;
}

// Runs the op forward and backward (with a random dO) and compares everything with the references.
void check_against_reference(Case c, const Tensor& mask, std::optional<double> scale, double tolerance) {
  for (Tensor* t : {&c.q, &c.k, &c.v}) {
    *t = t->detach().clone();  // fresh leaves: a Case may be checked more than once
    t->requires_grad_();
  }
  if (scale) c.problem.scale = *scale;
  Tensor out = scaled_dot_product_attention(c.q, c.k, c.v, mask, c.problem.causal, scale);
  Generator generator(99);
  Tensor dout = randn(out.shape(), {.dtype = out.dtype()}, &generator);
  out.backward(dout);
  {
    INFO("output");
    check_close(out, reference_output(c.problem), tolerance);
  }
  const Gradients expected = reference_gradients(c.problem, dout.to_vector());
  {
    INFO("dq");
    check_close(c.q.grad(), expected.q, tolerance);
  }
  {
    INFO("dk");
    check_close(c.k.grad(), expected.k, tolerance);
  }
  {
    INFO("dv");
    check_close(c.v.grad(), expected.v, tolerance);
  }
}

}  // namespace

TEST_CASE("scaled_dot_product_attention matches the explicit softmax(Q·Kᵀ·scale)·V") {
  check_against_reference(make_case({2, 3}, 4, 6, 5, 3, DType::f64, 1), {}, std::nullopt, 1e-10);
}

TEST_CASE("scaled_dot_product_attention with a broadcast additive mask causal custom scale") {
  Case c = make_case({2, 2}, 5, 5, 4, 4, DType::f64, 2);
  // A [L, S] mask broadcast over both batch dimensions, with forbidden (−∞) entries.
  std::vector<double> mask_values(25);
  for (int64_t i = 0; i < 25; ++i) mask_values[i] = i % 7 == 3 ? -kInf : 0.1 * static_cast<double>(i % 5) - 0.2;
  Tensor mask = Tensor::from_vector(mask_values, {5, 5}, {.dtype = DType::f64});
  c.problem.mask = [mask_values](int64_t, int64_t i, int64_t j) { return mask_values[i * 5 + j]; };
  check_against_reference(c, mask, std::nullopt, 1e-10);
  c.problem.causal = true;
  check_against_reference(c, mask, 0.7, 1e-10);
  // A mask that differs per batch element but is broadcast along the query rows: [2, 1, 1, S].
  Case d = make_case({2, 2}, 3, 5, 4, 2, DType::f64, 3);
  Tensor per_batch = Tensor::from_vector({0, -1, -kInf, 2, 0, 1, 0, 0, -0.5, -kInf}, {2, 1, 1, 5}, {.dtype = DType::f64});
  const std::vector<double> per_batch_values = per_batch.to_vector();
  d.problem.mask = [per_batch_values](int64_t b, int64_t, int64_t j) { return per_batch_values[(b / 2) * 5 + j]; };
  check_against_reference(d, per_batch, std::nullopt, 1e-10);
}

TEST_CASE("scaled_dot_product_attention across several query and key blocks (f64)") {
  // L = 260 spans three query blocks, S = 520 three key blocks (the last one partial); with causal
  // attention and L < S the later keys of each block are skipped.
  Case c = make_case({2}, 260, 520, 8, 4, DType::f64, 4);
  Generator generator(5);
  Tensor mask = mul(rand({260, 520}, {.dtype = DType::f64}, &generator), 2.0);
  const std::vector<double> mask_values = mask.to_vector();
  c.problem.mask = [mask_values](int64_t, int64_t i, int64_t j) { return mask_values[i * 520 + j]; };
  check_against_reference(c, mask, std::nullopt, 1e-9);
  c.problem.causal = true;
  check_against_reference(c, mask, std::nullopt, 1e-9);
}

TEST_CASE("fused f32 attention matches the reference at B·H = 6 L = S = 65 E = 32") {
  check_against_reference(make_case({2, 3}, 65, 65, 32, 32, DType::f32, 6), {}, std::nullopt, 1e-4);
  Case causal = make_case({2, 3}, 65, 65, 32, 32, DType::f32, 7);
  causal.problem.causal = true;
  check_against_reference(causal, {}, std::nullopt, 1e-4);
}

TEST_CASE("scaled_dot_product_attention on strided q k v views") {
  // q, k, v sliced out of one [B, L, 3, H, E] tensor and permuted to [B, H, L, E], as a ViT block does:
  // the kernels read them in place (no copy) through their batch strides.
  Generator generator(8);
  Tensor qkv = randn({2, 7, 3, 2, 4}, {.dtype = DType::f64}, &generator);
  Tensor q = qkv.select(2, 0).permute({0, 2, 1, 3}), k = qkv.select(2, 1).permute({0, 2, 1, 3}),
         v = qkv.select(2, 2).permute({0, 2, 1, 3});
  CHECK(!q.is_contiguous());
  Tensor strided = scaled_dot_product_attention(q, k, v);
  Tensor packed = scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous());
  check_close(strided, packed.to_vector(), 1e-12);
}

TEST_CASE("scaled_dot_product_attention gives 0 and zero gradients for a fully masked row") {
  Tensor q = random_input({1, 3, 2}, 9), k = random_input({1, 4, 2}, 10), v = random_input({1, 4, 3}, 11);
  std::vector<double> mask_values(12, 0.0);
  for (int64_t j = 0; j < 4; ++j) mask_values[1 * 4 + j] = -kInf;  // query row 1 may see nothing
  Tensor mask = Tensor::from_vector(mask_values, {3, 4}, {.dtype = DType::f64});
  Tensor out = scaled_dot_product_attention(q, k, v, mask);
  const std::vector<double> values = out.to_vector();
  for (int64_t e = 0; e < 3; ++e) CHECK(values[3 + e] == 0.0);
  for (double value : values) CHECK(std::isfinite(value));
  sum(out).backward();
  const std::vector<double> dq = q.grad().to_vector();
  CHECK(dq[2] == 0.0);
  CHECK(dq[3] == 0.0);
  for (const Tensor* t : {&q, &k, &v})
    for (double g : t->grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("scaled_dot_product_attention argument errors name the op and the shapes") {
  const char* op = "scaled_dot_product_attention";
  check_error([] { scaled_dot_product_attention(zeros({2, 3, 4}), zeros({2, 5, 6}), zeros({2, 5, 4})); },
              {op, "[2, 3, 4]", "[2, 5, 6]", "E"});
  check_error([] { scaled_dot_product_attention(zeros({2, 3, 4}), zeros({2, 5, 4}), zeros({2, 6, 4})); },
              {op, "[2, 5, 4]", "[2, 6, 4]", "S"});
  check_error([] { scaled_dot_product_attention(zeros({2, 3, 4}), zeros({2, 5, 4}), zeros({2, 5, 4}), zeros({3, 4})); },
              {op, "mask [3, 4]", "[2, 3, 5]"});
  check_error([] { scaled_dot_product_attention(zeros({2, 3, 4}), zeros({3, 5, 4}), zeros({3, 5, 4})); },
              {op, "batch", "[2, 3, 4]", "[3, 5, 4]"});
  check_error([] { scaled_dot_product_attention(zeros({2, 3, 4}), zeros({2, 5, 4}, {.dtype = DType::f64}), zeros({2, 5, 4})); },
              {op, "f64", "f32"});
}

TEST_CASE("gradcheck: scaled_dot_product_attention") {
  CHECK_GRADCHECK([](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); },
                  Inputs({random_input({2, 3, 4}, 20), random_input({2, 5, 4}, 21), random_input({2, 5, 4}, 22)}));
}

TEST_CASE("gradcheck: scaled_dot_product_attention with mask") {
  Tensor mask = Tensor::from_vector({0, -kInf, 0.5, -1, 0, 0.25, 0, -kInf, 1, 0, -0.5, 0, 0, 0.75, 0}, {3, 5},
                                    {.dtype = DType::f64});
  CHECK_GRADCHECK([&](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2], mask); },
                  Inputs({random_input({2, 3, 4}, 23), random_input({2, 5, 4}, 24), random_input({2, 5, 4}, 25)}));
}

TEST_CASE("gradcheck: scaled_dot_product_attention causal") {
  CHECK_GRADCHECK([](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2], {}, true); },
                  Inputs({random_input({2, 4, 3}, 26), random_input({2, 4, 3}, 27), random_input({2, 4, 3}, 28)}));
}

TEST_CASE("gradcheck: scaled_dot_product_attention L != S and Ev != E") {
  CHECK_GRADCHECK([](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); },
                  Inputs({random_input({2, 2, 3, 4}, 29), random_input({2, 2, 5, 4}, 30),
                          random_input({2, 2, 5, 6}, 31)}));
}

TEST_CASE("gradcheck: scaled_dot_product_attention custom scale") {
  CHECK_GRADCHECK([](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2], {}, false, 0.37); },
                  Inputs({random_input({2, 3, 4}, 32), random_input({2, 4, 4}, 33), random_input({2, 4, 2}, 34)}));
}

TEST_CASE("gradcheck: scaled_dot_product_attention non-contiguous inputs") {
  CHECK_GRADCHECK([](const Inputs& in) { return scaled_dot_product_attention(in[0], in[1], in[2]); },
                  Inputs({transposed_input({2, 3, 4}, 35), random_input({2, 5, 4}, 36), transposed_input({2, 5, 3}, 37)}));
}
