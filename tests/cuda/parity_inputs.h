// Inputs for the CUDA parity suites: random tensors made on the CPU (so both devices see the same values),
// moved to the GPU, and the CPU reference dtype of a 16-bit type (the CPU kernels compute in f32 and f64;
// a bf16 or f16 input is compared against the f32 CPU result on the same, already rounded, values).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda/parity.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/tensor.h"

namespace vireo::test {

// N(0, scale²) values drawn in f64 from `seed` and stored in `dtype`, on the CPU.
inline Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double scale = 1.0) {
  Generator generator(seed);
  Tensor t = randn(shape, {DType::f64}, &generator);
  if (scale != 1.0) t.mul_(scale);
  return t.to(dtype);
}

inline Tensor on_cuda(const Tensor& t) { return t.to(Device::cuda()); }
inline Tensor on_cpu(const Tensor& t) { return t.to(Device::cpu()); }

// A tensor (any device) as a CPU tensor of the reference dtype.
inline Tensor reference(const Tensor& t) { return on_cpu(t).to(reference_dtype(t.dtype())); }

// A CPU f64 copy with ±∞ replaced by ±1e300, so that expect_close sees equal infinities as equal (a fully
// masked attention row's log-sum-exp is +∞ on both devices).
inline Tensor without_infinities(const Tensor& t) {
  std::vector<double> values = t.to_vector();
  for (double& x : values)
    if (std::isinf(x)) x = x > 0 ? 1e300 : -1e300;
  return Tensor::from_vector(values, t.shape(), {DType::f64});
}

}  // namespace vireo::test
