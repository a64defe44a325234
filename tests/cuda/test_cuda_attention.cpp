// CUDA attention (engine/cuda/attention.cu). On the host: the kernels' tile loops, emulated in double with
// the same helpers (engine/cuda/attention_tiles.h: online softmax, recomputed probabilities, causal tile
// bounds), against the CPU attention kernel, with masks, causal rules, fully masked rows, ragged tiles and
// L ≠ S; the tensor-core fragment maps (engine/cuda/mma_fragments.h) and the reuse of the score accumulators
// as P's A fragment. On a GPU: forward and backward against the CPU kernel in f64, f32, f16 and bf16, on
// strided and padded views, through the tensor-core kernels and the CUDA-core ones.
#include <cmath>
#include <limits>
#include <set>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "engine/cuda/attention_tiles.h"
#include "engine/cuda/mma_fragments.h"
#include "engine/cuda/runtime.h"
#include "engine/kernels/attention.h"
#include "parity.h"
#include "parity_inputs.h"

using namespace vireo;
using namespace vireo::cuda;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// A contiguous problem [B, L, E] / [B, S, E] / [B, S, Ev], mask [B, L, S] (empty: none), as plain vectors.
struct Problem {
  int64_t batch, length, keys, embed, value_embed;
  bool causal;
  double scale;
  std::vector<double> q, k, v, mask;
  double mask_at(int64_t b, int64_t i, int64_t j) const { return mask.empty() ? 0.0 : mask[(b * length + i) * keys + j]; }
};

double score(const Problem& p, int64_t b, int64_t i, int64_t j) {
  double dot = 0;
  for (int64_t e = 0; e < p.embed; ++e) dot += p.q[(b * p.length + i) * p.embed + e] * p.k[(b * p.keys + j) * p.embed + e];
  return attention_score<double>(dot, p.scale, p.mask_at(b, i, j), p.causal, i, j);
}

// The forward kernel's loop for one block (b, query tile), then every block: scores of a tile, a row's
// tile maximum over the whole tile (−∞ past the last key), begin_tile, probabilities, acc update.
void emulate_forward(const Problem& p, int64_t tile, std::vector<double>& out, std::vector<double>& lse) {
  const AttentionTiling tiling{p.length, p.keys, tile, p.causal};
  out.assign(p.batch * p.length * p.value_embed, 0.0);
  lse.assign(p.batch * p.length, 0.0);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t qt = 0; qt < tiling.query_tiles(); ++qt) {
      const int64_t i0 = qt * tile, rows = tiling.rows_in_query_tile(qt), key_end = tiling.key_end(qt);
      std::vector<OnlineSoftmaxRow<double>> state(rows);
      std::vector<double> acc(rows * p.value_embed, 0.0), s(tile);
      for (int64_t j0 = 0; j0 < key_end; j0 += tile) {
        const int64_t cols = std::min(tile, key_end - j0);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < tile; ++c) s[c] = c < cols ? score(p, b, i0 + r, j0 + c) : -kInf;
          double tile_max = -kInf;
          for (double x : s) tile_max = std::max(tile_max, x);
          const double correction = state[r].begin_tile(tile_max);
          double tile_sum = 0;
          for (int64_t c = 0; c < tile; ++c) {
            s[c] = c < cols ? state[r].probability(s[c]) : 0.0;
            tile_sum += s[c];
          }
          state[r].end_tile(tile_sum);
          for (int64_t e = 0; e < p.value_embed; ++e) {
            double a = acc[r * p.value_embed + e] * correction;
            for (int64_t c = 0; c < cols; ++c) a += s[c] * p.v[(b * p.keys + j0 + c) * p.value_embed + e];
            acc[r * p.value_embed + e] = a;
          }
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t e = 0; e < p.value_embed; ++e)
          out[((b * p.length) + i0 + r) * p.value_embed + e] = acc[r * p.value_embed + e] * state[r].output_scale();
        lse[b * p.length + i0 + r] = state[r].log_sum_exp();
      }
    }
}

