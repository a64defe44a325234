#include "engine/ops/creation.h"

#include <cmath>
#include <numeric>

#include "engine/kernels/copy.h"
#include "engine/kernels/random.h"
#include "engine/ops.h"

namespace vireo {

Tensor empty(const Shape& shape, TensorOptions options) { return Tensor::empty(shape, options); }

Tensor full(const Shape& shape, double value, TensorOptions options) {
  Tensor out = Tensor::empty(shape, {options.dtype, options.device});
  kernels::fill(options.device, out, value);
  if (options.requires_grad) out.requires_grad_();
  return out;
}

Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return Tensor::from_vector(std::vector<double>(values), {static_cast<int64_t>(values.size())}, options);
}

Tensor empty_like(const Tensor& like) { return Tensor::empty(like.shape(), like.options()); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.options()); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), like.options()); }
Tensor full_like(const Tensor& like, double value) { return full(like.shape(), value, like.options()); }

Tensor arange(double start, double end, double step, TensorOptions options) {
  VIREO_CHECK(step != 0, "arange: step must be nonzero");
  VIREO_CHECK((end - start) * step >= 0, "arange: the range [", start, ", ", end, ") cannot be walked with step ", step);
  const auto n = static_cast<int64_t>(std::ceil((end - start) / step));
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = start + static_cast<double>(i) * step;
  return Tensor::from_vector(values, {n}, options);
}

Tensor arange(int64_t end, TensorOptions options) { return arange(0.0, static_cast<double>(end), 1.0, options); }

Tensor linspace(double start, double end, int64_t steps, TensorOptions options) {
  VIREO_CHECK(steps >= 0, "linspace: steps must be non-negative, got ", steps);
  std::vector<double> values(steps);
  const double delta = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  // Both ends exact, as torch: the second half is computed from the end.
  for (int64_t i = 0; i < steps; ++i)
    values[i] = i < steps / 2 ? start + delta * static_cast<double>(i) : end - delta * static_cast<double>(steps - 1 - i);
  return Tensor::from_vector(values, {steps}, options);
}

Tensor eye(int64_t n, TensorOptions options) {
  std::vector<double> values(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) values[i * n + i] = 1.0;
  return Tensor::from_vector(values, {n, n}, options);
}

namespace {
Tensor random_tensor(const Shape& shape, TensorOptions options, Generator* generator, kernels::Distribution distribution,
                     const char* op) {
  // The random streams are defined for f32 and f64 (engine/kernels/random.h); checked before the generator
  // advances, so a refused call consumes no randomness.
  VIREO_CHECK(options.dtype == DType::f32 || options.dtype == DType::f64, op, ": dtype ", options.dtype,
              " is not supported; draw f32 or f64 values and convert them with Tensor::to");
  Generator& g = generator ? *generator : default_generator();
  Tensor out = Tensor::empty(shape, {options.dtype, options.device});
  const uint64_t first = g.reserve(kernels::random_blocks_needed(distribution, options.dtype, out.numel()));
  kernels::random_fill(options.device, out, distribution, g, first);
  if (options.requires_grad) out.requires_grad_();
  return out;
}
}  // namespace

Tensor rand(const Shape& shape, TensorOptions options, Generator* generator) {
  return random_tensor(shape, options, generator, kernels::Distribution::uniform, "rand");
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* generator) {
  return random_tensor(shape, options, generator, kernels::Distribution::normal, "randn");
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator* generator) {
  VIREO_CHECK(low < high, "randint: empty range [", low, ", ", high, ")");
  // floor(low + u·(high − low)) from f64 uniforms: exact for any range below 2^53.
  Tensor u = rand(shape, {.dtype = DType::f64}, generator);
  std::vector<double> values = u.to_vector();
  for (double& v : values) v = std::floor(static_cast<double>(low) + v * static_cast<double>(high - low));
  return Tensor::from_vector(values, shape, options);
}

Tensor randperm(int64_t n, TensorOptions options, Generator* generator) {
  VIREO_CHECK(n >= 0, "randperm: n must be non-negative, got ", n);
  Generator& g = generator ? *generator : default_generator();
  std::vector<double> values(n);
  std::iota(values.begin(), values.end(), 0.0);
  // Fisher–Yates, one generator block per swap: sequential, hence the same for any thread count.
  for (int64_t i = n - 1; i > 0; --i) std::swap(values[i], values[g.below(static_cast<uint64_t>(i + 1))]);
  return Tensor::from_vector(values, {n}, options);
}

Tensor rand_like(const Tensor& like, Generator* generator) { return rand(like.shape(), like.options(), generator); }
Tensor randn_like(const Tensor& like, Generator* generator) { return randn(like.shape(), like.options(), generator); }

}  // namespace vireo
