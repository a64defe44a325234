// The CUDA reduction and cumulative-sum kernels.
// Host tests: the combine rule of the reduction (engine/cuda/reduce_math.h), folded the way the GPU folds —
// strided shares per thread, a tree across threads, chunks in order — against the CPU kernel's sequential
// answer (first index of a max/min, NaN wins), and the chunk planning. GPU parity tests: reduce and cumsum
// on CUDA against the CPU for row, column, split and degenerate layouts in every dtype they take.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/parity_pairs.h"
#include "engine/cuda/reduce_math.h"
#include "engine/kernels/cumsum.h"
#include "engine/kernels/reduction.h"

using namespace vireo;
using namespace vireo::test;
using cuda::ReducePartial;
using kernels::ReduceOp;

namespace {

// The GPU's order of combination for one line, on the host: `chunk_length` positions per chunk; within a
// chunk `group` threads (a power of two) each fold positions lane, lane + group, …, then fold pairwise as a
// tree; the chunks fold in order.
template <class A>
ReducePartial<A> fold_like_the_gpu(ReduceOp op, const std::vector<A>& x, int group, int64_t chunk_length) {
  const int64_t n = static_cast<int64_t>(x.size());
  ReducePartial<A> total = cuda::reduce_identity<A>(op);
  for (int64_t lo = 0; lo < std::max<int64_t>(n, 1); lo += chunk_length) {
    const int64_t hi = std::min(n, lo + chunk_length);
    std::vector<ReducePartial<A>> partial(group, cuda::reduce_identity<A>(op));
    for (int lane = 0; lane < group; ++lane)
      for (int64_t r = lo + lane; r < hi; r += group)
        partial[lane] = cuda::reduce_combine(op, partial[lane], cuda::reduce_element(op, x[r], r));
    for (int half = group / 2; half > 0; half /= 2)
      for (int lane = 0; lane < half; ++lane) partial[lane] = cuda::reduce_combine(op, partial[lane], partial[lane + half]);
    total = cuda::reduce_combine(op, total, partial[0]);
  }
  return total;
}

}  // namespace

TEST_CASE("folding the reduction's partials in the GPU's order gives the CPU's max/min with first index and NaN") {
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 400; ++trial) {
    const int64_t n = std::uniform_int_distribution<int64_t>(1, 300)(rng);
    const bool with_nan = trial % 3 == 0;
    std::vector<double> x(n);
    for (int64_t r = 0; r < n; ++r) {
      x[r] = std::uniform_int_distribution<int>(-2, 2)(rng);  // few distinct values: many ties
      if (with_nan && std::uniform_int_distribution<int>(0, 40)(rng) == 0) x[r] = std::nan("");
    }
    const int group = 1 << std::uniform_int_distribution<int>(0, 8)(rng);
    const int64_t chunk = std::uniform_int_distribution<int64_t>(1, n)(rng);
    const Tensor input = Tensor::from_vector(x, {1, n, 1}, {.dtype = DType::f64});
    for (ReduceOp op : {ReduceOp::max, ReduceOp::min}) {
      Tensor values = Tensor::empty({1}, {.dtype = DType::f64}), indices = Tensor::empty({1}, {.dtype = DType::i64});
      kernels::reduce(Device::cpu(), op, input, 1, n, 1, values, indices);
      const ReducePartial<double> got = fold_like_the_gpu(op, x, group, chunk);
      const double want = values.item();
      CAPTURE(trial);
      CAPTURE(group);
      CAPTURE(chunk);
      CHECK((got.value == want || (std::isnan(got.value) && std::isnan(want))));
      CHECK(got.index == static_cast<int64_t>(indices.item()));
    }
  }
}

