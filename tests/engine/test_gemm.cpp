// The CPU GEMM (engine/cpu/gemm.h) against its plain reference twin, cpu::gemm_reference: every
// transpose combination, odd and edge sizes (partial micro-tiles, several K/M/N cache blocks), padded
// leading dimensions, alpha and beta, beta = 0 over a NaN-filled C, inside and outside an OpenMP
// parallel region, f32 and f64, and the same bits for any thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <array>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/parallel.h"

using vireo::cpu::gemm;
using vireo::cpu::gemm_reference;

namespace {

struct Case {
  bool trans_a = false, trans_b = false;
  int64_t m = 1, n = 1, k = 1;
  double alpha = 1.0, beta = 0.0;
  int64_t pad = 0;          // extra elements at the end of every row (lda, ldb, ldc larger than the width)
  bool nan_c = false;       // fill C with NaN (only meaningful with beta = 0)
  bool bias = false;        // pass a row bias (the fused epilogue)
};

template <class T>
struct Operands {
  std::vector<T> a, b, c, bias;
  int64_t lda, ldb, ldc;
};

template <class T>
Operands<T> make_operands(const Case& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Operands<T> o;
  const int64_t a_rows = s.trans_a ? s.k : s.m, a_cols = s.trans_a ? s.m : s.k;
  const int64_t b_rows = s.trans_b ? s.n : s.k, b_cols = s.trans_b ? s.k : s.n;
  o.lda = a_cols + s.pad;
  o.ldb = b_cols + s.pad;
  o.ldc = s.n + s.pad;
  o.a.resize(std::max<int64_t>(1, a_rows * o.lda));
  o.b.resize(std::max<int64_t>(1, b_rows * o.ldb));
  o.c.resize(std::max<int64_t>(1, s.m * o.ldc));
  for (T& v : o.a) v = static_cast<T>(uniform(rng));
  for (T& v : o.b) v = static_cast<T>(uniform(rng));
  for (T& v : o.c) v = s.nan_c ? std::numeric_limits<T>::quiet_NaN() : static_cast<T>(uniform(rng));
  if (s.bias) {
    o.bias.resize(s.n);
    for (T& v : o.bias) v = static_cast<T>(uniform(rng));
  }
  return o;
}

// Runs the fast kernel and the reference on copies of the same operands and compares C element by
// element (padding included: it must be left untouched). The allowed error is the classic bound for a
// K-term dot product, (K + 2)·ε·(|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|), which an indexing or packing
// mistake (an error the size of one whole product) exceeds by orders of magnitude.
template <class T>
int64_t count_mismatches(const Case& s, uint32_t seed = 1) {
  Operands<T> o = make_operands<T>(s, seed);
  std::vector<T> fast = o.c, expected = o.c;
  const T alpha = static_cast<T>(s.alpha), beta = static_cast<T>(s.beta);
  const T* bias = s.bias ? o.bias.data() : nullptr;
  gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, o.a.data(), o.lda, o.b.data(), o.ldb, beta, fast.data(), o.ldc,
       bias);
  gemm_reference(s.trans_a, s.trans_b, s.m, s.n, s.k, alpha, o.a.data(), o.lda, o.b.data(), o.ldb, beta,
                 expected.data(), o.ldc, bias);
  const double eps = std::numeric_limits<T>::epsilon();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < o.ldc; ++j) {
      const int64_t at = i * o.ldc + j;
      if (j >= s.n) {  // padding: untouched (NaN compares unequal to itself, so compare bits)
        if (std::memcmp(&fast[at], &o.c[at], sizeof(T)) != 0) ++mismatches;
        continue;
      }
      double magnitude = 0.0;
      for (int64_t p = 0; p < s.k; ++p)
        magnitude += std::abs(static_cast<double>(s.trans_a ? o.a[p * o.lda + i] : o.a[i * o.lda + p]) *
                              static_cast<double>(s.trans_b ? o.b[j * o.ldb + p] : o.b[p * o.ldb + j]));
      const double c0 = (s.beta == 0.0 ? 0.0 : std::abs(s.beta * static_cast<double>(o.c[at]))) +
                        (s.bias ? std::abs(static_cast<double>(o.bias[j])) : 0.0);
      const double allowed = (static_cast<double>(s.k) + 2.0) * eps * (std::abs(s.alpha) * magnitude + c0) + 1e-30;
      const double error = std::abs(static_cast<double>(fast[at]) - static_cast<double>(expected[at]));
      if (!(error <= allowed)) ++mismatches;  // NaN in the result counts as a mismatch
    }
  return mismatches;
}

template <class T>
void check_case(const Case& s) {
  INFO("trans_a=", s.trans_a, " trans_b=", s.trans_b, " m=", s.m, " n=", s.n, " k=", s.k, " alpha=", s.alpha,
       " beta=", s.beta, " pad=", s.pad, " nan_c=", s.nan_c, " bias=", s.bias);
  CHECK(count_mismatches<T>(s) == 0);
}

const int64_t kOddSizes[] = {1, 3, 13, 17, 31, 33, 65, 127, 255, 257};

}  // namespace

