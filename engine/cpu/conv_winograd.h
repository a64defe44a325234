// Winograd convolution F(2×2, 3×3) for the CPU (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016): the 3×3, stride-1 convolutions that make up most of a ResNet, in 16 multiplies per
// 2×2 output tile where direct convolution needs 36 — 2.25× fewer multiply-adds.
//
// For one 4×4 input patch d (covering a 2×2 output tile) and one 3×3 filter g,
//
//   y (2×2) = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A            (⊙ elementwise over the 4×4 "Winograd domain")
//
//        ⎡1  0 −1  0⎤        ⎡ 1    0    0 ⎤
//   Bᵀ = ⎢0  1  1  0⎥    G = ⎢1/2  1/2  1/2⎥    Aᵀ = ⎡1  1  1  0⎤
//        ⎢0 −1  1  0⎥        ⎢1/2 −1/2  1/2⎥         ⎣0  1 −1 −1⎦
//        ⎣0  1  0 −1⎦        ⎣ 0    0    1 ⎦
//
// is exactly the 2×2 cross-correlation a convolution layer computes. Over channels, the elementwise
// product becomes 16 independent matrix products, one per Winograd coordinate ξ:
//
//   U[ξ] = (G g Gᵀ)[ξ]   [C_out × C_in]       V[ξ] = (Bᵀ d B)[ξ]   [C_in × tiles]
//   M[ξ] = U[ξ] · V[ξ]   [C_out × tiles]      y = Aᵀ M A, tile by tile
//
// which run on the GEMM kernel (engine/cpu/gemm.h). The input gradient of a stride-1 convolution is
// itself one (of the output gradient, padded by 2 − pad, with each filter turned 180° and in/out channels
// swapped), so it takes the same path. The weight gradient is the adjoint of the forward computation above:
// dM = A dy Aᵀ per tile, dU[ξ] = Σ_tiles dM[ξ] · V[ξ]ᵀ, dg = Gᵀ dU G — exact in exact arithmetic, since the
// forward identity is.
//
// Tiles run in chunks (the transformed input and products of a chunk stay within a few MiB of cache) in a
// fixed order set by the shapes alone, and each transform element is computed by one thread: results do not
// depend on the thread count. F(2×2, 3×3) loses almost nothing to rounding (its transforms hold only 0, ±1
// and ±1/2); larger tiles, F(4×4, 3×3), would save more but lose digits in f32.
#pragma once

#include "engine/kernels/conv.h"

namespace vireo::cpu {

// Whether the Winograd path serves this convolution: a 3×3 kernel, stride 1, no dilation, one group,
// padding at most 2 on each side, and at least winograd_min_channels() channels in and out. Setting the
// environment variable VIREO_WINOGRAD=0 turns the path off (for comparisons); it is read once.
bool winograd_applies(const kernels::Conv2dGeometry& g);

// Below 64 channels the 16 products (inner dimension C) are too thin to beat im2col + GEMM (inner dimension
// 9C): measured 2026-12-06 on the BYOL recipe's quarter-width ResNet-18 (16–128 channels), Winograd from 16
// channels up ran 9% slower than im2col, from 32 up about even, from 64 up 11% faster. The tests lower the
// threshold to reach the path with small, gradient-checkable filters.
inline constexpr int64_t kWinogradMinChannels = 64;
int64_t winograd_min_channels();
void set_winograd_min_channels(int64_t channels);  // at least 1

// The three faces of kernels/conv.h on contiguous NCHW data (bias may be null).
void winograd_forward(const kernels::Conv2dGeometry& g, const float* image, const float* weight, const float* bias,
                      float* response);
void winograd_forward(const kernels::Conv2dGeometry& g, const double* image, const double* weight,
                      const double* bias, double* response);
void winograd_input_grad(const kernels::Conv2dGeometry& g, const float* response, const float* weight,
                         const float* bias, float* image);
void winograd_input_grad(const kernels::Conv2dGeometry& g, const double* response, const double* weight,
                         const double* bias, double* image);
void winograd_weight_grad(const kernels::Conv2dGeometry& g, const float* image, const float* response,
                          float* weight);
void winograd_weight_grad(const kernels::Conv2dGeometry& g, const double* image, const double* response,
                          double* weight);

}  // namespace vireo::cpu