TEST_CASE("folded sums agree with the CPU's f64 sum and i64 max/min keep the first index") {
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::vector<double> x(5000);
  for (double& v : x) v = uniform(rng);
  const Tensor input = Tensor::from_vector(x, {1, 5000, 1}, {.dtype = DType::f64});
  Tensor sum = Tensor::empty({1}, {.dtype = DType::f64});
  kernels::reduce(Device::cpu(), ReduceOp::sum, input, 1, 5000, 1, sum, Tensor());
  CHECK(fold_like_the_gpu(ReduceOp::sum, x, 256, 1000).value == doctest::Approx(sum.item()).epsilon(1e-12));

  const std::vector<int64_t> integers = {3, -1, 7, 7, -5, 7, -5, 0};
  CHECK(fold_like_the_gpu(ReduceOp::max, integers, 4, 3).index == 2);
  CHECK(fold_like_the_gpu(ReduceOp::min, integers, 2, 8).index == 4);
}

TEST_CASE("the chunk length covers the reduced axis and splits only lines too few to fill the GPU") {
  for (int64_t base : {int64_t{1}, int64_t{7}, int64_t{500}, int64_t{5000}})
    for (int64_t reduced : {int64_t{0}, int64_t{1}, int64_t{100}, int64_t{4096}, int64_t{4097}, int64_t{1} << 24}) {
      const int64_t length = cuda::reduce_chunk_length(base, reduced, 4096, 1024);
      CAPTURE(base);
      CAPTURE(reduced);
      REQUIRE(length >= 1);
      const int64_t chunks = (std::max<int64_t>(reduced, 1) + length - 1) / length;
      CHECK(chunks * length >= reduced);
      if (base >= 1024 || reduced <= 4096) CHECK(chunks == 1);
      if (chunks > 1) {
        CHECK(length >= 4096);
        CHECK(chunks * base <= 1024 + base);
      }
    }
  CHECK((cuda::reduce_chunk_length(1, int64_t{1} << 24, 4096, 1024)) == (int64_t{1} << 24) / 1024);
}

// ---- GPU parity ----

namespace {

struct Layout {
  int64_t outer, reduced, inner;
};

// Values with ties (multiples of 0.25 in a small range) so the first-index rule is exercised.
Pair tied_values(const Layout& l, DType dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(-12, 12);
  std::vector<double> values(static_cast<size_t>(l.outer * l.reduced * l.inner));
  for (double& v : values) v = dtype == DType::i64 ? pick(rng) : pick(rng) * 0.25;
  return pair_from_values(values, {l.outer, l.reduced, l.inner}, dtype);
}

}  // namespace

TEST_CASE("CUDA reduce matches the CPU: sums and max/min with first indices over rows and columns and split lines") {
  VIREO_REQUIRE_GPU();
  const std::vector<Layout> layouts = {
      {1, 1 << 20, 1},  // one long line: split into chunks
      {3, 5000, 1},     // long rows
      {1000, 10, 1},    // many short rows
      {4, 7, 9},        // columns
      {2, 3000, 5},     // long columns: split
      {5, 1, 3},        // nothing to reduce
      {1, 70000, 33},   // columns, split, a partial tile
  };
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64}) {
    for (const Layout& l : layouts) {
      const std::string where = dtype_name(dtype) + " [" + std::to_string(l.outer) + ", " + std::to_string(l.reduced) +
                                ", " + std::to_string(l.inner) + "]";
      // Sums of uniform values (not ties: sums of tied values are exact and prove little).
      Pair x = dtype == DType::i64 ? random_pair({l.outer, l.reduced, l.inner}, dtype, -9, 9, 1)
                                   : random_pair({l.outer, l.reduced, l.inner}, dtype, -1, 1, 1);
      Pair sum = empty_pair({l.outer, l.inner}, dtype);
      kernels::reduce(Device::cpu(), ReduceOp::sum, x.cpu, l.outer, l.reduced, l.inner, sum.cpu, Tensor());
      kernels::reduce(Device::cuda(), ReduceOp::sum, x.cuda, l.outer, l.reduced, l.inner, sum.cuda, Tensor());
      // A sum of n terms rounds to the output dtype once on each device; allow for its size too.
      Tolerance tol = tolerance_for(dtype);
      tol.atol *= std::sqrt(static_cast<double>(l.reduced));
      expect_close(sum.cuda, sum.cpu, tol, "sum " + where);

      Pair tied = tied_values(l, dtype, 2);
      for (ReduceOp op : {ReduceOp::max, ReduceOp::min}) {
        Pair values = empty_pair({l.outer, l.inner}, dtype);
        Pair indices = empty_pair({l.outer, l.inner}, DType::i64);
        kernels::reduce(Device::cpu(), op, tied.cpu, l.outer, l.reduced, l.inner, values.cpu, indices.cpu);
        kernels::reduce(Device::cuda(), op, tied.cuda, l.outer, l.reduced, l.inner, values.cuda, indices.cuda);
        const std::string what = (op == ReduceOp::max ? "max " : "min ") + where;
        expect_pair_close(values, dtype, what);
        expect_close(indices.cuda, indices.cpu, what + " indices");
      }
    }
  }
}

