// The combine rules of the CUDA reductions (reduce, softmax, cross-entropy), for host and device. A GPU
// reduces a line of values as a tree — each thread a strided share, then the threads pairwise — so every
// rule here is associative, and where the CPU's sequential scan has an order-dependent answer (the first
// index of a maximum, the first NaN) the rule carries the index to make the answer order-free. The host
// suite (tests/cuda/test_cuda_reduction.cpp) folds these rules over random trees and checks that they agree
// with the CPU kernels.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "engine/host_device.h"
#include "engine/kernels/reduction.h"

namespace vireo::cuda {

using kernels::ReduceOp;

// What a thread holds while reducing: the accumulated value and, for max/min, the index attaining it
// (−1: nothing seen yet). Sums ignore the index.
template <class A>
struct ReducePartial {
  A value;
  int64_t index;
};

template <class A>
VIREO_HOST_DEVICE inline ReducePartial<A> reduce_identity(ReduceOp op) {
  return {A(0), op == ReduceOp::sum ? int64_t{0} : int64_t{-1}};
}

template <class A>
VIREO_HOST_DEVICE inline ReducePartial<A> reduce_element(ReduceOp op, A value, int64_t index) {
  return {value, op == ReduceOp::sum ? int64_t{0} : index};
}

template <class A>
VIREO_HOST_DEVICE inline bool is_nan_value(A v) {
  if constexpr (std::is_floating_point_v<A>) return v != v;
  else return false;
}

// The CPU scans r = 0, 1, … keeping the first strict improvement and stopping at the first NaN. So among
// partials: a NaN beats any number (the lower index among NaNs), a strictly better value wins, and equal
// values go to the lower index. This is associative and commutative, hence any tree gives the scan's answer.
template <class A>
VIREO_HOST_DEVICE inline ReducePartial<A> reduce_combine(ReduceOp op, ReducePartial<A> a, ReducePartial<A> b) {
  if (op == ReduceOp::sum) return {a.value + b.value, 0};
  if (a.index < 0) return b;
  if (b.index < 0) return a;
  const bool a_nan = is_nan_value(a.value), b_nan = is_nan_value(b.value);
  const bool a_first = a.index < b.index;
  if (a_nan || b_nan) {
    if (a_nan && b_nan) return a_first ? a : b;
    return a_nan ? a : b;
  }
  if (a.value == b.value) return a_first ? a : b;
  const bool a_better = op == ReduceOp::max ? a.value > b.value : a.value < b.value;
  return a_better ? a : b;
}

// How many reduced positions one block of a split reduction takes: a line of `reduced` values that would
// otherwise leave the GPU idle (fewer than `target_blocks` blocks without splitting) is cut into chunks of
// at least `min_chunk`, reduced by separate blocks and combined in chunk order by a second pass.
inline int64_t reduce_chunk_length(int64_t base_blocks, int64_t reduced, int64_t min_chunk, int64_t target_blocks) {
  if (reduced <= min_chunk || base_blocks >= target_blocks) return reduced < 1 ? 1 : reduced;
  int64_t chunks = (target_blocks + base_blocks - 1) / base_blocks;
  const int64_t most = reduced / min_chunk;  // so that every chunk has at least min_chunk positions
  if (chunks > most) chunks = most;
  return (reduced + chunks - 1) / chunks;
}

// The running state of a softmax over a line, combined online as in flash attention: the maximum m seen so
// far and s = Σ exp(x − m) over the values seen. Merging two states rescales the one with the smaller
// maximum: s = s₁·exp(m₁ − m) + s₂·exp(m₂ − m), m = max(m₁, m₂). A NaN input makes s NaN (as the CPU's
// two-pass sum does) without entering m.
template <class C>
struct SoftmaxState {
  C max;
  C sum;
};

template <class C>
VIREO_HOST_DEVICE inline SoftmaxState<C> softmax_identity() {
  return {-std::numeric_limits<C>::infinity(), C(0)};
}

template <class C>
VIREO_HOST_DEVICE inline SoftmaxState<C> softmax_element(C x) {
  if (x != x) return {-std::numeric_limits<C>::infinity(), x};
  return {x, C(1)};
}

template <class C>
VIREO_HOST_DEVICE inline SoftmaxState<C> softmax_combine(SoftmaxState<C> a, SoftmaxState<C> b) {
  const C m = a.max > b.max ? a.max : b.max;
  if (m == -std::numeric_limits<C>::infinity()) return {m, a.sum + b.sum};
  // A state whose maximum is m keeps its sum as is (exp(m − m) = 1, also when m = +inf).
  const C sa = a.max == m ? a.sum : a.sum * std::exp(a.max - m);
  const C sb = b.max == m ? b.sum : b.sum * std::exp(b.max - m);
  return {m, sa + sb};
}

// The row's log Σ exp x = m + log s. With an infinite maximum the CPU's Σ exp(x − m) contains
// exp(inf − inf) = NaN; so does this.
template <class C>
VIREO_HOST_DEVICE inline C softmax_log_sum(SoftmaxState<C> state) {
  if (state.max == std::numeric_limits<C>::infinity()) return state.max - state.max;  // NaN
  return state.max + std::log(state.sum);
}

// The state the output pass uses: with an infinite maximum the sum becomes NaN, as above.
template <class C>
VIREO_HOST_DEVICE inline SoftmaxState<C> softmax_finish(SoftmaxState<C> state) {
  if (state.max == std::numeric_limits<C>::infinity()) state.sum = state.max - state.max;
  return state;
}

}  // namespace vireo::cuda
