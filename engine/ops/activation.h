// Activation functions. Each is one primitive with its own derivative kernel.
#pragma once

#include <array>

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

// ---- Approx-BP activations (METHODS.md §3: ReGELU2, ReSiLU2) ----
// The forward is the exact GELU / SiLU. The backward is that of the piecewise-linear surrogate
//   h(x) = Σᵢ aᵢ·ReLU(x − cᵢ),   h′(x) = slopes[f],   f = [x > c₀] + [x > c₁] + [x > c₂],
// with slopes = (0, a₀, a₀ + a₁, a₀ + a₁ + a₂): the graph keeps only f, 2 bits per element packed four to
// a byte, instead of the 32-bit input — dx = dy·slopes[f]. This is deliberately not GELU′ / SiLU′.
struct ApproxBackward {
  std::array<double, 3> thresholds;  // c₀ < c₁ < c₂
  std::array<double, 3> weights;     // a₀, a₁, a₂
  std::array<double, 4> slopes() const;  // h′ on each of the four intervals the thresholds cut
};
extern const ApproxBackward kReGELU2;  // fitted to GELU (exact erf form)
extern const ApproxBackward kReSiLU2;  // fitted to SiLU

Tensor regelu2(const Tensor& x);
Tensor resilu2(const Tensor& x);
// The 2-bit codes f of a floating tensor, packed: u8 [⌈numel/4⌉], element i in bits 2·(i mod 4) of byte i/4.
Tensor pack_activation_codes(const Tensor& x, const ApproxBackward& surrogate);
// The codes back, one u8 per element: [count].
Tensor unpack_activation_codes(const Tensor& packed, int64_t count);

}  // namespace vireo