TEST_CASE("CUDA max/min put a NaN first as the CPU does and an empty sum is zero") {
  VIREO_REQUIRE_GPU();
  std::vector<double> values(2 * 600, 1.0);
  values[17] = 5.0;
  values[300] = std::nan("");
  values[600 + 599] = std::nan("");
  for (DType dtype : floating_dtypes()) {
    Pair x = pair_from_values(values, {2, 600, 1}, dtype);
    Pair v = empty_pair({2, 1}, dtype), i = empty_pair({2, 1}, DType::i64);
    kernels::reduce(Device::cpu(), ReduceOp::max, x.cpu, 2, 600, 1, v.cpu, i.cpu);
    kernels::reduce(Device::cuda(), ReduceOp::max, x.cuda, 2, 600, 1, v.cuda, i.cuda);
    expect_pair_close(v, dtype, "max with NaN " + dtype_name(dtype));
    expect_close(i.cuda, i.cpu, "argmax with NaN " + dtype_name(dtype));
  }
  Tensor empty = Tensor::empty({3, 0, 2}, {.dtype = DType::f32, .device = Device::cuda()});
  Tensor sum = Tensor::empty({3, 2}, {.dtype = DType::f32, .device = Device::cuda()});
  kernels::reduce(Device::cuda(), ReduceOp::sum, empty, 3, 0, 2, sum, Tensor());
  for (double v : sum.to_vector()) CHECK(v == 0.0);
}

TEST_CASE("CUDA cumsum matches the CPU forward and reverse over block-scanned rows and short rows and columns") {
  VIREO_REQUIRE_GPU();
  const std::vector<Layout> layouts = {{3, 1000, 1}, {2, 256, 1}, {1, 4099, 1}, {40, 37, 1}, {2, 50, 6}, {3, 1, 4}};
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64}) {
    for (const Layout& l : layouts) {
      for (bool reverse : {false, true}) {
        const std::string what = "cumsum " + dtype_name(dtype) + " [" + std::to_string(l.outer) + ", " +
                                 std::to_string(l.reduced) + ", " + std::to_string(l.inner) + "]" +
                                 (reverse ? " reverse" : "");
        Pair x = dtype == DType::i64 ? random_pair({l.outer, l.reduced, l.inner}, dtype, -9, 9, 5)
                                     : random_pair({l.outer, l.reduced, l.inner}, dtype, -1, 1, 5);
        Pair out = empty_pair({l.outer, l.reduced, l.inner}, dtype);
        kernels::cumsum(Device::cpu(), x.cpu, l.outer, l.reduced, l.inner, reverse, out.cpu);
        kernels::cumsum(Device::cuda(), x.cuda, l.outer, l.reduced, l.inner, reverse, out.cuda);
        Tolerance tol = tolerance_for(dtype);
        tol.atol *= std::sqrt(static_cast<double>(l.reduced));  // partial sums near zero
        expect_close(out.cuda, out.cpu, tol, what);
      }
    }
  }
}
