// The per-row math and the tile bookkeeping of the CUDA flash attention kernels (engine/cuda/attention.cu),
// written once for the device and the host: tests/cuda/test_cuda_attention.cpp runs the same tile loops on
// the CPU in double with these helpers and compares them with the CPU attention kernel.
//
// Online softmax (Milakov & Gimelshein 2018; Dao et al. 2022). A query row meets its keys one tile at a
// time. It keeps the largest score m seen so far, the sum ℓ = Σ e^(s − m) and the unnormalized output
// acc = Σ e^(s − m)·v. When a tile raises the maximum to m', everything kept so far is rescaled by
// e^(m − m'); at the end out = acc/ℓ and logsumexp = m + log ℓ. No row of L×S scores is ever stored.
//
// Backward recomputes each probability from the saved log-sum-exp, P = e^(s − lse), so it needs neither
// the forward's maxima nor its sums: dS = P ⊙ (dP − D) with D_i = Σ_e dO_ie·O_ie.
//
// Masking: s = scale·q·k + mask, and −∞ where causal forbids (key j > query i). A row whose scores are all
// −∞ keeps m = −∞ and ℓ = 0: its output is 0 and its log-sum-exp +∞, so every recomputed P is 0.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/cuda/common.h"

namespace vireo::cuda {

VIREO_HOST_DEVICE inline float exp_of(float x) { return expf(x); }
VIREO_HOST_DEVICE inline double exp_of(double x) { return exp(x); }
VIREO_HOST_DEVICE inline float log_of(float x) { return logf(x); }
VIREO_HOST_DEVICE inline double log_of(double x) { return log(x); }

template <class Acc>
VIREO_HOST_DEVICE inline Acc minus_infinity() {
  return -static_cast<Acc>(INFINITY);
}

// One score: scale·(q·k) + mask, or −∞ where the causal rule forbids key j for query i.
template <class Acc>
VIREO_HOST_DEVICE inline Acc attention_score(Acc dot, Acc scale, Acc mask_value, bool causal, int64_t i, int64_t j) {
  return causal && j > i ? minus_infinity<Acc>() : scale * dot + mask_value;
}

// The running state of one query row in the forward pass.
template <class Acc>
struct OnlineSoftmaxRow {
  Acc max = minus_infinity<Acc>();
  Acc sum = 0;

  // Starts a tile whose largest score is tile_max. Returns the factor e^(m − m') by which the output
  // accumulated so far must be multiplied (1 while nothing is allowed yet, 0 when m was −∞).
  VIREO_HOST_DEVICE Acc begin_tile(Acc tile_max) {
    const Acc next = max > tile_max ? max : tile_max;
    const Acc correction = next == minus_infinity<Acc>() ? Acc(1) : exp_of(max - next);
    max = next;
    sum *= correction;
    return correction;
  }
  // e^(s − m) for a score of the current tile (0 for −∞, and for every score while m is −∞).
  VIREO_HOST_DEVICE Acc probability(Acc score) const {
    return max == minus_infinity<Acc>() ? Acc(0) : exp_of(score - max);
  }
  VIREO_HOST_DEVICE void end_tile(Acc tile_sum) { sum += tile_sum; }

  // out = acc·output_scale(), logsumexp = log_sum_exp(); a fully masked row gets 0 and +∞.
  VIREO_HOST_DEVICE Acc output_scale() const { return sum > Acc(0) ? Acc(1) / sum : Acc(0); }
  VIREO_HOST_DEVICE Acc log_sum_exp() const {
    return sum > Acc(0) ? max + log_of(sum) : static_cast<Acc>(INFINITY);
  }
};

// Backward: P = e^(s − lse) (0 when s = −∞ or lse = +∞) and dS = P·(dP − D).
template <class Acc>
VIREO_HOST_DEVICE inline Acc recomputed_probability(Acc score, Acc log_sum_exp) {
  return score == minus_infinity<Acc>() || log_sum_exp == static_cast<Acc>(INFINITY) ? Acc(0)
                                                                                      : exp_of(score - log_sum_exp);
}
template <class Acc>
VIREO_HOST_DEVICE inline Acc score_gradient(Acc probability, Acc grad_probability, Acc delta) {
  return probability * (grad_probability - delta);
}

// The row pitch of a key tile in shared memory: odd, because the threads of a warp read keys c, c+1, … at
// one e, and an even pitch would put them in the same shared-memory bank.
VIREO_HOST_DEVICE inline int64_t key_pitch(int64_t embed) { return embed | 1; }

// Square tiles of `tile` query rows by `tile` keys. With the causal rule, query rows [i0, i1) see no key
// at or beyond i1, and key rows [j0, j1) are seen by no query before j0: the loops stop (or start) there.
struct AttentionTiling {
  int64_t length = 0;  // L, query rows
  int64_t keys = 0;    // S
  int64_t tile = 1;
  bool causal = false;

  VIREO_HOST_DEVICE int64_t query_tiles() const { return (length + tile - 1) / tile; }
  VIREO_HOST_DEVICE int64_t key_tiles() const { return (keys + tile - 1) / tile; }
  VIREO_HOST_DEVICE int64_t rows_in_query_tile(int64_t t) const { return min_of(tile, length - t * tile); }
  VIREO_HOST_DEVICE int64_t rows_in_key_tile(int64_t t) const { return min_of(tile, keys - t * tile); }
  // Keys [0, key_end) matter to query tile t.
  VIREO_HOST_DEVICE int64_t key_end(int64_t t) const {
    const int64_t last_row_end = min_of(length, (t + 1) * tile);
    return causal ? min_of(keys, last_row_end) : keys;
  }
  // The first query tile that sees any key of key tile t.
  VIREO_HOST_DEVICE int64_t first_query_tile(int64_t t) const { return causal ? t : 0; }

 private:
  VIREO_HOST_DEVICE static int64_t min_of(int64_t a, int64_t b) { return a < b ? a : b; }
};

}  // namespace vireo::cuda
