// What the CUDA parity suites share: the skip when no GPU is usable, and the comparison of a CUDA result with
// the CPU's. Every suite runs an op on random inputs on both devices and compares, forward and backward, with
// the tolerance its dtype allows (kTolerance).
//
// Skipping: a test that needs a GPU starts with VIREO_REQUIRE_GPU(). Without one it prints why and exits with
// code 77, which CTest reports as "Skipped" (tests/CMakeLists.txt sets SKIP_RETURN_CODE 77 for this folder):
// a missing GPU never reads as a pass.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

#include "engine/cuda/runtime.h"
#include "engine/device.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace vireo::test {

inline void require_gpu() {
  if (cuda_available()) return;
  std::string why;
  for (const std::string& line : cuda::cuda_summary()) why += "\n  " + line;
  std::printf("SKIPPED: this test needs a GPU and none is usable:%s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(77);
}

// Per-dtype tolerances of a CUDA result against the CPU's: |cuda − cpu| ≤ atol + rtol·|cpu|. f32 allows for a
// different summation order (cuBLAS, cuDNN and tree reductions against the CPU's blocked sums); the 16-bit
// types allow for their 8 (bf16) or 11 (f16) significant bits.
struct Tolerance {
  double rtol, atol;
};
inline Tolerance tolerance_for(DType dtype) {
  switch (dtype) {
    case DType::f64: return {1e-10, 1e-12};
    case DType::f32: return {1e-4, 1e-5};
    case DType::f16: return {2e-3, 1e-3};
    case DType::bf16: return {1.6e-2, 1e-2};
    default: return {0.0, 0.0};  // integers and bools: exactly equal
  }
}

// The CPU reference of a 16-bit input: the CPU kernels compute in f32 and f64 only, so a bf16 or f16 input is
// compared against the f32 CPU result on the same, already rounded, values.
inline bool is_16bit(DType dtype) { return dtype == DType::f16 || dtype == DType::bf16; }
inline DType reference_dtype(DType dtype) { return is_16bit(dtype) ? DType::f32 : dtype; }

// Checks every element of `cuda_result` (any device) against `cpu_result`, reporting the worst element.
inline void expect_close(const Tensor& cuda_result, const Tensor& cpu_result, Tolerance tol, const std::string& what) {
  REQUIRE_MESSAGE(cuda_result.shape() == cpu_result.shape(), what, ": shapes differ");
  const auto got = cuda_result.to_vector(), want = cpu_result.to_vector();
  double worst = 0.0;
  int64_t worst_at = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    // Equal values (the same infinity included) and two NaNs agree.
    const bool same = got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i]));
    const double excess = same ? 0.0 : std::abs(got[i] - want[i]) - (tol.atol + tol.rtol * std::abs(want[i]));
    if (excess > worst || std::isnan(excess)) {
      worst = std::isnan(excess) ? INFINITY : excess;
      worst_at = static_cast<int64_t>(i);
    }
  }
  CHECK_MESSAGE(worst_at < 0, what, ": element ", worst_at, " is ", worst_at < 0 ? 0.0 : got[worst_at], " on CUDA and ",
                worst_at < 0 ? 0.0 : want[worst_at], " on the CPU (rtol ", tol.rtol, ", atol ", tol.atol, ")");
}
inline void expect_close(const Tensor& cuda_result, const Tensor& cpu_result, const std::string& what) {
  expect_close(cuda_result, cpu_result, tolerance_for(cpu_result.dtype()), what);
}

}  // namespace vireo::test

#define VIREO_REQUIRE_GPU() ::vireo::test::require_gpu()
