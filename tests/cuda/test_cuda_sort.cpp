// CUDA sort and topk (engine/cuda/sort.cu). On the host: the order keys (engine/cuda/sort_keys.h) follow
// the promised order (NaN above every number, −0 = +0, descending by complement), and a stable sort of
// (key, index) pairs — what the kernels ask of CUB — reproduces the CPU sort and topk, ties and NaNs
// included. On a GPU: sort and topk against the CPU in f32, f64, i64 (and f16/bf16 against the f32 order).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <doctest/doctest.h>

#include "engine/cuda/sort_keys.h"
#include "engine/kernels/sort.h"
#include "parity.h"
#include "parity_inputs.h"

using namespace vireo;
using namespace vireo::cuda;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Values in increasing order (NaN last), with a tie −0 = +0.
const std::vector<double> kOrdered = {-kInf, -1e300, -2.5, -1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0, 3.0, 1e300, kInf, kNaN};

// Rows with ties and NaNs: values drawn from a few levels.
std::vector<double> rows_with_ties(int64_t n, uint64_t seed, bool with_nan) {
  std::vector<double> u = test::random_tensor({n}, DType::f64, seed).to_vector();
  for (double& x : u) {
    x = std::round(x * 2.0) / 2.0;
    if (with_nan && std::abs(x) == 1.5) x = kNaN;
  }
  return u;
}

// The kernels' recipe on the host: stable sort of (key, index) per row; returns the row's order.
template <class T>
std::vector<int64_t> key_order(const std::vector<T>& row, bool descending) {
  std::vector<std::pair<decltype(order_key(T{}, false)), int64_t>> pairs;
  for (size_t r = 0; r < row.size(); ++r) pairs.push_back({order_key(row[r], descending), static_cast<int64_t>(r)});
  std::stable_sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<int64_t> order;
  for (const auto& p : pairs) order.push_back(p.second);
  return order;
}

template <class T>
void check_against_cpu(DType dtype) {
  const int64_t outer = 3, extent = 300, inner = 1;
  for (bool descending : {false, true}) {
    std::vector<double> all;
    for (int64_t o = 0; o < outer; ++o) {
      const auto row = rows_with_ties(extent, 7 + o, dtype != DType::i64);
      all.insert(all.end(), row.begin(), row.end());
    }
    const Tensor x = Tensor::from_vector(all, {outer, extent, inner}, {dtype});
    const std::vector<double> stored = x.to_vector();  // as the dtype holds them
    const Tensor values = Tensor::empty(x.shape(), {dtype}), indices = Tensor::empty(x.shape(), {DType::i64});
    kernels::sort(Device::cpu(), x, outer, extent, inner, descending, values, indices);
    const std::vector<double> cpu_indices = indices.to_vector();
    for (int64_t o = 0; o < outer; ++o) {
      std::vector<T> row;
      for (int64_t r = 0; r < extent; ++r) row.push_back(static_cast<T>(stored[o * extent + r]));
      const std::vector<int64_t> order = key_order(row, descending);
      for (int64_t r = 0; r < extent; ++r) CHECK(order[r] == static_cast<int64_t>(cpu_indices[o * extent + r]));
    }
    // topk: the first k of the key order (sorted), or those k in index order (unsorted).
    for (bool sorted : {true, false}) {
      const int64_t k = 17;
      const Tensor tv = Tensor::empty({outer, k, inner}, {dtype}), ti = Tensor::empty({outer, k, inner}, {DType::i64});
      kernels::topk(Device::cpu(), x, outer, extent, inner, k, descending, sorted, tv, ti);
      const std::vector<double> topk_indices = ti.to_vector();
      for (int64_t o = 0; o < outer; ++o) {
        std::vector<T> row;
        for (int64_t r = 0; r < extent; ++r) row.push_back(static_cast<T>(stored[o * extent + r]));
        std::vector<int64_t> chosen = key_order(row, descending);
        chosen.resize(k);
        if (!sorted) std::sort(chosen.begin(), chosen.end());
        for (int64_t r = 0; r < k; ++r) CHECK(chosen[r] == static_cast<int64_t>(topk_indices[o * k + r]));
      }
    }
  }
}

}  // namespace

