// Mixed precision by autocast: inside an `Autocast` scope, the ops that do nearly all of a network's
// arithmetic — matmul, bmm, linear, conv2d and scaled_dot_product_attention — take their f32 CUDA operands in
// bf16 (or f16), so cuBLAS, cuDNN and the attention kernel run on tensor cores with f32 accumulation, and hand
// back f32. Everything else (normalizations, softmax, losses, reductions, the optimizer and its master
// weights) stays in f32. The casts are ordinary differentiable ops, so gradients flow back in f32 to f32
// parameters; the backward products run in the 16-bit type like the forward ones.
//
//   {
//     vireo::Autocast autocast(DType::bf16);  // only CUDA tensors are affected; CPU ops ignore it
//     loss = criterion(model(images), labels);
//   }
//   loss.backward();
//
// bf16 has f32's exponent range and needs no loss scaling; f16 does (small gradients underflow): pair it with
// optim::GradScaler (engine/optim/grad_scaler.h), as the trainer does for run.autocast: f16.
// The scope is per thread (like NoGrad) and nests; Autocast(std::nullopt) turns it off inside.
#pragma once

#include <optional>

#include "engine/dtype.h"

namespace vireo {

class Tensor;

class Autocast {
 public:
  explicit Autocast(std::optional<DType> compute);  // bf16, f16 or nullopt (off); anything else is refused
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  std::optional<DType> previous_;
};

// The 16-bit type an autocast op should compute in for these operands: set only inside an Autocast scope,
// when every defined operand is an f32 tensor on a CUDA device. Ops call it first and, when it answers,
// run themselves again on cast operands with autocast suspended (so the inner call does not recurse).
std::optional<DType> autocast_compute_type(std::initializer_list<const Tensor*> operands);

}  // namespace vireo
