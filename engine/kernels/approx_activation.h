// The primitives of the Approx-BP activations (ReGELU2, ReSiLU2; engine/ops/activation.h): a 2-bit code per
// element, packed four to a byte, and the backward that reads the codes instead of the activation's input.
#pragma once

#include <array>
#include <cstdint>

#include "engine/dispatch.h"
#include "engine/tensor.h"

namespace vireo::kernels {

// Element i of the contiguous floating `x` gets the code f = [x > c₀] + [x > c₁] + [x > c₂] ∈ {0, 1, 2, 3},
// stored in bits 2·(i mod 4) of byte i/4 of the contiguous u8 `packed` [⌈n/4⌉] (unused high bits zero).
inline Kernel<void(const Tensor& x, const std::array<double, 3>& thresholds, const Tensor& packed)>
    pack_activation_codes{"pack_activation_codes"};

// codes[i] = code i of `packed`, one u8 per element (the inverse of the packing, for inspection and tests).
inline Kernel<void(const Tensor& packed, const Tensor& codes)> unpack_activation_codes{"unpack_activation_codes"};

// dx[i] = dy[i]·slopes[f_i]: the derivative of the piecewise-linear surrogate, from the packed codes.
// dy and dx contiguous, of the same floating dtype.
inline Kernel<void(const Tensor& packed, const Tensor& grad_output, const std::array<double, 4>& slopes,
                   const Tensor& grad_input)>
    approx_activation_backward{"approx_activation_backward"};

}  // namespace vireo::kernels
