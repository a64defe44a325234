// The CUDA batched GEMM (engine/cuda/gemm.cpp).
//
// On the CPU (always): the row-major → column-major mapping of engine/cuda/gemm_plan.h, checked by running a
// plain column-major GEMM with exactly the parameters cuBLAS would get and comparing with the CPU's
// row-major reference; and the batch plan, checked against the per-index offsets the CPU kernel computes.
// On a GPU (skipped without one): kernels::batched_gemm on CUDA against the CPU kernel, every transpose
// combination, broadcast and non-uniformly strided batches, padded row strides, bias on and off, beta 0
// (out holding NaN) and 1, in f32, f64, f16 and bf16.
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cuda/parity.h"
#include "gradcheck.h"
#include "engine/cpu/gemm.h"
#include "engine/cuda/gemm_plan.h"
#include "engine/kernels/linalg.h"
#include "engine/ops.h"

using namespace vireo;

namespace {

// cuBLAS's semantics, written out: column-major C[m × n] = op(A) · op(B) + beta · C, element (i, j) of a
// column-major X with leading dimension ld at X[i + j·ld].
void column_major_gemm_reference(bool trans_first, bool trans_second, int64_t m, int64_t n, int64_t k,
                                 const double* first, int64_t ld_first, const double* second, int64_t ld_second,
                                 double beta, double* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double x = trans_first ? first[p + i * ld_first] : first[i + p * ld_first];
        const double y = trans_second ? second[j + p * ld_second] : second[p + j * ld_second];
        acc += x * y;
      }
      c[i + j * ldc] = acc + (beta == 0.0 ? 0.0 : beta * c[i + j * ldc]);
    }
}

// Element offset of batch index `flat` (row-major over batch_shape) with these strides: the CPU kernel's rule.
int64_t naive_batch_offset(int64_t flat, const Shape& batch_shape, const Shape& strides) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(batch_shape.size()) - 1; d >= 0; --d) {
    offset += flat % batch_shape[d] * strides[d];
    flat /= batch_shape[d];
  }
  return offset;
}

}  // namespace

TEST_CASE("cuda gemm mapping: the swapped column-major call computes the row-major product") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true})
      for (int64_t M : {1, 3, 7})
        for (int64_t N : {1, 5, 8})
          for (int64_t K : {1, 4, 9})
            for (int64_t pad : {0, 3}) {
              // Row-major storage with padded rows (leading dimension = columns + pad).
              const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
              const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
              const int64_t lda = cuda::row_major_leading_dimension(a_rows, a_cols, a_cols + pad);
              const int64_t ldb = cuda::row_major_leading_dimension(b_rows, b_cols, b_cols + pad);
              const int64_t ldc = cuda::row_major_leading_dimension(M, N, N + pad);
              std::vector<double> a(a_rows * lda), b(b_rows * ldb), c(M * ldc);
              for (double& v : a) v = uniform(rng);
              for (double& v : b) v = uniform(rng);
              for (double& v : c) v = uniform(rng);
              for (double beta : {0.0, 1.0}) {
                std::vector<double> want = c, got = c;
                cpu::gemm_reference(trans_a, trans_b, M, N, K, 1.0, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
                const cuda::ColumnMajorGemm call = cuda::column_major_gemm(trans_a, trans_b, M, N, K, lda, ldb, ldc);
                CHECK_NOTHROW(cuda::check_leading_dimensions("test", call));
                REQUIRE(call.first_is_b);
                column_major_gemm_reference(call.transpose_first, call.transpose_second, call.m, call.n, call.k,
                                            b.data(), call.ld_first, a.data(), call.ld_second, beta, got.data(),
                                            call.ldc);
                for (size_t i = 0; i < got.size(); ++i)
                  REQUIRE_MESSAGE(std::abs(got[i] - want[i]) <= 1e-12, "trans_a ", trans_a, " trans_b ", trans_b, " M ",
                                  M, " N ", N, " K ", K, " pad ", pad, " beta ", beta, " element ", i);
              }
            }
}