// The two backward kernels' loops: by key tile (dK, dV over the query tiles from first_query_tile) and by
// query tile (dQ over the key tiles before key_end), with P and dS recomputed as recompute_tile does.
void emulate_backward(const Problem& p, int64_t tile, const std::vector<double>& out, const std::vector<double>& lse,
                      const std::vector<double>& dout, std::vector<double>& dq, std::vector<double>& dk,
                      std::vector<double>& dv) {
  const AttentionTiling tiling{p.length, p.keys, tile, p.causal};
  const int64_t E = p.embed, Ev = p.value_embed;
  std::vector<double> delta(p.batch * p.length, 0.0);
  for (int64_t row = 0; row < p.batch * p.length; ++row)
    for (int64_t e = 0; e < Ev; ++e) delta[row] += dout[row * Ev + e] * out[row * Ev + e];
  auto probability_and_gradient = [&](int64_t b, int64_t i, int64_t j, double& prob, double& ds) {
    prob = recomputed_probability(score(p, b, i, j), lse[b * p.length + i]);
    double dp = 0;
    for (int64_t e = 0; e < Ev; ++e) dp += dout[(b * p.length + i) * Ev + e] * p.v[(b * p.keys + j) * Ev + e];
    ds = score_gradient(prob, dp, delta[b * p.length + i]);
  };
  dq.assign(p.batch * p.length * E, 0.0);
  dk.assign(p.batch * p.keys * E, 0.0);
  dv.assign(p.batch * p.keys * Ev, 0.0);
  for (int64_t b = 0; b < p.batch; ++b) {
    for (int64_t kt = 0; kt < tiling.key_tiles(); ++kt) {
      const int64_t j0 = kt * tile, cols = tiling.rows_in_key_tile(kt);
      for (int64_t qt = tiling.first_query_tile(kt); qt < tiling.query_tiles(); ++qt) {
        const int64_t i0 = qt * tile, rows = tiling.rows_in_query_tile(qt);
        for (int64_t c = 0; c < cols; ++c)
          for (int64_t r = 0; r < rows; ++r) {
            double prob, ds;
            probability_and_gradient(b, i0 + r, j0 + c, prob, ds);
            for (int64_t e = 0; e < Ev; ++e) dv[(b * p.keys + j0 + c) * Ev + e] += prob * dout[(b * p.length + i0 + r) * Ev + e];
            for (int64_t e = 0; e < E; ++e)
              dk[(b * p.keys + j0 + c) * E + e] += p.scale * ds * p.q[(b * p.length + i0 + r) * E + e];
          }
      }
    }
    for (int64_t qt = 0; qt < tiling.query_tiles(); ++qt) {
      const int64_t i0 = qt * tile, rows = tiling.rows_in_query_tile(qt), key_end = tiling.key_end(qt);
      for (int64_t j0 = 0; j0 < key_end; j0 += tile)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < std::min(tile, key_end - j0); ++c) {
            double prob, ds;
            probability_and_gradient(b, i0 + r, j0 + c, prob, ds);
            for (int64_t e = 0; e < E; ++e) dq[(b * p.length + i0 + r) * E + e] += p.scale * ds * p.k[(b * p.keys + j0 + c) * E + e];
          }
    }
  }
}

std::vector<double> random_values(int64_t n, uint64_t seed) { return test::random_tensor({n}, DType::f64, seed).to_vector(); }

Problem make_problem(int64_t length, int64_t keys, bool causal, bool with_mask) {
  Problem p{2, length, keys, 5, 3, causal, 0.7, {}, {}, {}, {}};
  p.q = random_values(p.batch * length * p.embed, 1);
  p.k = random_values(p.batch * keys * p.embed, 2);
  p.v = random_values(p.batch * keys * p.value_embed, 3);
  if (with_mask) {
    p.mask = random_values(p.batch * length * keys, 4);
    for (int64_t j = 0; j < keys; ++j) p.mask[(1 * length + 2) * keys + j] = -kInf;  // row 2 of batch 1: fully masked
    p.mask[(0 * length + 1) * keys + 0] = -kInf;
  }
  return p;
}

