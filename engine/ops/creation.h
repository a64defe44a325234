// Creating tensors: constants, ranges, and random values from a counter-based generator.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "engine/random.h"
#include "engine/tensor.h"

namespace vireo {

Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor scalar_tensor(double value, TensorOptions options = {});  // a 0-dimensional tensor
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});  // 1-D
Tensor empty_like(const Tensor& like);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);

// [start, end) in steps of `step`, as torch.arange.
Tensor arange(double start, double end, double step = 1.0, TensorOptions options = {});
Tensor arange(int64_t end, TensorOptions options = {});
Tensor linspace(double start, double end, int64_t steps, TensorOptions options = {});
Tensor eye(int64_t n, TensorOptions options = {});

// Random tensors. Element i of the result depends only on (seed, the generator's offset, i), never on the
// thread count. `generator` defaults to the global one (seeded by manual_seed).
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* generator = nullptr);   // U[0, 1)
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* generator = nullptr);  // N(0, 1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {.dtype = DType::i64},
               Generator* generator = nullptr);  // integers in [low, high)
Tensor randperm(int64_t n, TensorOptions options = {.dtype = DType::i64}, Generator* generator = nullptr);
Tensor rand_like(const Tensor& like, Generator* generator = nullptr);
Tensor randn_like(const Tensor& like, Generator* generator = nullptr);

}  // namespace vireo
