// Autocast (engine/autocast.h) on the CPU: it only ever changes CUDA f32 ops, so on the CPU every op inside a
// scope gives bitwise the CPU result outside it, and the scope's bookkeeping (nesting, off inside, refusal of
// a non-16-bit type) holds. tests/cuda/test_cuda_autocast.cpp checks what it does on a GPU.
#include <doctest/doctest.h>

#include "engine/ops.h"
#include "engine/random.h"

namespace vireo {
namespace {

TEST_CASE("autocast: on the CPU products inside a bf16 scope equal those outside in f32") {
  Generator generator(7);
  const Tensor a = randn({5, 8}, {}, &generator), b = randn({8, 3}, {}, &generator);
  const Tensor w = randn({4, 8}, {}, &generator), bias = randn({4}, {}, &generator);
  const Tensor image = randn({2, 3, 6, 6}, {}, &generator), kernel = randn({4, 3, 3, 3}, {}, &generator);
  const Tensor plain_mm = matmul(a, b), plain_linear = linear(a, w, bias), plain_conv = conv2d(image, kernel);
  Autocast autocast(DType::bf16);
  const Tensor mm = matmul(a, b), lin = linear(a, w, bias), conv = conv2d(image, kernel);
  CHECK(mm.dtype() == DType::f32);
  CHECK(mm.to_vector() == plain_mm.to_vector());
  CHECK(lin.to_vector() == plain_linear.to_vector());
  CHECK(conv.to_vector() == plain_conv.to_vector());
}

TEST_CASE("autocast: the compute type is set only in a scope for f32 operands and scopes nest") {
  const Tensor x = ones({2, 2});
  CHECK_FALSE(autocast_compute_type({&x}).has_value());
  {
    Autocast outer(DType::bf16);
    // CPU tensors never autocast: the CPU kernels do not compute in 16 bits.
    CHECK_FALSE(autocast_compute_type({&x}).has_value());
    {
      Autocast off(std::nullopt);
      CHECK_FALSE(autocast_compute_type({&x}).has_value());
    }
  }
  CHECK_THROWS_WITH_AS(Autocast(DType::f64), doctest::Contains("bf16 or f16"), Error);
}

}  // namespace
}  // namespace vireo