void expect_vectors_close(const std::vector<double>& got, const std::vector<double>& want, const char* what) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(want[i])) {
      CHECK_MESSAGE(got[i] == want[i], what, " element ", i);
      continue;
    }
    CHECK_MESSAGE(std::abs(got[i] - want[i]) <= 1e-12 + 1e-10 * std::abs(want[i]), what, " element ", i, ": ", got[i],
                  " vs ", want[i]);
  }
}

}  // namespace

TEST_CASE("cuda attention tiles: the host emulation of the tile loops equals the CPU kernel") {
  for (const auto& [length, keys] : {std::pair<int64_t, int64_t>{7, 10}, {10, 7}, {9, 9}})
    for (bool causal : {false, true})
      for (bool with_mask : {false, true})
        for (int64_t tile : {1, 3, 4, 16}) {
          CAPTURE(length);
          CAPTURE(keys);
          CAPTURE(causal);
          CAPTURE(with_mask);
          CAPTURE(tile);
          const Problem p = make_problem(length, keys, causal, with_mask);
          const TensorOptions f64{DType::f64};
          const Tensor q = Tensor::from_vector(p.q, {p.batch, length, p.embed}, f64);
          const Tensor k = Tensor::from_vector(p.k, {p.batch, keys, p.embed}, f64);
          const Tensor v = Tensor::from_vector(p.v, {p.batch, keys, p.value_embed}, f64);
          const Tensor mask = with_mask ? Tensor::from_vector(p.mask, {p.batch, length, keys}, f64) : Tensor();
          const Tensor out = Tensor::empty({p.batch, length, p.value_embed}, f64), lse = Tensor::empty({p.batch, length}, f64);
          kernels::attention_forward(Device::cpu(), q, k, v, mask, causal, p.scale, out, lse);
          std::vector<double> emulated_out, emulated_lse;
          emulate_forward(p, tile, emulated_out, emulated_lse);
          expect_vectors_close(emulated_out, out.to_vector(), "out");
          expect_vectors_close(emulated_lse, lse.to_vector(), "logsumexp");

          const std::vector<double> dout = random_values(p.batch * length * p.value_embed, 5);
          const Tensor grad_out = Tensor::from_vector(dout, out.shape(), f64);
          const Tensor dq = Tensor::empty(q.shape(), f64), dk = Tensor::empty(k.shape(), f64), dv = Tensor::empty(v.shape(), f64);
          kernels::attention_backward(Device::cpu(), q, k, v, mask, causal, p.scale, out, lse, grad_out, dq, dk, dv);
          std::vector<double> edq, edk, edv;
          emulate_backward(p, tile, out.to_vector(), lse.to_vector(), dout, edq, edk, edv);
          expect_vectors_close(edq, dq.to_vector(), "grad_q");
          expect_vectors_close(edk, dk.to_vector(), "grad_k");
          expect_vectors_close(edv, dv.to_vector(), "grad_v");
        }
}

TEST_CASE("cuda attention tiles: causal bounds skip exactly the tiles with no allowed score") {
  for (int64_t tile : {1, 2, 5, 32})
    for (const auto& [length, keys] : {std::pair<int64_t, int64_t>{13, 13}, {7, 20}, {20, 7}}) {
      const AttentionTiling tiling{length, keys, tile, true};
      for (int64_t qt = 0; qt < tiling.query_tiles(); ++qt) {
        const int64_t i1 = qt * tile + tiling.rows_in_query_tile(qt);
        // The last row of the tile, i1 − 1, sees keys 0 … i1 − 1; no row of the tile sees more.
        CHECK(tiling.key_end(qt) == std::min(keys, i1));
      }
      for (int64_t kt = 0; kt < tiling.key_tiles(); ++kt) {
        // No row before kt·tile sees a key of this tile; the row kt·tile (if any) sees its first key.
        const int64_t first = tiling.first_query_tile(kt);
        CHECK(first * tile <= kt * tile);
        CHECK((first == 0 || (first - 1) * tile + tiling.tile - 1 < kt * tile));
      }
    }
  const AttentionTiling open{13, 20, 4, false};
  CHECK(open.key_end(0) == 20);
  CHECK(open.first_query_tile(3) == 0);
}

