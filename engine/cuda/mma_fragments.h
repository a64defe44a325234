// Which elements of a tile each lane of a warp holds for the tensor-core instruction
// mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}: D[16×8] = A[16×16]·B[16×8] + C[16×8] (PTX ISA, "Matrix
// fragments for mma.m16n8k16 with floating point type"). Written once for the device and the host, so that
// the tensor-core attention kernel (engine/cuda/attention.cu) and its host tests (tests/cuda/
// test_cuda_attention.cpp) read the same maps.
//
// A lane is split as group = lane / 4 (0–7) and thread_in_group = lane % 4 (0–3).
//   A (16×16, row-major): 4 registers of 2 halves. Register r, half h holds
//       row = group + 8·(r mod 2),   column = 2·thread_in_group + h + 8·⌊r / 2⌋.
//   B (16×8, k × n, "col"): 2 registers of 2 halves. Register r, half h holds
//       k = 2·thread_in_group + h + 8·r,   n = group.
//   C and D (16×8, f32): 4 values. Value i holds
//       row = group + 8·⌊i / 2⌋,   column = 2·thread_in_group + (i mod 2).
// Half 0 is the low 16 bits of its register.
//
// The flash-attention trick (Dao 2023) follows from these maps: the score accumulators of two adjacent
// n-tiles (keys 16·kk … 16·kk + 15) are, value for value, the A fragment of the probability tile P that
// multiplies V — register r of A is the pair (C values 2·(r mod 2), 2·(r mod 2) + 1) of n-tile 2·kk + ⌊r / 2⌋ —
// so P goes from one product to the next without passing through shared memory (p_fragment_source below).
#pragma once

#include "engine/host_device.h"

namespace vireo::cuda::mma {

constexpr int kM = 16, kN = 8, kK = 16;

struct Coordinate {
  int row, column;
};

VIREO_HOST_DEVICE inline int group_of(int lane) { return lane / 4; }
VIREO_HOST_DEVICE inline int thread_in_group_of(int lane) { return lane % 4; }

VIREO_HOST_DEVICE inline Coordinate a_element(int lane, int reg, int half) {
  return {group_of(lane) + 8 * (reg % 2), 2 * thread_in_group_of(lane) + half + 8 * (reg / 2)};
}
// {k, n}: row k of B (the reduction index), column n.
VIREO_HOST_DEVICE inline Coordinate b_element(int lane, int reg, int half) {
  return {2 * thread_in_group_of(lane) + half + 8 * reg, group_of(lane)};
}
VIREO_HOST_DEVICE inline Coordinate c_element(int lane, int value) {
  return {group_of(lane) + 8 * (value / 2), 2 * thread_in_group_of(lane) + value % 2};
}

// Where register `reg`, half `half` of P's A fragment (keys 16·kk …) comes from in the score accumulators:
// n-tile 2·kk + tile_offset, value `value`.
struct AccumulatorSource {
  int tile_offset, value;
};
VIREO_HOST_DEVICE inline AccumulatorSource p_fragment_source(int reg, int half) {
  return {reg / 2, 2 * (reg % 2) + half};
}

}  // namespace vireo::cuda::mma
