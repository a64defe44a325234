// GEMM throughput: Vireo's packed kernel (vireo::cpu::gemm) beside Eigen's product on the same operands.
//
//   OMP_NUM_THREADS=1 build/bin/bench_gemm
//   OMP_NUM_THREADS=2 build/bin/bench_gemm
//
// For each shape: GFLOP/s = 2·M·N·K / time, the median over several timed batches (each batch long
// enough, ~20 ms, for the clock to be exact), after a warm-up call that grows the packing buffers.
// GCC 12 reports its own AVX-512 headers (_mm512_undefined_ps) as maybe-uninitialized inside Eigen.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <eigen3/Eigen/Core>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/cpu/parallel.h"

namespace {

struct Shape {
  int64_t m, n, k;
  bool trans_a, trans_b;
  const char* note;
};

void eigen_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<Matrix, 0, Stride> C(c, m, n, Stride(ldc));
  if (beta == 0.0f) C.setZero();
  else if (beta != 1.0f) C *= beta;
  auto A = Eigen::Map<const Matrix, 0, Stride>(a, trans_a ? k : m, trans_a ? m : k, Stride(lda));
  auto B = Eigen::Map<const Matrix, 0, Stride>(b, trans_b ? n : k, trans_b ? k : n, Stride(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

template <class F>
double median_gflops(const Shape& s, F&& call) {
  using Clock = std::chrono::steady_clock;
  call();  // warm-up
  const auto start = Clock::now();
  call();
  const double once = std::chrono::duration<double>(Clock::now() - start).count();
  const int per_batch = std::max(1, static_cast<int>(0.02 / std::max(once, 1e-9)));
  std::vector<double> rates;
  for (int rep = 0; rep < 9; ++rep) {
    const auto t0 = Clock::now();
    for (int i = 0; i < per_batch; ++i) call();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count() / per_batch;
    rates.push_back(2.0 * s.m * s.n * s.k / seconds * 1e-9);
  }
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

}  // namespace

int main() {
  // Eigen allocates its packing buffers on every call. With glibc's default thresholds some sizes (256³
  // here) land just above the heap-trim threshold, so every call returns the memory to the system and
  // faults it back in, and Eigen measures 4× slower than it is. Keep freed memory in the process so the
  // baseline is Eigen's kernel, not the allocator.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  std::vector<Shape> shapes;
  for (int64_t n : {64, 128, 256, 512, 1024, 2048}) shapes.push_back({n, n, n, false, false, "square"});
  shapes.push_back({512, 512, 512, true, false, "square, A^T"});
  shapes.push_back({512, 512, 512, false, true, "square, B^T"});
  shapes.push_back({512, 512, 512, true, true, "square, A^T B^T"});
  shapes.push_back({64, 1024, 576, false, false, "conv 3x3 64ch, 32x32"});
  shapes.push_back({512, 64, 4608, false, false, "conv 3x3 512ch, 8x8"});
  shapes.push_back({128, 256, 1152, false, false, "conv 3x3 128ch, 16x16"});
  shapes.push_back({576, 1024, 64, true, false, "conv dW-like (A^T)"});
  shapes.push_back({64, 576, 1024, false, true, "conv dW (B^T)"});
  shapes.push_back({4096, 512, 512, false, true, "linear 512->512, 4096 rows"});
  shapes.push_back({4096, 512, 512, false, false, "linear dx"});
  shapes.push_back({512, 512, 4096, true, false, "linear dW (A^T)"});
  shapes.push_back({197, 197, 64, false, true, "attention QK^T"});
  shapes.push_back({197, 64, 197, false, false, "attention PV"});

  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::printf("threads: %d\n", vireo::cpu::max_threads());
  std::printf("%6s %6s %6s  %-4s %-28s %10s %10s %7s\n", "M", "N", "K", "op", "shape", "packed", "eigen", "ratio");
  for (const Shape& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n, 0.0f);
    for (float& v : a) v = uniform(rng);
    for (float& v : b) v = uniform(rng);
    const int64_t lda = s.trans_a ? s.m : s.k, ldb = s.trans_b ? s.k : s.n;
    const double packed = median_gflops(s, [&] {
      vireo::cpu::gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
    });
    const double eigen = median_gflops(s, [&] {
      eigen_gemm(s.trans_a, s.trans_b, s.m, s.n, s.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s.n);
    });
    const std::string op = std::string(s.trans_a ? "T" : "N") + (s.trans_b ? "T" : "N");
    std::printf("%6lld %6lld %6lld  %-4s %-28s %10.1f %10.1f %7.2f\n", static_cast<long long>(s.m),
                static_cast<long long>(s.n), static_cast<long long>(s.k), op.c_str(), s.note, packed, eigen,
                packed / eigen);
  }
  return 0;
}