TEST_CASE("cuda attention tiles: the online softmax of a fully masked row gives 0 and +inf") {
  OnlineSoftmaxRow<double> row;
  CHECK(row.begin_tile(-kInf) == 1.0);
  CHECK(row.probability(-kInf) == 0.0);
  row.end_tile(0.0);
  CHECK(row.output_scale() == 0.0);
  CHECK(row.log_sum_exp() == kInf);
  CHECK(recomputed_probability(0.5, kInf) == 0.0);
  CHECK(recomputed_probability(-kInf, 1.0) == 0.0);
  // A row whose maximum rises: the earlier sum is rescaled by e^(m − m').
  OnlineSoftmaxRow<double> rising;
  rising.begin_tile(1.0);
  rising.end_tile(rising.probability(1.0) + rising.probability(0.0));
  const double correction = rising.begin_tile(3.0);
  CHECK(correction == doctest::Approx(std::exp(-2.0)));
  rising.end_tile(rising.probability(3.0));
  CHECK(rising.log_sum_exp() == doctest::Approx(std::log(std::exp(1.0) + std::exp(0.0) + std::exp(3.0))));
}

// ---- the tensor-core fragments (engine/cuda/mma_fragments.h) ----

TEST_CASE("cuda attention mma fragments: each map covers its tile once and pairs sit side by side") {
  std::set<std::pair<int, int>> a, b, c;
  for (int lane = 0; lane < 32; ++lane) {
    for (int reg = 0; reg < 4; ++reg)
      for (int half = 0; half < 2; ++half) {
        const mma::Coordinate at = mma::a_element(lane, reg, half);
        CHECK((at.row >= 0 && at.row < 16 && at.column >= 0 && at.column < 16));
        a.insert({at.row, at.column});
      }
    for (int reg = 0; reg < 2; ++reg)
      for (int half = 0; half < 2; ++half) {
        const mma::Coordinate at = mma::b_element(lane, reg, half);
        CHECK((at.row >= 0 && at.row < 16 && at.column >= 0 && at.column < 8));
        b.insert({at.row, at.column});
      }
    for (int value = 0; value < 4; ++value) {
      const mma::Coordinate at = mma::c_element(lane, value);
      CHECK((at.row >= 0 && at.row < 16 && at.column >= 0 && at.column < 8));
      c.insert({at.row, at.column});
    }
    // The kernel reads A and B registers as two adjacent elements of a row-major tile (half 1 next to
    // half 0 along the reduction index) and stores C values 2v, 2v + 1 as one pair.
    for (int reg = 0; reg < 4; ++reg) {
      const mma::Coordinate low = mma::a_element(lane, reg, 0), high = mma::a_element(lane, reg, 1);
      CHECK((high.row == low.row && high.column == low.column + 1));
    }
    for (int reg = 0; reg < 2; ++reg) {
      const mma::Coordinate low = mma::b_element(lane, reg, 0), high = mma::b_element(lane, reg, 1);
      CHECK((high.row == low.row + 1 && high.column == low.column));
    }
    for (int pair = 0; pair < 2; ++pair) {
      const mma::Coordinate low = mma::c_element(lane, 2 * pair), high = mma::c_element(lane, 2 * pair + 1);
      CHECK((high.row == low.row && high.column == low.column + 1));
    }
  }
  CHECK(a.size() == 256);  // 32 lanes × 8 halves: every element of the 16×16 tile once
  CHECK(b.size() == 128);
  CHECK(c.size() == 128);
}

TEST_CASE("cuda attention mma fragments: the score accumulators of two n-tiles are P's A fragment") {
  // Scores S of 16 rows × 16 keys as two 16×8 accumulator tiles: every lane's A register of P, taken from
  // its own accumulators by p_fragment_source, must hold the same (row, key) the A map says it holds.
  // An emulated warp: each lane's accumulator values of S, then the A fragment assembled from them.
  std::vector<double> scores(16 * 16);
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = 0.5 * static_cast<double>(i) + 1.0;
  for (int lane = 0; lane < 32; ++lane) {
    double accumulators[2][4];
    for (int tile = 0; tile < 2; ++tile)
      for (int value = 0; value < 4; ++value) {
        const mma::Coordinate at = mma::c_element(lane, value);
        accumulators[tile][value] = scores[at.row * 16 + 8 * tile + at.column];
      }
    for (int reg = 0; reg < 4; ++reg)
      for (int half = 0; half < 2; ++half) {
        const mma::AccumulatorSource source = mma::p_fragment_source(reg, half);
        const mma::Coordinate want = mma::a_element(lane, reg, half);
        CHECK(accumulators[source.tile_offset][source.value] == scores[want.row * 16 + want.column]);
      }
  }
}