TEST_CASE("cuda sort keys: unsigned key order is the value order with NaN largest and -0 equal to +0") {
  for (size_t a = 0; a + 1 < kOrdered.size(); ++a) {
    CAPTURE(kOrdered[a]);
    const bool tie = kOrdered[a] == 0.0 && kOrdered[a + 1] == 0.0;
    if (tie) {
      CHECK(order_key(kOrdered[a], false) == order_key(kOrdered[a + 1], false));
      CHECK(order_key(static_cast<float>(kOrdered[a]), false) == order_key(static_cast<float>(kOrdered[a + 1]), false));
      continue;
    }
    CHECK(order_key(kOrdered[a], false) < order_key(kOrdered[a + 1], false));
    CHECK(order_key(kOrdered[a], true) > order_key(kOrdered[a + 1], true));
    const float fa = static_cast<float>(kOrdered[a]), fb = static_cast<float>(kOrdered[a + 1]);
    if (fa != fb) CHECK(order_key(fa, false) < order_key(fb, false));  // ±1e-300 round to ±0 in f32
  }
  // Every NaN is one key, whatever its sign and payload.
  CHECK(order_key(-kNaN, false) == order_key(kNaN, false));
  CHECK(order_key(std::numeric_limits<float>::signaling_NaN(), true) == order_key(std::nanf(""), true));
  const std::vector<int64_t> integers = {std::numeric_limits<int64_t>::min(), -5, -1, 0, 1, 7,
                                         std::numeric_limits<int64_t>::max()};
  for (size_t a = 0; a + 1 < integers.size(); ++a) {
    CHECK(order_key(integers[a], false) < order_key(integers[a + 1], false));
    CHECK(order_key(integers[a], true) > order_key(integers[a + 1], true));
  }
}

TEST_CASE("cuda sort keys: a stable sort of key and index pairs reproduces the CPU sort and topk") {
  check_against_cpu<float>(DType::f32);
  check_against_cpu<double>(DType::f64);
  check_against_cpu<int64_t>(DType::i64);
}

// ---- GPU parity ----

TEST_CASE("cuda sort parity: sort and topk against the CPU with ties and NaNs and inner strides") {
  VIREO_REQUIRE_GPU();
  struct Layout {
    int64_t outer, extent, inner;
  };
  for (const Layout& l : {Layout{4, 300, 1}, Layout{3, 37, 5}, Layout{1, 5000, 1}, Layout{2, 1, 3}})
    for (DType dtype : {DType::f32, DType::f64, DType::i64, DType::bf16}) {
      CAPTURE(dtype);
      CAPTURE(l.extent);
      CAPTURE(l.inner);
      const int64_t n = l.outer * l.extent * l.inner;
      const Tensor x = Tensor::from_vector(rows_with_ties(n, 11, dtype != DType::i64), {l.outer, l.extent, l.inner}, {dtype});
      // bf16: the CPU sorts the same values in f32 (exact), so indices and values must agree exactly.
      const Tensor rx = test::reference(x);
      const DType rd = test::reference_dtype(dtype);
      for (bool descending : {false, true}) {
        const Tensor v = Tensor::empty(x.shape(), {dtype, Device::cuda()}), i = Tensor::empty(x.shape(), {DType::i64, Device::cuda()});
        const Tensor rv = Tensor::empty(x.shape(), {rd}), ri = Tensor::empty(x.shape(), {DType::i64});
        kernels::sort(Device::cuda(), test::on_cuda(x), l.outer, l.extent, l.inner, descending, v, i);
        kernels::sort(Device::cpu(), rx, l.outer, l.extent, l.inner, descending, rv, ri);
        test::expect_close(i, ri, test::Tolerance{0.0, 0.0}, "sort indices");
        test::expect_close(v, rv, test::Tolerance{0.0, 0.0}, "sort values");
        for (int64_t k : {int64_t{0}, int64_t{1}, std::min<int64_t>(l.extent, 7), l.extent})
          for (bool sorted : {true, false}) {
            CAPTURE(k);
            CAPTURE(sorted);
            const Shape shape{l.outer, k, l.inner};
            const Tensor tv = Tensor::empty(shape, {dtype, Device::cuda()}), ti = Tensor::empty(shape, {DType::i64, Device::cuda()});
            const Tensor rtv = Tensor::empty(shape, {rd}), rti = Tensor::empty(shape, {DType::i64});
            kernels::topk(Device::cuda(), test::on_cuda(x), l.outer, l.extent, l.inner, k, descending, sorted, tv, ti);
            kernels::topk(Device::cpu(), rx, l.outer, l.extent, l.inner, k, descending, sorted, rtv, rti);
            test::expect_close(ti, rti, test::Tolerance{0.0, 0.0}, "topk indices");
            test::expect_close(tv, rtv, test::Tolerance{0.0, 0.0}, "topk values");
          }
      }
    }
}
