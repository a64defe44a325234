// Inputs for the CUDA parity suites of the elementwise, reduction, softmax and misc kernels: the same values
// on the CPU and on the GPU. The GPU tensor holds the values in the dtype under test; the CPU tensor holds
// the same (already rounded) values in the dtype the CPU computes in — f32 for f16/bf16, which the CPU only
// stores — so that a difference in the results is the kernel's, not the inputs'.
#pragma once

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cuda/parity.h"
#include "engine/dtype.h"
#include "engine/tensor.h"

namespace vireo::test {

struct Pair {
  Tensor cpu, cuda;
};

inline std::string dtype_name(DType dtype) { return std::string(name(dtype)); }


inline Pair pair_from_values(const std::vector<double>& values, const Shape& shape, DType dtype) {
  Tensor cuda = Tensor::from_vector(values, shape, {.dtype = dtype, .device = Device::cuda()});
  return {cuda.to(Device::cpu()).to(reference_dtype(dtype)), cuda};
}

// Uniform values in [lo, hi) (integers in [lo, hi] for i64), fixed by the seed.
inline Pair random_pair(const Shape& shape, DType dtype, double lo, double hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> values(static_cast<size_t>(numel(shape)));
  for (double& v : values) v = dtype == DType::i64 ? std::floor(uniform(rng) + 0.5) : uniform(rng);
  return pair_from_values(values, shape, dtype);
}

// The same view (transpose, slice, expand …) of both tensors.
inline Pair view(const Pair& pair, const std::function<Tensor(const Tensor&)>& f) { return {f(pair.cpu), f(pair.cuda)}; }

// Fresh outputs of the same shape: the CPU's in its reference dtype.
inline Pair empty_pair(const Shape& shape, DType dtype) {
  return {Tensor::empty(shape, {.dtype = reference_dtype(dtype)}),
          Tensor::empty(shape, {.dtype = dtype, .device = Device::cuda()})};
}

// The GPU result against the CPU's, with the tolerance of the dtype under test.
inline void expect_pair_close(const Pair& result, DType dtype, const std::string& what) {
  expect_close(result.cuda, result.cpu, tolerance_for(dtype), what);
}

inline const std::vector<DType>& floating_dtypes() {
  static const std::vector<DType> dtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};
  return dtypes;
}

}  // namespace vireo::test