// ---- GPU parity ----

namespace {

struct AttentionCase {
  bool causal;
  bool mask;       // a broadcast [L, S] mask with a fully masked row
  bool strided;    // q, k, v as permuted views [B, H, L, E] of [B, L, H, E] storage
  int64_t length, keys, embed, value_embed;
  bool padded = false;  // q, k, v as the first E columns of rows 2 wider: a leading dimension not a multiple of 8
};

void run_attention_parity(DType dtype, const AttentionCase& c) {
  const int64_t B = 2, H = 3;
  CAPTURE(dtype);
  CAPTURE(c.causal);
  CAPTURE(c.mask);
  CAPTURE(c.strided);
  CAPTURE(c.length);
  CAPTURE(c.keys);
  CAPTURE(c.embed);
  CAPTURE(c.padded);
  REQUIRE_FALSE((c.strided && c.padded));
  auto padded_storage = [&](int64_t rows, int64_t width, uint64_t seed) {
    return test::random_tensor({B, H, rows, width + 2}, dtype, seed);
  };
  auto operand = [&](int64_t rows, int64_t width, uint64_t seed) {
    if (c.padded) return padded_storage(rows, width, seed).narrow(3, 0, width);
    if (!c.strided) return test::random_tensor({B, H, rows, width}, dtype, seed);
    return test::random_tensor({B, rows, H, width}, dtype, seed).permute({0, 2, 1, 3});
  };
  const Tensor q = operand(c.length, c.embed, 11), k = operand(c.keys, c.embed, 12), v = operand(c.keys, c.value_embed, 13);
  Tensor mask, cmask;  // a broadcast view [B, H, L, S] of one [L, S] mask, on each device
  if (c.mask) {
    std::vector<double> values = test::random_tensor({c.length, c.keys}, DType::f64, 14).to_vector();
    const int64_t blind_row = c.length > 1 ? 1 : 0;  // a query row that sees nothing
    for (int64_t j = 0; j < c.keys; ++j) values[blind_row * c.keys + j] = -kInf;
    const Tensor mask2d = Tensor::from_vector(values, {c.length, c.keys}, {dtype});
    mask = mask2d.expand({B, H, c.length, c.keys});
    cmask = test::on_cuda(mask2d).expand({B, H, c.length, c.keys});
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.embed));
  const Device gpu = Device::cuda();
  // The CUDA operands are the same strided views of a device copy of the storage-ordered tensor.
  auto device_operand = [&](const Tensor& cpu_view, int64_t rows, int64_t width, uint64_t seed) {
    if (c.padded) return test::on_cuda(padded_storage(rows, width, seed)).narrow(3, 0, width);
    if (!c.strided) return test::on_cuda(cpu_view);
    return test::on_cuda(cpu_view.permute({0, 2, 1, 3}).contiguous()).permute({0, 2, 1, 3});
  };
  const Tensor cq = device_operand(q, c.length, c.embed, 11), ck = device_operand(k, c.keys, c.embed, 12),
               cv = device_operand(v, c.keys, c.value_embed, 13);
  if (c.padded) CHECK(cq.strides()[2] == c.embed + 2);  // the GPU operand really is the padded view
  const Tensor rq = test::reference(q), rk = test::reference(k), rv = test::reference(v);
  const Tensor rmask = c.mask ? test::reference(mask) : Tensor();

