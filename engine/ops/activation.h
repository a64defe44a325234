// Activation functions. Each is one primitive with its own derivative kernel.
#pragma once

#include "engine/tensor.h"

namespace vireo {

enum class GeluApproximation { none, tanh };  // none: x·Φ(x) with the exact erf; tanh: the GPT-2 form

Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x, GeluApproximation approximation = GeluApproximation::none);
Tensor silu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);

}  // namespace vireo