TEST_CASE("gemm f32: every transpose combination over odd sizes") {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t m : kOddSizes)
        for (int64_t n : kOddSizes)
          for (int64_t k : {int64_t{1}, int64_t{17}, int64_t{257}}) {
            if (m * n * k > 4'000'000) continue;  // the reference loop is slow; big cases come below
            check_case<float>({ta, tb, m, n, k});
          }
}

TEST_CASE("gemm f32: sizes spanning several cache blocks and partial tiles") {
  // K over two and three K blocks, M over several M blocks, N over two N blocks.
  const Case cases[] = {
      {false, false, 29, 47, 300}, {true, false, 29, 47, 600},  {false, true, 29, 47, 777},
      {true, true, 43, 35, 513},   {false, false, 700, 33, 40}, {true, true, 701, 17, 65},
      {false, false, 5, 4100, 9},  {false, true, 3, 4099, 33},  {true, false, 255, 257, 129},
  };
  for (bool pad : {false, true})
    for (Case s : cases) {
      s.pad = pad ? 7 : 0;
      check_case<float>(s);
    }
}

TEST_CASE("gemm: alpha beta padded leading dimensions NaN in C with beta = 0") {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 1.0, 0.5})
        for (double alpha : {1.0, -0.75})
          for (int64_t pad : {0, 5}) {
            const Case s{ta, tb, 37, 45, 70, alpha, beta, pad, false};
            check_case<float>(s);
            check_case<double>(s);
            if (beta == 0.0) {
              Case nan_case = s;
              nan_case.nan_c = true;
              check_case<float>(nan_case);
              check_case<double>(nan_case);
            }
          }
}

TEST_CASE("gemm: fused row bias") {
  // Through the packed kernel (several K blocks: the bias must be added exactly once), the vector
  // shapes (m == 1, n == 1) and k == 0.
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 0.5}) {
        for (auto [m, n, k] : {std::array<int64_t, 3>{37, 45, 70}, {19, 70, 600}, {1, 45, 70}, {37, 1, 70},
                               {1, 1, 70}, {5, 6, 0}}) {
          const Case s{ta, tb, m, n, k, 0.5, beta, 3, beta == 0.0, true};
          check_case<float>(s);
          check_case<double>(s);
        }
      }
}

TEST_CASE("gemm: empty dimensions") {
  // k = 0: C = beta·C (zeros when beta = 0, even over NaN); m or n = 0: nothing is touched.
  for (double beta : {0.0, 0.5}) {
    check_case<float>({false, false, 13, 17, 0, 1.0, beta});
    check_case<double>({true, true, 13, 17, 0, 1.0, beta});
    check_case<float>({false, true, 13, 17, 0, 1.0, 0.0, 3, true});
  }
  std::vector<float> c(4, 3.0f), a(4, 1.0f), b(4, 1.0f);
  gemm(false, false, 0, 2, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  gemm(false, false, 2, 0, 2, 1.0f, a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  for (float v : c) CHECK(v == 3.0f);
}

TEST_CASE("gemm f64: transpose combinations and odd sizes") {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t size : {1, 13, 33, 127})
        check_case<double>({ta, tb, size, size + 4, size + 1, 1.5, 0.5});
}

TEST_CASE("gemm inside an OpenMP parallel region runs on the calling thread") {
  // Each thread multiplies its own operands into its own C; every result must match the reference.
  std::vector<int64_t> mismatches(4, -1);
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < 4; ++t) {
    CHECK(vireo::cpu::in_parallel_region());
    Case s{t % 2 == 1, t / 2 == 1, 150, 170, 130, 1.0, 0.5};
    mismatches[t] = count_mismatches<float>(s, 10 + t) + count_mismatches<double>(s, 20 + t);
  }
  for (int64_t value : mismatches) CHECK(value == 0);
}

TEST_CASE("gemm gives the same bits for any thread count") {
#ifdef _OPENMP
  const int saved = omp_get_max_threads();
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const Case s{ta, tb, 301, 333, 600, 1.0, 0.0};  // several M and K blocks
      // The matrix-vector path (parallel over the rows of M) must be thread-count independent too.
      const Case vector_case{ta, tb, 1, 40000, 70, 1.0, 0.0};
      Operands<float> o = make_operands<float>(s, 5);
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 3}) {
        omp_set_num_threads(threads);
        std::vector<float> c = o.c;
        gemm(ta, tb, s.m, s.n, s.k, 1.0f, o.a.data(), o.lda, o.b.data(), o.ldb, 0.0f, c.data(), o.ldc);
        results.push_back(c);
      }
      omp_set_num_threads(saved);
      CHECK(std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)) == 0);
      CHECK(std::memcmp(results[0].data(), results[2].data(), results[0].size() * sizeof(float)) == 0);
      CHECK(count_mismatches<float>(s, 5) == 0);
      Operands<float> v = make_operands<float>(vector_case, 6);
      std::vector<std::vector<float>> vector_results;
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        std::vector<float> c = v.c;
        gemm(ta, tb, 1, vector_case.n, vector_case.k, 1.0f, v.a.data(), v.lda, v.b.data(), v.ldb, 0.0f, c.data(),
             v.ldc);
        vector_results.push_back(c);
      }
      omp_set_num_threads(saved);
      CHECK(vector_results[0] == vector_results[1]);
    }
#else
  CHECK(count_mismatches<float>({false, false, 301, 333, 290}) == 0);
#endif
}