TEST_CASE("cuda gemm mapping: leading dimensions cuBLAS would refuse are named") {
  // b [K=4 × N=6] with a row stride of 5 overlaps its rows.
  const cuda::ColumnMajorGemm bad_b = cuda::column_major_gemm(false, false, 3, 6, 4, 4, 5, 6);
  vireo::testing::check_error([&] { cuda::check_leading_dimensions("batched_gemm", bad_b); },
                              {"batched_gemm", "b's row stride 5", "row length 6"});
  const cuda::ColumnMajorGemm bad_out = cuda::column_major_gemm(false, false, 3, 6, 4, 4, 6, 2);
  vireo::testing::check_error([&] { cuda::check_leading_dimensions("batched_gemm", bad_out); },
                              {"out's row stride 2"});
  // A single row may have any stride: the leading dimension becomes its length.
  CHECK(cuda::row_major_leading_dimension(1, 6, 0) == 6);
  CHECK(cuda::row_major_leading_dimension(0, 0, 0) == 1);
  CHECK(cuda::row_major_leading_dimension(4, 6, 9) == 9);
}

TEST_CASE("cuda gemm batch plan: uniform strides give one strided-batched call") {
  // Contiguous [2, 3] batches of 4×5 matrices (20 elements each), a broadcast over both batch dimensions.
  const cuda::BatchPlan contiguous = cuda::plan_batches({2, 3}, {Shape{60, 20}, Shape{0, 0}, Shape{60, 20}});
  CHECK(contiguous.uniform());
  CHECK(contiguous.inner_count == 6);
  CHECK(contiguous.inner_stride == std::array<int64_t, 3>{20, 0, 20});
  // Size-1 dimensions step nothing, whatever their stride.
  const cuda::BatchPlan ones = cuda::plan_batches({1, 3, 1}, {Shape{999, 20, 7}, Shape{5, 30, 1}, Shape{0, 20, 3}});
  CHECK(ones.uniform());
  CHECK(ones.inner_count == 3);
  CHECK(ones.inner_stride == std::array<int64_t, 3>{20, 30, 20});
  // No batch dimension: one product.
  const cuda::BatchPlan single = cuda::plan_batches({}, {Shape{}, Shape{}, Shape{}});
  CHECK(single.uniform());
  CHECK(single.total() == 1);
  // An empty batch.
  CHECK(cuda::plan_batches({2, 0}, {Shape{0, 0}, Shape{0, 0}, Shape{0, 0}}).total() == 0);
}

TEST_CASE("cuda gemm batch plan: partial broadcasts and gaps loop over the outer dimensions") {
  // a broadcast along the inner batch dimension only ([2, 1] expanded to [2, 3]): an outer loop of 2.
  const cuda::BatchPlan partial = cuda::plan_batches({2, 3}, {Shape{20, 0}, Shape{60, 20}, Shape{60, 20}});
  CHECK_FALSE(partial.uniform());
  CHECK(partial.inner_count == 3);
  CHECK(partial.outer_count() == 2);
  CHECK(partial.outer_offsets(1) == std::array<int64_t, 3>{20, 60, 60});
  // out a slice of a larger batch (a gap between the rows of batches).
  const cuda::BatchPlan gap = cuda::plan_batches({4, 3}, {Shape{60, 20}, Shape{60, 20}, Shape{100, 20}});
  CHECK(gap.inner_count == 3);
  CHECK(gap.outer_count() == 4);

  // Every plan reproduces the CPU's offset of every batch index, for random layouts.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 500; ++trial) {
    const int rank = static_cast<int>(rng() % 4);
    Shape batch_shape(rank);
    for (int64_t& extent : batch_shape) extent = 1 + rng() % 4;
    std::array<Shape, 3> strides;
    for (int k = 0; k < 3; ++k) {
      // Contiguous strides, then randomly broadcast (0) or padded dimensions.
      strides[k].resize(rank);
      int64_t step = 12;
      for (int d = rank - 1; d >= 0; --d) {
        const int choice = static_cast<int>(rng() % 4);
        strides[k][d] = choice == 0 ? 0 : step;
        step *= batch_shape[d] + (choice == 1 ? 1 : 0);
      }
    }
    const cuda::BatchPlan plan = cuda::plan_batches(batch_shape, strides);
    int64_t total = 1;
    for (int64_t extent : batch_shape) total *= extent;
    REQUIRE(plan.total() == total);
    for (int64_t flat = 0; flat < total; ++flat) {
      const int64_t outer = flat / plan.inner_count, inner = flat % plan.inner_count;
      const auto base = plan.outer_offsets(outer);
      for (int k = 0; k < 3; ++k)
        REQUIRE(base[k] + inner * plan.inner_stride[k] == naive_batch_offset(flat, batch_shape, strides[k]));
    }
  }
}

