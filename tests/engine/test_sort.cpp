// sort, topk and cumsum: forward values against hand-computed cases and plain reference loops (stability
// with ties, NaN placement, any dimension), gradient checks, argument errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <omp.h>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::with_threads;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> as_vector(const Tensor& t) { return t.to_vector(); }
}  // namespace

// ---------------------------------------------------------------------------------------------- sort

TEST_CASE("sort is stable: equal values keep their order - ascending and descending") {
  Tensor x = tensor({3, 1, 2, 1, 3, 2});
  ValuesIndices up = sort(x);
  check_close(up.values, {1, 1, 2, 2, 3, 3});
  CHECK(as_vector(up.indices) == std::vector<double>{1, 3, 2, 5, 0, 4});
  CHECK(up.indices.dtype() == DType::i64);
  ValuesIndices down = sort(x, 0, true);
  check_close(down.values, {3, 3, 2, 2, 1, 1});
  CHECK(as_vector(down.indices) == std::vector<double>{0, 4, 2, 5, 1, 3});
}

TEST_CASE("sort puts NaN last ascending and first descending - in index order") {
  Tensor x = tensor({2, kNaN, -1, kNaN, 0}, {.dtype = DType::f64});
  ValuesIndices up = sort(x);
  CHECK(as_vector(up.indices) == std::vector<double>{2, 4, 0, 1, 3});
  const std::vector<double> uv = as_vector(up.values);
  CHECK(uv[0] == -1);
  CHECK(uv[2] == 2);
  CHECK(std::isnan(uv[3]));
  CHECK(std::isnan(uv[4]));
  ValuesIndices down = sort(x, -1, true);
  CHECK(as_vector(down.indices) == std::vector<double>{1, 3, 0, 4, 2});
}

TEST_CASE("sort along any dimension of a non-contiguous tensor matches std::stable_sort per row") {
  // Small integers, so ties are everywhere.
  Generator g(5);
  Tensor x = randint(0, 4, {3, 5, 4}, {.dtype = DType::i64}, &g).to(DType::f32).transpose(0, 2);  // [4, 5, 3]
  const std::vector<double> xv = x.to_vector();
  for (int64_t dim = 0; dim < 3; ++dim) {
    for (bool descending : {false, true}) {
      ValuesIndices result = sort(x, dim, descending);
      const std::vector<double> v = as_vector(result.values), idx = as_vector(result.indices);
      const Shape& s = x.shape();
      const int64_t stride = dim == 0 ? s[1] * s[2] : dim == 1 ? s[2] : 1;
      for (int64_t start = 0; start < x.numel(); ++start) {
        if ((start / stride) % s[dim] != 0) continue;  // one start per row
        std::vector<int64_t> order(s[dim]);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
          return descending ? xv[start + a * stride] > xv[start + b * stride] : xv[start + a * stride] < xv[start + b * stride];
        });
        for (int64_t r = 0; r < s[dim]; ++r) {
          CHECK(idx[start + r * stride] == order[r]);
          CHECK(v[start + r * stride] == xv[start + order[r] * stride]);
        }
      }
    }
  }
}

TEST_CASE("gradcheck: sort") {
  // Random inputs have no ties.
  CHECK_GRADCHECK([](const Inputs& in) { return sort(in[0], -1).values; }, Inputs({random_input({3, 5}, 1)}));
  CHECK_GRADCHECK([](const Inputs& in) { return sort(in[0], 0, true).values; }, Inputs({transposed_input({4, 3}, 2)}));
}

// ---------------------------------------------------------------------------------------------- topk

TEST_CASE("topk largest and smallest - sorted and unsorted") {
  Tensor x = Tensor::from_vector({5, 1, 4, 1, 9, 2,  //
                                  0, 7, 7, 3, 8, 6},
                                 {2, 6});
  ValuesIndices top = topk(x, 3);
  check_close(top.values, {9, 5, 4, 8, 7, 7});
  CHECK(as_vector(top.indices) == std::vector<double>{4, 0, 2, 4, 1, 2});
  ValuesIndices bottom = topk(x, 2, 1, false);
  check_close(bottom.values, {1, 1, 0, 3});
  CHECK(as_vector(bottom.indices) == std::vector<double>{1, 3, 0, 3});
  // Unsorted: the same elements, in increasing index order.
  ValuesIndices loose = topk(x, 3, -1, true, false);
  CHECK(as_vector(loose.indices) == std::vector<double>{0, 2, 4, 1, 2, 4});
  check_close(loose.values, {5, 4, 9, 7, 7, 8});
  // Along dimension 0.
  ValuesIndices column = topk(x, 1, 0, false);
  CHECK(column.values.shape() == Shape{1, 6});
  check_close(column.values, {0, 1, 4, 1, 8, 2});
  // k equal to the extent is a full sort.
  check_close(topk(x, 6, 1, false).values, {1, 1, 2, 4, 5, 9, 0, 3, 6, 7, 7, 8});
}