  const Shape out_shape{B, H, c.length, c.value_embed}, row_shape{B, H, c.length};
  const Tensor out = Tensor::empty(out_shape, {dtype, gpu}), lse = Tensor::empty(row_shape, {dtype, gpu});
  kernels::attention_forward(gpu, cq, ck, cv, cmask, c.causal, scale, out, lse);
  const DType rd = test::reference_dtype(dtype);
  const Tensor rout = Tensor::empty(out_shape, {rd}), rlse = Tensor::empty(row_shape, {rd});
  kernels::attention_forward(Device::cpu(), rq, rk, rv, rmask, c.causal, scale, rout, rlse);
  test::expect_close(out, rout, test::tolerance_for(dtype), "attention out");
  test::expect_close(test::without_infinities(lse), test::without_infinities(rlse), test::tolerance_for(dtype),
                     "attention logsumexp");

  const Tensor grad_out = test::random_tensor(out_shape, dtype, 15);
  const Tensor dq = Tensor::empty(cq.shape(), {dtype, gpu}), dk = Tensor::empty(ck.shape(), {dtype, gpu}),
               dv = Tensor::empty(cv.shape(), {dtype, gpu});
  kernels::attention_backward(gpu, cq, ck, cv, cmask, c.causal, scale, out, lse, test::on_cuda(grad_out), dq, dk, dv);
  // The reference backward starts from the GPU's saved out and logsumexp (rounded to the dtype), as the GPU did.
  const Tensor rdq = Tensor::empty(rq.shape(), {rd}), rdk = Tensor::empty(rk.shape(), {rd}), rdv = Tensor::empty(rv.shape(), {rd});
  kernels::attention_backward(Device::cpu(), rq, rk, rv, rmask, c.causal, scale, test::reference(out), test::reference(lse),
                              test::reference(grad_out), rdq, rdk, rdv);
  test::expect_close(dq, rdq, test::tolerance_for(dtype), "attention grad_q");
  test::expect_close(dk, rdk, test::tolerance_for(dtype), "attention grad_k");
  test::expect_close(dv, rdv, test::tolerance_for(dtype), "attention grad_v");
}

}  // namespace

TEST_CASE("cuda attention parity: forward and backward against the CPU in f64 and f32 and f16 and bf16") {
  VIREO_REQUIRE_GPU();
  const AttentionCase cases[] = {
      {false, false, false, 37, 45, 24, 20},  // ragged tiles, L ≠ S
      {true, false, true, 45, 37, 16, 16},    // causal with L > S, strided views
      {true, true, true, 70, 70, 64, 64},     // causal and masked, a ViT-like head
      {false, true, false, 1, 33, 8, 5},      // one query row
  };
  for (DType dtype : {DType::f64, DType::f32, DType::f16, DType::bf16})
    for (const AttentionCase& c : cases) run_attention_parity(dtype, c);
}

TEST_CASE("cuda attention parity: the tensor-core forward and backward in f16 and bf16 at head dimensions 64 "
          "and 128 and the CUDA-core kernels on the same shapes") {
  VIREO_REQUIRE_GPU();
  const AttentionCase cases[] = {
      {false, false, false, 200, 333, 128, 128},          // several key tiles, a ragged last one, L ≠ S
      {true, false, false, 130, 130, 64, 64},             // causal: the tiles above the diagonal skipped
      {true, true, true, 70, 70, 128, 128},               // masked, a fully masked row, strided views
      {false, false, false, 65, 64, 64, 64, true},        // rows padded to 66: the element-wise loads
      {true, false, false, 9, 0, 64, 64},                 // no keys: output 0, log-sum-exp +inf
  };
  for (bool tensor_cores : {true, false}) {
    CAPTURE(tensor_cores);
    cuda::set_tensor_core_attention(tensor_cores);
    for (DType dtype : {DType::f16, DType::bf16})
      for (const AttentionCase& c : cases) run_attention_parity(dtype, c);
  }
  cuda::set_tensor_core_attention(true);
}

TEST_CASE("cuda attention parity: a head dimension of 256 in f64 and no keys at all") {
  VIREO_REQUIRE_GPU();
  run_attention_parity(DType::f64, {false, false, false, 20, 19, 256, 256});
  run_attention_parity(DType::f32, {true, false, false, 9, 0, 16, 16});
}