// ---- GPU parity ----

namespace {

// A random CPU tensor in `dtype` (16-bit types rounded from f32 draws).
Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype) {
  Generator generator(seed);
  return randn(shape, {.dtype = DType::f32}, &generator).to(dtype);
}

// The CPU computes 16-bit cases in f32 from the same (rounded) values.
DType cpu_dtype(DType dtype) { return dtype == DType::f16 || dtype == DType::bf16 ? DType::f32 : dtype; }

struct GemmCase {
  const char* name;
  Shape a_base, b_base, out_base;
  // Views of the base tensors as the kernel gets them (the same function on both devices).
  std::function<Tensor(const Tensor&)> a_view, b_view, out_view;
  bool trans_a, trans_b;
};

Tensor identity(const Tensor& x) { return x; }

void run_gemm_case(const GemmCase& c, DType dtype, bool with_bias, double beta) {
  const Tensor a_base = random_tensor(c.a_base, 1, dtype), b_base = random_tensor(c.b_base, 2, dtype);
  Tensor out_base = random_tensor(c.out_base, 3, dtype);
  if (beta == 0.0) out_base.fill_(std::numeric_limits<double>::quiet_NaN());  // must be ignored
  const int64_t n = c.out_view(out_base).shape().back();
  const Tensor bias = with_bias ? random_tensor({n}, 4, dtype) : Tensor();

  const Device gpu = Device::cuda();
  const Tensor gpu_out = out_base.to(gpu);
  const Tensor cpu_out = out_base.to(cpu_dtype(dtype)).clone();  // to() may return out_base itself
  kernels::batched_gemm(Device::cpu(), c.a_view(a_base.to(cpu_dtype(dtype))), c.trans_a,
                        c.b_view(b_base.to(cpu_dtype(dtype))), c.trans_b,
                        with_bias ? bias.to(cpu_dtype(dtype)) : Tensor(), c.out_view(cpu_out), beta);

  kernels::batched_gemm(gpu, c.a_view(a_base.to(gpu)), c.trans_a, c.b_view(b_base.to(gpu)), c.trans_b,
                        with_bias ? bias.to(gpu) : Tensor(), c.out_view(gpu_out), beta);
  // The whole base: the rows' padding must be untouched too.
  test::expect_close(gpu_out.to(Device::cpu()).to(cpu_dtype(dtype)), cpu_out, test::tolerance_for(dtype),
                     std::string(c.name) + " " + std::string(name(dtype)) + (with_bias ? " bias" : "") + " beta " +
                         std::to_string(beta));
}

