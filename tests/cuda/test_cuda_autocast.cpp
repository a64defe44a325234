// Autocast on a GPU: inside a bf16 scope, linear, matmul, conv2d and attention on f32 CUDA tensors compute in
// bf16 and return f32, within bf16's tolerance of the f32 CPU result, and the gradients reach the f32
// parameters in f32.
#include <doctest/doctest.h>

#include "engine/ops.h"
#include "engine/random.h"
#include "parity.h"

namespace vireo {
namespace {

TEST_CASE("cuda autocast: bf16 products return f32 close to the CPU's and f32 gradients") {
  VIREO_REQUIRE_GPU();
  Generator generator(11);
  const Tensor x = randn({33, 64}, {}, &generator), w = randn({17, 64}, {}, &generator).mul_(0.125);
  const Tensor bias = randn({17}, {}, &generator);
  Tensor xc = x.to(Device::cuda()).requires_grad_(), wc = w.to(Device::cuda()).requires_grad_();
  Tensor bc = bias.to(Device::cuda()).requires_grad_();
  Tensor y;
  {
    Autocast autocast(DType::bf16);
    y = linear(xc, wc, bc);
  }
  CHECK(y.dtype() == DType::f32);
  Tensor xr = x.clone().requires_grad_(), wr = w.clone().requires_grad_(), br = bias.clone().requires_grad_();
  const Tensor reference = linear(xr, wr, br);
  // bf16 operands: each product carries ~2⁻⁸ relative error; the sums of 64 of them a few times that.
  vireo::test::expect_close(y, reference, {3e-2, 3e-2}, "autocast linear");
  y.sum().backward();
  reference.sum().backward();
  CHECK(wc.grad().dtype() == DType::f32);
  CHECK(wc.grad().device() == Device::cuda());
  vireo::test::expect_close(wc.grad(), wr.grad(), {3e-2, 5e-2}, "autocast linear weight gradient");
  vireo::test::expect_close(xc.grad(), xr.grad(), {3e-2, 5e-2}, "autocast linear input gradient");
}

TEST_CASE("cuda autocast: conv2d and attention in bf16 match the f32 CPU within bf16 tolerance") {
  VIREO_REQUIRE_GPU();
  Generator generator(12);
  const Tensor image = randn({2, 5, 9, 9}, {}, &generator), kernel = randn({6, 5, 3, 3}, {}, &generator).mul_(0.2);
  const Tensor q = randn({2, 3, 37, 16}, {}, &generator), k = randn({2, 3, 37, 16}, {}, &generator),
               v = randn({2, 3, 37, 16}, {}, &generator);
  Tensor conv, attention;
  {
    Autocast autocast(DType::bf16);
    conv = conv2d(image.to(Device::cuda()), kernel.to(Device::cuda()), Tensor(), {.padding = {1, 1}});
    attention = scaled_dot_product_attention(q.to(Device::cuda()), k.to(Device::cuda()), v.to(Device::cuda()));
  }
  CHECK(conv.dtype() == DType::f32);
  CHECK(attention.dtype() == DType::f32);
  vireo::test::expect_close(conv, conv2d(image, kernel, Tensor(), {.padding = {1, 1}}), {3e-2, 3e-2}, "autocast conv2d");
  vireo::test::expect_close(attention, scaled_dot_product_attention(q, k, v), {3e-2, 3e-2}, "autocast attention");
}

}  // namespace
}  // namespace vireo