TEST_CASE("topk ranks NaN above every number") {
  Tensor x = tensor({1, kNaN, 3, 2}, {.dtype = DType::f64});
  ValuesIndices top = topk(x, 2);
  CHECK(as_vector(top.indices) == std::vector<double>{1, 2});
  ValuesIndices bottom = topk(x, 4, 0, false);
  CHECK(as_vector(bottom.indices) == std::vector<double>{0, 3, 2, 1});
}

TEST_CASE("gradcheck: topk") {
  CHECK_GRADCHECK([](const Inputs& in) { return topk(in[0], 2, -1).values; }, Inputs({random_input({3, 5}, 3)}));
  CHECK_GRADCHECK([](const Inputs& in) { return topk(in[0], 3, 0, false).values; },
                  Inputs({transposed_input({5, 3}, 4)}));
  CHECK_GRADCHECK([](const Inputs& in) { return topk(in[0], 2, 1, true, false).values; },
                  Inputs({random_input({2, 4, 3}, 5)}));
}

TEST_CASE("sort and topk errors name the op and the shape") {
  check_error([] { topk(zeros({2, 3}), 4); }, {"topk", "k = 4", "[2, 3]", "extent 3"});
  check_error([] { topk(zeros({2, 3}), -1, 0); }, {"topk", "k = -1"});
  check_error([] { sort(zeros({2, 3}), 2); }, {"sort", "dimension 2"});
}

// ---------------------------------------------------------------------------------------------- cumsum

TEST_CASE("cumsum along each dimension matches a plain loop") {
  check_close(cumsum(tensor({1, 2, 3, 4}), 0), {1, 3, 6, 10});
  check_close(cumsum(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}), 0), {1, 2, 3, 5, 7, 9});
  Tensor i = cumsum(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = DType::i64}), 1);
  CHECK(i.dtype() == DType::i64);
  check_close(i, {1, 3, 6, 4, 9, 15});
  Tensor x = random_input({3, 4, 5}, 6).detach().transpose(0, 1);  // [4, 3, 5], non-contiguous
  const std::vector<double> xv = x.to_vector();
  for (int64_t dim = 0; dim < 3; ++dim) {
    const Shape& s = x.shape();
    const int64_t stride = dim == 0 ? s[1] * s[2] : dim == 1 ? s[2] : 1;
    std::vector<double> expected(xv.size());
    for (int64_t p = 0; p < x.numel(); ++p) {
      const int64_t r = (p / stride) % s[dim];
      expected[p] = xv[p] + (r > 0 ? expected[p - stride] : 0.0);
    }
    check_close(cumsum(x, dim), expected, 1e-12);
  }
}

TEST_CASE("gradcheck: cumsum") {
  CHECK_GRADCHECK([](const Inputs& in) { return cumsum(in[0], -1); }, Inputs({transposed_input({3, 5}, 7)}));
  CHECK_GRADCHECK([](const Inputs& in) { return cumsum(in[0], 1); }, Inputs({random_input({2, 4, 3}, 8)}));
}

// ---------------------------------------------------------------------------------------------- threads


TEST_CASE("sort topk and cumsum give the same bits on one thread and on all of them") {
  Tensor x = randn({256, 300});
  auto run = [&] {
    std::vector<std::vector<double>> results;
    for (int64_t dim : {0, 1}) {
      ValuesIndices s = sort(x, dim, dim == 1);
      results.push_back(s.values.to_vector());
      results.push_back(s.indices.to_vector());
      ValuesIndices t = topk(x, 7, dim, dim == 0);
      results.push_back(t.values.to_vector());
      results.push_back(t.indices.to_vector());
      results.push_back(cumsum(x, dim).to_vector());
    }
    return results;
  };
  const auto one = with_threads(1, run);
  const auto all = with_threads(omp_get_max_threads(), run);
  REQUIRE(one.size() == all.size());
  for (size_t k = 0; k < one.size(); ++k) {
    INFO("result ", k);
    CHECK(one[k] == all[k]);
  }
  // The rows come out ordered.
  const std::vector<double> sorted = one[0];
  bool ordered = true;
  for (int64_t r = 1; r < 256; ++r)
    for (int64_t c = 0; c < 300; ++c) ordered = ordered && sorted[(r - 1) * 300 + c] <= sorted[r * 300 + c];
  CHECK(ordered);
}