std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> cases;
  // Plain: [3] batch, M 7, N 13, K 5, every transpose combination (a transposed operand is its base).
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      cases.push_back({"batch 3 transposes", ta ? Shape{3, 5, 7} : Shape{3, 7, 5}, tb ? Shape{3, 13, 5} : Shape{3, 5, 13},
                       {3, 7, 13}, identity, identity, identity, ta, tb});
  // b broadcast over the batch (stride 0: one strided-batched call), transposed.
  cases.push_back({"broadcast b", {2, 3, 7, 5}, {13, 5}, {2, 3, 7, 13}, identity,
                   [](const Tensor& b) { return b.expand({2, 3, 13, 5}); }, identity, false, true});
  // a broadcast along the inner batch dimension only: a host loop over the outer one.
  cases.push_back({"partial broadcast a", {2, 1, 5, 7}, {2, 3, 5, 13}, {2, 3, 7, 13},
                   [](const Tensor& a) { return a.expand({2, 3, 5, 7}); }, identity, identity, true, false});
  // Padded row strides everywhere (slices of wider matrices) and a batch slice with a gap.
  cases.push_back({"padded rows and batch gap", {3, 7, 9}, {3, 5, 16}, {5, 7, 15},
                   [](const Tensor& a) { return a.slice(2, 0, 5); }, [](const Tensor& b) { return b.slice(2, 2, 15); },
                   [](const Tensor& o) { return o.slice(0, 0, 5, 2).slice(2, 1, 14); }, false, false});
  // Matrix-vector shapes: one row (M 1) and one column (N 1).
  cases.push_back({"single row", {1, 5}, {5, 13}, {1, 13}, identity, identity, identity, false, false});
  cases.push_back({"single column", {7, 5}, {1, 5}, {7, 1}, identity, identity, identity, false, true});
  return cases;
}

}  // namespace

TEST_CASE("cuda gemm parity: f32 and f64 match the CPU kernel for every layout with bias and beta") {
  VIREO_REQUIRE_GPU();
  REQUIRE_FALSE(cuda::allow_tf32());  // FP32 math, or the f32 tolerance would not hold
  for (const GemmCase& c : gemm_cases())
    for (DType dtype : {DType::f32, DType::f64})
      for (bool with_bias : {false, true})
        for (double beta : {0.0, 1.0}) run_gemm_case(c, dtype, with_bias, beta);
}

TEST_CASE("cuda gemm parity: f16 and bf16 accumulate in f32 and round once") {
  VIREO_REQUIRE_GPU();
  // beta 1 and a bias together round out + bias to 16 bits before the product is added (one more rounding
  // than the f32 reference), so each is checked on its own.
  for (const GemmCase& c : gemm_cases())
    for (DType dtype : {DType::f16, DType::bf16}) {
      run_gemm_case(c, dtype, false, 0.0);
      run_gemm_case(c, dtype, true, 0.0);
      run_gemm_case(c, dtype, false, 1.0);
    }
}

TEST_CASE("cuda gemm parity: an empty inner dimension gives beta times out plus the bias") {
  VIREO_REQUIRE_GPU();
  const GemmCase c{"K 0", {3, 7, 0}, {3, 0, 13}, {3, 7, 13}, identity, identity, identity, false, false};
  for (double beta : {0.0, 1.0}) run_gemm_case(c, DType::f32, true, beta);
}

TEST_CASE("cuda gemm parity: matmul forward and backward match the CPU") {
  VIREO_REQUIRE_GPU();
  // Through the op: the backward products are batched_gemm calls with transposed operands. (No batch
  // broadcast, whose gradient would need the CUDA reductions too.)
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor a = random_tensor({3, 7, 5}, 5, dtype), b = random_tensor({3, 5, 11}, 6, dtype);
    const Tensor grad = random_tensor({3, 7, 11}, 7, dtype);
    auto run = [&](Device device) {
      Tensor x = a.clone().to(device).requires_grad_(), y = b.clone().to(device).requires_grad_();  // fresh leaves per device
      Tensor out = matmul(x, y);
      out.backward(grad.to(device));
      return std::vector<Tensor>{out.detach(), x.grad(), y.grad()};
    };
    const auto cpu = run(Device::cpu()), gpu = run(Device::cuda());
    const char* names[] = {"matmul", "matmul grad a", "matmul grad b"};
    for (int i = 0; i < 3; ++i) test::expect_close(gpu[i].to(Device::cpu()), cpu[i], names[i]);
  }
}
