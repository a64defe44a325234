// CUDA scaled dot-product attention, flash style (Dao et al. 2022): a thread block owns one tile of query
// rows of one batch·head, streams the keys and values through shared memory one tile at a time, and keeps
// an online softmax per row (engine/cuda/attention_tiles.h explains it), so the L×S score matrix never
// exists; only the output and the per-row log-sum-exp are written.
//
// Backward recomputes each tile of probabilities from the saved log-sum-exp, in two kernels that need no
// atomics (so the gradients are deterministic):
//   by key tile:    dV_j = Σ_i Pᵀ·dO_i,       dK_j = scale·Σ_i dSᵀ·Q_i      (loop over query tiles)
//   by query tile:  dQ_i = scale·Σ_j dS·K_j                                (loop over key tiles)
// with dS = P ⊙ (dO·Vᵀ − D) and D_i = Σ_e dO_ie·O_ie computed once beforehand. Each recomputes P, which
// costs a second pass over the scores and saves a global accumulation.
//
// Precision: everything is computed in Compute<T> (f32 for f16/bf16, f64 for f64); the tiles are converted
// when they are loaded. The products are plain FMAs on the CUDA cores: these kernels take every dtype and
// head dimension. f16 and bf16 at head dimensions 64 and 128 go to the tensor-core kernels further down
// instead (unless cuda::set_tensor_core_attention(false)), forward and backward.
//
// Tiles are square (`tile` rows × `tile` keys), chosen per call as the largest of 32, 16, 8… whose shared
// memory fits the device, so any head dimension the shared memory can hold works.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "engine/cuda/attention_tiles.h"
#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/mma_fragments.h"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/runtime.h"
#include "engine/kernels/attention.h"

namespace vireo::cuda {
namespace {

constexpr int kAttentionThreads = 128;
constexpr int kAttentionWarps = kAttentionThreads / kWarpSize;
constexpr int kLargestTile = 32;

// Everything but the data pointers: the shape, the operands' row strides, and the offsets of each batch·head
// in q, k, v and the mask (operands 0–3 of batch_offsets).
struct AttentionGeometry {
  int64_t batch = 0, length = 0, keys = 0, embed = 0, value_embed = 0;
  int64_t q_ld = 0, k_ld = 0, v_ld = 0, mask_row_stride = 0, mask_column_stride = 0;
  OffsetCalculator<4> batch_offsets;
  double scale = 1.0;
  bool causal = false;
  int tile = 1;

  VIREO_HOST_DEVICE AttentionTiling tiling() const { return AttentionTiling{length, keys, tile, causal}; }
};

// Shared memory carving: consecutive arrays of Acc.
template <class Acc>
struct SharedCursor {
  Acc* next;
  __device__ Acc* take(int64_t count) {
    Acc* taken = next;
    next += count;
    return taken;
  }
};

template <class Acc>
__device__ SharedCursor<Acc> shared_cursor() {
  extern __shared__ double attention_shared[];  // double: aligned for every Acc
  return SharedCursor<Acc>{reinterpret_cast<Acc*>(attention_shared)};
}

// Copies `rows` rows (of `tile`) of width `width` from a row-major operand with leading dimension `ld` into
// shared memory with row pitch `pitch`, converting to Acc; rows beyond `rows` become 0.
template <class T, class Acc>
__device__ void load_tile(Acc* dst, int64_t pitch, const T* src, int64_t ld, int64_t rows, int tile, int64_t width) {
  for (int64_t idx = threadIdx.x; idx < tile * width; idx += blockDim.x) {
    const int64_t r = idx / width, e = idx % width;
    dst[r * pitch + e] = r < rows ? load(src[r * ld + e]) : Acc(0);
  }
}

// The score of query row r (of the tile at i0) against key c (of the tile at j0), from the shared tiles.
template <class T, class Acc>
__device__ Acc tile_score(const AttentionGeometry& g, const Acc* sQ, const Acc* sK, int64_t k_pitch, const T* mask,
                          int64_t i0, int64_t r, int64_t j0, int64_t c) {
  Acc dot = 0;
  for (int64_t e = 0; e < g.embed; ++e) dot += sQ[r * g.embed + e] * sK[c * k_pitch + e];
  const int64_t i = i0 + r, j = j0 + c;
  const Acc mask_value = mask ? load(mask[i * g.mask_row_stride + j * g.mask_column_stride]) : Acc(0);
  return attention_score<Acc>(dot, static_cast<Acc>(g.scale), mask_value, g.causal, i, j);
}

template <class T>
__global__ void __launch_bounds__(kAttentionThreads)
    attention_forward_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                             const T* __restrict__ mask, T* __restrict__ out, T* __restrict__ logsumexp,
                             AttentionGeometry g) {
  using Acc = Compute<T>;
  const AttentionTiling tiling = g.tiling();
  const int tile = g.tile;
  const int64_t query_tiles = tiling.query_tiles();
  const int64_t b = blockIdx.x / query_tiles, qt = blockIdx.x % query_tiles;
  const int64_t i0 = qt * tile, rows = tiling.rows_in_query_tile(qt);
  const int64_t E = g.embed, Ev = g.value_embed, k_pitch = key_pitch(E);
  int64_t offsets[4];
  g.batch_offsets.offsets(b, offsets);
  const T* qb = q + offsets[0];
  const T* kb = k + offsets[1];
  const T* vb = v + offsets[2];
  const T* mb = mask ? mask + offsets[3] : nullptr;

  SharedCursor<Acc> cursor = shared_cursor<Acc>();
  Acc* sQ = cursor.take(tile * E);
  Acc* sK = cursor.take(tile * k_pitch);
  Acc* sV = cursor.take(tile * Ev);
  Acc* sS = cursor.take(tile * tile);
  Acc* sAcc = cursor.take(tile * Ev);
  Acc* sRowMax = cursor.take(tile);
  Acc* sRowSum = cursor.take(tile);
  Acc* sCorrection = cursor.take(tile);

  load_tile(sQ, E, qb + i0 * g.q_ld, g.q_ld, rows, tile, E);
  for (int64_t idx = threadIdx.x; idx < tile * Ev; idx += blockDim.x) sAcc[idx] = 0;
  for (int r = threadIdx.x; r < tile; r += blockDim.x) {
    const OnlineSoftmaxRow<Acc> fresh;
    sRowMax[r] = fresh.max;
    sRowSum[r] = fresh.sum;
  }
  __syncthreads();

  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int64_t key_end = tiling.key_end(qt);
  for (int64_t j0 = 0; j0 < key_end; j0 += tile) {
    const int64_t cols = key_end - j0 < tile ? key_end - j0 : tile;
    load_tile(sK, k_pitch, kb + j0 * g.k_ld, g.k_ld, cols, tile, E);
    load_tile(sV, Ev, vb + j0 * g.v_ld, g.v_ld, cols, tile, Ev);
    __syncthreads();

    for (int64_t idx = threadIdx.x; idx < tile * tile; idx += blockDim.x) {
      const int64_t r = idx / tile, c = idx % tile;
      sS[idx] = r < rows && c < cols ? tile_score(g, sQ, sK, k_pitch, mb, i0, r, j0, c) : minus_infinity<Acc>();
    }
    __syncthreads();

    // One warp per row: the tile's maximum, the rescaling, the probabilities and their sum.
    for (int64_t r = warp; r < rows; r += kAttentionWarps) {
      Acc* row = sS + r * tile;
      Acc tile_max = minus_infinity<Acc>();
      for (int c = lane; c < tile; c += kWarpSize) tile_max = row[c] > tile_max ? row[c] : tile_max;
      tile_max = warp_max(tile_max);
      OnlineSoftmaxRow<Acc> state{sRowMax[r], sRowSum[r]};
      const Acc correction = state.begin_tile(tile_max);
      Acc tile_sum = 0;
      for (int c = lane; c < tile; c += kWarpSize) {
        const Acc p = c < cols ? state.probability(row[c]) : Acc(0);
        row[c] = p;
        tile_sum += p;
      }
      tile_sum = warp_sum(tile_sum);  // also orders every lane's reads of sRowMax before lane 0's write
      state.end_tile(tile_sum);
      if (lane == 0) {
        sRowMax[r] = state.max;
        sRowSum[r] = state.sum;
        sCorrection[r] = correction;
      }
    }
    __syncthreads();

    for (int64_t idx = threadIdx.x; idx < rows * Ev; idx += blockDim.x) {
      const int64_t r = idx / Ev, e = idx % Ev;
      Acc a = sAcc[idx] * sCorrection[r];
      const Acc* p = sS + r * tile;
      for (int64_t c = 0; c < cols; ++c) a += p[c] * sV[c * Ev + e];
      sAcc[idx] = a;
    }
    __syncthreads();
  }

  const int64_t row0 = b * g.length + i0;
  for (int64_t idx = threadIdx.x; idx < rows * Ev; idx += blockDim.x) {
    const int64_t r = idx / Ev;
    const OnlineSoftmaxRow<Acc> state{sRowMax[r], sRowSum[r]};
    out[row0 * Ev + idx] = store<T>(sAcc[idx] * state.output_scale());
  }
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    const OnlineSoftmaxRow<Acc> state{sRowMax[r], sRowSum[r]};
    logsumexp[row0 + r] = store<T>(state.log_sum_exp());
  }
}

// D_i = Σ_e dO_ie·O_ie, one warp per row.
template <class T>
__global__ void attention_delta_kernel(const T* __restrict__ out, const T* __restrict__ grad_out,
                                       Compute<T>* __restrict__ delta, int64_t rows, int64_t value_embed) {
  using Acc = Compute<T>;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = grid_threads() / kWarpSize;
  for (int64_t row = global_thread() / kWarpSize; row < rows; row += warps) {
    Acc d = 0;
    for (int64_t e = lane; e < value_embed; e += kWarpSize)
      d += load(grad_out[row * value_embed + e]) * load(out[row * value_embed + e]);
    d = warp_sum(d);
    if (lane == 0) delta[row] = d;
  }
}

// P and dS of query rows [i0, i0 + rows) against keys [j0, j0 + cols), into sP (optional) and sdS.
template <class T, class Acc>
__device__ void recompute_tile(const AttentionGeometry& g, const T* mb, const Acc* sQ, const Acc* sK, int64_t k_pitch,
                               const Acc* sV, const Acc* sdO, const Acc* sLse, const Acc* sDelta, int64_t i0,
                               int64_t rows, int64_t j0, int64_t cols, Acc* sP, Acc* sdS) {
  const int tile = g.tile;
  const int64_t Ev = g.value_embed;
  for (int64_t idx = threadIdx.x; idx < tile * tile; idx += blockDim.x) {
    const int64_t r = idx / tile, c = idx % tile;
    Acc p = 0, ds = 0;
    if (r < rows && c < cols) {
      p = recomputed_probability(tile_score(g, sQ, sK, k_pitch, mb, i0, r, j0, c), sLse[r]);
      Acc dp = 0;
      for (int64_t e = 0; e < Ev; ++e) dp += sdO[r * Ev + e] * sV[c * Ev + e];
      ds = score_gradient(p, dp, sDelta[r]);
    }
    if (sP) sP[idx] = p;
    sdS[idx] = ds;
  }
}

// The saved log-sum-exp and D of query rows [i0, i0 + rows) (0 beyond).
template <class T, class Acc>
__device__ void load_row_values(Acc* sLse, Acc* sDelta, const T* logsumexp, const Acc* delta, int64_t row0,
                                int64_t rows, int tile) {
  for (int64_t r = threadIdx.x; r < tile; r += blockDim.x) {
    sLse[r] = r < rows ? load(logsumexp[row0 + r]) : Acc(0);
    sDelta[r] = r < rows ? delta[row0 + r] : Acc(0);
  }
}

// One block per (batch·head, key tile): dK and dV of those keys, over every query tile that sees them.
template <class T>
__global__ void __launch_bounds__(kAttentionThreads)
    attention_backward_kv_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                 const T* __restrict__ mask, const T* __restrict__ logsumexp,
                                 const Compute<T>* __restrict__ delta, const T* __restrict__ grad_out,
                                 T* __restrict__ grad_k, T* __restrict__ grad_v, AttentionGeometry g) {
  using Acc = Compute<T>;
  const AttentionTiling tiling = g.tiling();
  const int tile = g.tile;
  const int64_t key_tiles = tiling.key_tiles();
  const int64_t b = blockIdx.x / key_tiles, kt = blockIdx.x % key_tiles;
  const int64_t j0 = kt * tile, cols = tiling.rows_in_key_tile(kt);
  const int64_t E = g.embed, Ev = g.value_embed, k_pitch = key_pitch(E);
  int64_t offsets[4];
  g.batch_offsets.offsets(b, offsets);
  const T* qb = q + offsets[0];
  const T* mb = mask ? mask + offsets[3] : nullptr;

  SharedCursor<Acc> cursor = shared_cursor<Acc>();
  Acc* sK = cursor.take(tile * k_pitch);
  Acc* sV = cursor.take(tile * Ev);
  Acc* sdK = cursor.take(tile * E);
  Acc* sdV = cursor.take(tile * Ev);
  Acc* sQ = cursor.take(tile * E);
  Acc* sdO = cursor.take(tile * Ev);
  Acc* sP = cursor.take(tile * tile);
  Acc* sdS = cursor.take(tile * tile);
  Acc* sLse = cursor.take(tile);
  Acc* sDelta = cursor.take(tile);

  load_tile(sK, k_pitch, k + offsets[1] + j0 * g.k_ld, g.k_ld, cols, tile, E);
  load_tile(sV, Ev, v + offsets[2] + j0 * g.v_ld, g.v_ld, cols, tile, Ev);
  for (int64_t idx = threadIdx.x; idx < tile * E; idx += blockDim.x) sdK[idx] = 0;
  for (int64_t idx = threadIdx.x; idx < tile * Ev; idx += blockDim.x) sdV[idx] = 0;

  for (int64_t qt = tiling.first_query_tile(kt); qt < tiling.query_tiles(); ++qt) {
    const int64_t i0 = qt * tile, rows = tiling.rows_in_query_tile(qt), row0 = b * g.length + i0;
    __syncthreads();  // the previous tile's sums are done with sQ, sdO, sP and sdS
    load_tile(sQ, E, qb + i0 * g.q_ld, g.q_ld, rows, tile, E);
    load_tile(sdO, Ev, grad_out + row0 * Ev, Ev, rows, tile, Ev);
    load_row_values(sLse, sDelta, logsumexp, delta, row0, rows, tile);
    __syncthreads();
    recompute_tile(g, mb, sQ, sK, k_pitch, sV, sdO, sLse, sDelta, i0, rows, j0, cols, sP, sdS);
    __syncthreads();
    for (int64_t idx = threadIdx.x; idx < cols * Ev; idx += blockDim.x) {
      const int64_t c = idx / Ev, e = idx % Ev;
      Acc sum = 0;
      for (int64_t r = 0; r < rows; ++r) sum += sP[r * tile + c] * sdO[r * Ev + e];
      sdV[idx] += sum;
    }
    for (int64_t idx = threadIdx.x; idx < cols * E; idx += blockDim.x) {
      const int64_t c = idx / E, e = idx % E;
      Acc sum = 0;
      for (int64_t r = 0; r < rows; ++r) sum += sdS[r * tile + c] * sQ[r * E + e];
      sdK[idx] += sum;
    }
  }
  __syncthreads();
  const int64_t key0 = b * g.keys + j0;
  const Acc scale = static_cast<Acc>(g.scale);
  for (int64_t idx = threadIdx.x; idx < cols * E; idx += blockDim.x) grad_k[key0 * E + idx] = store<T>(scale * sdK[idx]);
  for (int64_t idx = threadIdx.x; idx < cols * Ev; idx += blockDim.x) grad_v[key0 * Ev + idx] = store<T>(sdV[idx]);
}

// One block per (batch·head, query tile): dQ of those rows, over every key tile they see.
template <class T>
__global__ void __launch_bounds__(kAttentionThreads)
    attention_backward_q_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                const T* __restrict__ mask, const T* __restrict__ logsumexp,
                                const Compute<T>* __restrict__ delta, const T* __restrict__ grad_out,
                                T* __restrict__ grad_q, AttentionGeometry g) {
  using Acc = Compute<T>;
  const AttentionTiling tiling = g.tiling();
  const int tile = g.tile;
  const int64_t query_tiles = tiling.query_tiles();
  const int64_t b = blockIdx.x / query_tiles, qt = blockIdx.x % query_tiles;
  const int64_t i0 = qt * tile, rows = tiling.rows_in_query_tile(qt), row0 = b * g.length + i0;
  const int64_t E = g.embed, Ev = g.value_embed, k_pitch = key_pitch(E);
  int64_t offsets[4];
  g.batch_offsets.offsets(b, offsets);
  const T* kb = k + offsets[1];
  const T* vb = v + offsets[2];
  const T* mb = mask ? mask + offsets[3] : nullptr;

  SharedCursor<Acc> cursor = shared_cursor<Acc>();
  Acc* sQ = cursor.take(tile * E);
  Acc* sdO = cursor.take(tile * Ev);
  Acc* sdQ = cursor.take(tile * E);
  Acc* sK = cursor.take(tile * k_pitch);
  Acc* sV = cursor.take(tile * Ev);
  Acc* sdS = cursor.take(tile * tile);
  Acc* sLse = cursor.take(tile);
  Acc* sDelta = cursor.take(tile);

  load_tile(sQ, E, q + offsets[0] + i0 * g.q_ld, g.q_ld, rows, tile, E);
  load_tile(sdO, Ev, grad_out + row0 * Ev, Ev, rows, tile, Ev);
  load_row_values(sLse, sDelta, logsumexp, delta, row0, rows, tile);
  for (int64_t idx = threadIdx.x; idx < tile * E; idx += blockDim.x) sdQ[idx] = 0;

  const int64_t key_end = tiling.key_end(qt);
  for (int64_t j0 = 0; j0 < key_end; j0 += tile) {
    const int64_t cols = key_end - j0 < tile ? key_end - j0 : tile;
    __syncthreads();  // the previous tile's sums are done with sK and sdS
    load_tile(sK, k_pitch, kb + j0 * g.k_ld, g.k_ld, cols, tile, E);
    load_tile(sV, Ev, vb + j0 * g.v_ld, g.v_ld, cols, tile, Ev);
    __syncthreads();
    recompute_tile<T, Acc>(g, mb, sQ, sK, k_pitch, sV, sdO, sLse, sDelta, i0, rows, j0, cols, nullptr, sdS);
    __syncthreads();
    for (int64_t idx = threadIdx.x; idx < rows * E; idx += blockDim.x) {
      const int64_t r = idx / E, e = idx % E;
      Acc sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += sdS[r * tile + c] * sK[c * k_pitch + e];
      sdQ[idx] += sum;
    }
  }
  __syncthreads();
  const Acc scale = static_cast<Acc>(g.scale);
  for (int64_t idx = threadIdx.x; idx < rows * E; idx += blockDim.x) grad_q[row0 * E + idx] = store<T>(scale * sdQ[idx]);
}

// ---- the tensor-core forward (f16 and bf16, head dimension 64 or 128) ----
//
// The same online softmax as attention_forward_kernel, with both products on the tensor cores
// (mma.m16n8k16, f32 accumulation; engine/cuda/mma_fragments.h gives which lane holds what). A block of
// 4 warps owns 64 query rows, 16 per warp; key tiles of 64 keys. Each warp keeps its Q rows as A fragments
// in registers for the whole loop, computes its 16×64 scores S = Q·Kᵀ from the shared K tile, takes the
// online softmax in registers (the 4 lanes of a group share a row: two shuffles give a row's maximum), and
// multiplies P — rounded to T, as flash attention does — with the shared V tile into its 16×D output.
// Only Q (once) and the K and V tiles pass through shared memory.
//
// Scores are kept in base 2 (s·log₂e), so every exponential is one exp2f; the saved log-sum-exp is
// converted back to base e. Rows beyond L are computed on zeros and never stored.

constexpr int kMmaRows = 64;     // query rows per block (16 per warp)
constexpr int kMmaKeys = 64;     // keys per tile
constexpr int kMmaThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;

// Shared-memory row pitch of a tile, in elements: 8 beyond the width keeps rows 16-byte aligned and shifts
// each row by 4 banks, so the 8 rows × 4 words a warp reads for one fragment fall in 32 different banks.
template <int D>
constexpr int mma_pitch() {
  return D + 8;
}

template <class T>
__device__ inline uint32_t pack_pair(float low, float high) {
  const T lo = store<T>(low), hi = store<T>(high);
  uint16_t lo_bits, hi_bits;
  memcpy(&lo_bits, &lo, 2);
  memcpy(&hi_bits, &hi, 2);
  return static_cast<uint32_t>(lo_bits) | (static_cast<uint32_t>(hi_bits) << 16);
}

template <class T>
__device__ inline uint32_t pack_elements(T low, T high) {
  uint16_t lo_bits, hi_bits;
  memcpy(&lo_bits, &low, 2);
  memcpy(&hi_bits, &high, 2);
  return static_cast<uint32_t>(lo_bits) | (static_cast<uint32_t>(hi_bits) << 16);
}

// d += a·b for one 16×8 tile.
template <class T>
__device__ inline void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#else
  __trap();  // the host never launches this kernel below sm_80 (tensor_core_attention_applies)
#endif
}

// Copies `rows` rows of width D (leading dimension ld) into a shared tile of kMmaRows rows; rows beyond
// `rows` become 0. Vector: 16-byte loads (the host checked the alignment), else one element at a time.
template <class T, int D, bool Vector>
__device__ void load_mma_tile(T* dst, const T* src, int64_t ld, int64_t rows) {
  constexpr int pitch = mma_pitch<D>();
  if constexpr (Vector) {
    constexpr int per_row = D / 8;  // 8 elements of 2 bytes per 16-byte vector
    for (int idx = threadIdx.x; idx < kMmaRows * per_row; idx += blockDim.x) {
      const int r = idx / per_row, chunk = idx % per_row;
      uint4 value = make_uint4(0, 0, 0, 0);
      if (r < rows) value = *reinterpret_cast<const uint4*>(src + r * ld + chunk * 8);
      *reinterpret_cast<uint4*>(dst + r * pitch + chunk * 8) = value;
    }
  } else {
    for (int idx = threadIdx.x; idx < kMmaRows * D; idx += blockDim.x) {
      const int r = idx / D, e = idx % D;
      dst[r * pitch + e] = r < rows ? src[r * ld + e] : store<T>(0.0f);
    }
  }
}

template <class T>
__device__ inline uint32_t shared_pair(const T* p) {  // two adjacent elements, 4-byte aligned
  return *reinterpret_cast<const uint32_t*>(p);
}

// Every warp-level product of the tensor-core kernels has one of two forms, on 16 rows of the warp:
//   C[16×64] = A·Bᵀ      A: the warp's 16 rows, B: 64 rows, both D wide, row-major in shared memory
//                        (S = Q·Kᵀ, dP = dO·Vᵀ, and transposed Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ);
//   acc[16×D] += C·B     C[16×64] from accumulators of the first form (rounded to T, used as the A operand
//                        in place: mma_fragments.h), B: 64 rows of D in shared memory
//                        (O += P·V, dQ += dS·K, dV += Pᵀ·dO, dK += dSᵀ·Q).
constexpr int kScoreTiles = kMmaKeys / mma::kN;  // 8 accumulator tiles of 8 columns: 64 keys (or queries)

template <class T, int D>
__device__ void warp_product_abt(float (&c)[kScoreTiles][4], const T* a_rows, const T* b_rows) {
  constexpr int pitch = mma_pitch<D>();
  const int lane = threadIdx.x % kWarpSize;
  for (int n = 0; n < kScoreTiles; ++n)
    for (int value = 0; value < 4; ++value) c[n][value] = 0.0f;
  const mma::Coordinate b0 = mma::b_element(lane, 0, 0), b1 = mma::b_element(lane, 1, 0);
  for (int kk = 0; kk < D / mma::kK; ++kk) {
    uint32_t a[4];
    for (int r = 0; r < 4; ++r) {
      const mma::Coordinate at = mma::a_element(lane, r, 0);
      a[r] = shared_pair(a_rows + at.row * pitch + kk * mma::kK + at.column);
    }
    for (int n = 0; n < kScoreTiles; ++n) {
      const T* row = b_rows + (n * mma::kN + b0.column) * pitch + kk * mma::kK;  // B[k][n] = rows[n][k]
      mma_16816<T>(c[n], a, shared_pair(row + b0.row), shared_pair(row + b1.row));
    }
  }
}

template <class T, int D>
__device__ void warp_accumulate_ab(float (&acc)[D / mma::kN][4], const float (&c)[kScoreTiles][4], const T* b_rows) {
  constexpr int pitch = mma_pitch<D>();
  const int lane = threadIdx.x % kWarpSize;
  for (int kk = 0; kk < kMmaKeys / mma::kK; ++kk) {
    uint32_t a[4];
    for (int r = 0; r < 4; ++r) {
      const mma::AccumulatorSource lo = mma::p_fragment_source(r, 0), hi = mma::p_fragment_source(r, 1);
      a[r] = pack_pair<T>(c[2 * kk + lo.tile_offset][lo.value], c[2 * kk + hi.tile_offset][hi.value]);
    }
    for (int t = 0; t < D / mma::kN; ++t) {
      uint32_t b[2];
      for (int r = 0; r < 2; ++r) {
        const mma::Coordinate at = mma::b_element(lane, r, 0);  // B[k][n] = rows[k][n]: k and k + 1 are two rows
        const T* element = b_rows + (kk * mma::kK + at.row) * pitch + t * mma::kN + at.column;
        b[r] = pack_elements<T>(element[0], element[pitch]);
      }
      mma_16816<T>(acc[t], a, b[0], b[1]);
    }
  }
}

// Stores one warp's 16×D accumulator rows, times `factor`, into rows [row0, row0 + 16) of a contiguous
// [rows, D] output; rows at or beyond `rows` are skipped.
template <class T, int D>
__device__ void store_warp_rows(T* dst, int64_t row0, int64_t rows, const float (&acc)[D / mma::kN][4],
                                float factor) {
  const int lane = threadIdx.x % kWarpSize;
  for (int half = 0; half < 2; ++half) {
    const mma::Coordinate at = mma::c_element(lane, 2 * half);
    const int64_t row = row0 + at.row;
    if (row >= rows) continue;
    for (int t = 0; t < D / mma::kN; ++t)
      *reinterpret_cast<uint32_t*>(dst + row * D + t * mma::kN + at.column) =
          pack_pair<T>(acc[t][2 * half] * factor, acc[t][2 * half + 1] * factor);
  }
}

template <class T, int D, bool Vector>
__global__ void __launch_bounds__(kMmaThreads)
    attention_forward_mma_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                 const T* __restrict__ mask, T* __restrict__ out, T* __restrict__ logsumexp,
                                 AttentionGeometry g) {
  constexpr int pitch = mma_pitch<D>();
  constexpr int kSteps = D / mma::kK;      // k-steps of S = Q·Kᵀ
  constexpr int score_tiles = kMmaKeys / mma::kN;  // 8 n-tiles of scores per warp
  constexpr int out_tiles = D / mma::kN;   // n-tiles of the output
  const AttentionTiling tiling{g.length, g.keys, kMmaRows, g.causal};
  const int64_t query_tiles = tiling.query_tiles();
  const int64_t b = blockIdx.x / query_tiles, qt = blockIdx.x % query_tiles;
  const int64_t i0 = qt * kMmaRows;
  int64_t offsets[4];
  g.batch_offsets.offsets(b, offsets);
  const T* kb = k + offsets[1];
  const T* vb = v + offsets[2];
  const T* mb = mask ? mask + offsets[3] : nullptr;

  extern __shared__ __align__(16) unsigned char attention_mma_shared[];
  T* sQ = reinterpret_cast<T*>(attention_mma_shared);
  T* sK = sQ + kMmaRows * pitch;
  T* sV = sK + kMmaKeys * pitch;

  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int group = mma::group_of(lane), quad = mma::thread_in_group_of(lane);
  const int warp_row = warp * mma::kM;  // the warp's first row in the block's tile

  load_mma_tile<T, D, Vector>(sQ, q + offsets[0] + i0 * g.q_ld, g.q_ld, tiling.rows_in_query_tile(qt));
  __syncthreads();
  uint32_t qa[kSteps][4];
  for (int kk = 0; kk < kSteps; ++kk)
    for (int r = 0; r < 4; ++r) {
      const mma::Coordinate at = mma::a_element(lane, r, 0);
      qa[kk][r] = shared_pair(sQ + (warp_row + at.row) * pitch + kk * mma::kK + at.column);
    }

  float o[out_tiles][4] = {};
  // This lane's two rows (value halves 0 and 1 of the accumulators): the running maximum in base 2 and
  // this lane's share of the running sum (the 4 lanes of a group add theirs at the end).
  float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  int64_t row_index[2];
  for (int half = 0; half < 2; ++half) row_index[half] = i0 + warp_row + group + 8 * half;
  const float scale2 = static_cast<float>(g.scale) * kLog2e;

  const int64_t key_end = tiling.key_end(qt);
  for (int64_t j0 = 0; j0 < key_end; j0 += kMmaKeys) {
    __syncthreads();  // every warp is done with the previous K and V tiles
    const int64_t cols = key_end - j0 < kMmaKeys ? key_end - j0 : kMmaKeys;
    load_mma_tile<T, D, Vector>(sK, kb + j0 * g.k_ld, g.k_ld, cols);
    load_mma_tile<T, D, Vector>(sV, vb + j0 * g.v_ld, g.v_ld, cols);
    __syncthreads();

    float s[score_tiles][4] = {};
    for (int n = 0; n < score_tiles; ++n)
      for (int kk = 0; kk < kSteps; ++kk) {
        const mma::Coordinate b0 = mma::b_element(lane, 0, 0), b1 = mma::b_element(lane, 1, 0);
        const T* key_row = sK + (n * mma::kN + b0.column) * pitch + kk * mma::kK;  // B[k][n] = K[n][k]
        mma_16816<T>(s[n], qa[kk], shared_pair(key_row + b0.row), shared_pair(key_row + b1.row));
      }

    // Scores in base 2, masked; then the online softmax of each of this lane's two rows.
    float tile_max[2] = {-INFINITY, -INFINITY};
    for (int n = 0; n < score_tiles; ++n)
      for (int value = 0; value < 4; ++value) {
        const int half = value / 2;
        const int64_t i = row_index[half], j = j0 + n * mma::kN + mma::c_element(lane, value).column;
        float score2 = -INFINITY;
        if (j < g.keys && !(g.causal && j > i)) {
          score2 = s[n][value] * scale2;
          if (mb && i < g.length) score2 += load(mb[i * g.mask_row_stride + j * g.mask_column_stride]) * kLog2e;
        }
        s[n][value] = score2;
        tile_max[half] = fmaxf(tile_max[half], score2);
      }
    for (int half = 0; half < 2; ++half) {
      float m = tile_max[half];
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
      m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
      const float next = fmaxf(row_max[half], m);
      const float correction = next == -INFINITY ? 1.0f : exp2f(row_max[half] - next);
      row_max[half] = next;
      row_sum[half] *= correction;
      for (int t = 0; t < out_tiles; ++t) {
        o[t][2 * half] *= correction;
        o[t][2 * half + 1] *= correction;
      }
    }
    for (int n = 0; n < score_tiles; ++n)
      for (int value = 0; value < 4; ++value) {
        const int half = value / 2;
        const float p = row_max[half] == -INFINITY ? 0.0f : exp2f(s[n][value] - row_max[half]);
        s[n][value] = p;
        row_sum[half] += p;
      }

    warp_accumulate_ab<T, D>(o, s, sV);  // O += P·V
  }

  for (int half = 0; half < 2; ++half) {
    float sum = row_sum[half];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int64_t i = row_index[half];
    if (i >= g.length) continue;
    const float inverse = sum > 0.0f ? 1.0f / sum : 0.0f;
    T* out_row = out + (b * g.length + i) * D;
    for (int t = 0; t < out_tiles; ++t) {
      const int column = t * mma::kN + mma::c_element(lane, 2 * half).column;
      *reinterpret_cast<uint32_t*>(out_row + column) =
          pack_pair<T>(o[t][2 * half] * inverse, o[t][2 * half + 1] * inverse);
    }
    if (quad == 0)
      logsumexp[b * g.length + i] = store<T>(sum > 0.0f ? (row_max[half] + log2f(sum)) / kLog2e : INFINITY);
  }
}

// ---- the tensor-core backward (the same shapes as the forward) ----
//
// The two kernels of the CUDA-core backward, with every product on the tensor cores and P recomputed in
// base 2 from the saved log-sum-exp. By key tile (a block owns 64 keys, 16 per warp, and loops over the query
// tiles that see them) the warp computes its keys' rows of Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ, so that Pᵀ and
// dSᵀ = Pᵀ ⊙ (dPᵀ − D) are already the A operands of dV += Pᵀ·dO and dK += dSᵀ·Q. By query tile (64 rows,
// 16 per warp, looping over key tiles) S = Q·Kᵀ and dP = dO·Vᵀ give dS, the A operand of dQ += dS·K.
// Neither kernel needs atomics. P and dS are rounded to T before their products, as in the forward.

static_assert(kMmaRows == kMmaKeys, "the backward's causal bounds take square tiles");

template <class T, int D, bool Vector>
__global__ void __launch_bounds__(kMmaThreads)
    attention_backward_kv_mma_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                     const T* __restrict__ mask, const T* __restrict__ logsumexp,
                                     const float* __restrict__ delta, const T* __restrict__ grad_out,
                                     T* __restrict__ grad_k, T* __restrict__ grad_v, AttentionGeometry g) {
  constexpr int pitch = mma_pitch<D>();
  const AttentionTiling tiling{g.length, g.keys, kMmaKeys, g.causal};
  const int64_t key_tiles = tiling.key_tiles();
  const int64_t b = blockIdx.x / key_tiles, kt = blockIdx.x % key_tiles;
  const int64_t j0 = kt * kMmaKeys;
  int64_t offsets[4];
  g.batch_offsets.offsets(b, offsets);
  const T* mb = mask ? mask + offsets[3] : nullptr;

  extern __shared__ __align__(16) unsigned char attention_mma_shared[];
  T* sK = reinterpret_cast<T*>(attention_mma_shared);
  T* sV = sK + kMmaKeys * pitch;
  T* sQ = sV + kMmaKeys * pitch;
  T* sdO = sQ + kMmaRows * pitch;
  float* sLse2 = reinterpret_cast<float*>(sdO + kMmaRows * pitch);  // log-sum-exp·log₂e of the query tile's rows
  float* sDelta = sLse2 + kMmaRows;

  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warp_row = warp * mma::kM;  // the warp's first key in the block's tile
  load_mma_tile<T, D, Vector>(sK, k + offsets[1] + j0 * g.k_ld, g.k_ld, tiling.rows_in_key_tile(kt));
  load_mma_tile<T, D, Vector>(sV, v + offsets[2] + j0 * g.v_ld, g.v_ld, tiling.rows_in_key_tile(kt));
  float dk[D / mma::kN][4] = {}, dv[D / mma::kN][4] = {};
  const float scale2 = static_cast<float>(g.scale) * kLog2e;

  for (int64_t qt = tiling.first_query_tile(kt); qt < tiling.query_tiles(); ++qt) {
    const int64_t i0 = qt * kMmaRows, rows = tiling.rows_in_query_tile(qt), row0 = b * g.length + i0;
    __syncthreads();  // every warp is done with the previous query tile
    load_mma_tile<T, D, Vector>(sQ, q + offsets[0] + i0 * g.q_ld, g.q_ld, rows);
    load_mma_tile<T, D, Vector>(sdO, grad_out + row0 * D, D, rows);
    for (int r = threadIdx.x; r < kMmaRows; r += blockDim.x) {
      sLse2[r] = r < rows ? load(logsumexp[row0 + r]) * kLog2e : INFINITY;  // +∞: P = 0
      sDelta[r] = r < rows ? delta[row0 + r] : 0.0f;
    }
    __syncthreads();

    float st[kScoreTiles][4], dpt[kScoreTiles][4];
    warp_product_abt<T, D>(st, sK + warp_row * pitch, sQ);    // Sᵀ: the warp's 16 keys × 64 queries
    warp_product_abt<T, D>(dpt, sV + warp_row * pitch, sdO);  // dPᵀ = V·dOᵀ
    for (int n = 0; n < kScoreTiles; ++n)
      for (int value = 0; value < 4; ++value) {
        const mma::Coordinate at = mma::c_element(lane, value);
        const int column = n * mma::kN + at.column;
        const int64_t j = j0 + warp_row + at.row, i = i0 + column;  // key j is the row, query i the column
        float p = 0.0f;
        if (i < g.length && j < g.keys && !(g.causal && j > i) && sLse2[column] != INFINITY) {
          float score2 = st[n][value] * scale2;
          if (mb) score2 += load(mb[i * g.mask_row_stride + j * g.mask_column_stride]) * kLog2e;
          p = exp2f(score2 - sLse2[column]);
        }
        st[n][value] = p;                                   // Pᵀ
        dpt[n][value] = p * (dpt[n][value] - sDelta[column]);  // dSᵀ
      }
    warp_accumulate_ab<T, D>(dv, st, sdO);  // dV += Pᵀ·dO
    warp_accumulate_ab<T, D>(dk, dpt, sQ);  // dK += dSᵀ·Q
  }
  const int64_t key_rows = b * g.keys + g.keys;  // rows of this batch·head end here
  store_warp_rows<T, D>(grad_k, b * g.keys + j0 + warp_row, key_rows, dk, static_cast<float>(g.scale));
  store_warp_rows<T, D>(grad_v, b * g.keys + j0 + warp_row, key_rows, dv, 1.0f);
}

template <class T, int D, bool Vector>
__global__ void __launch_bounds__(kMmaThreads)
    attention_backward_q_mma_kernel(const T* __restrict__ q, const T* __restrict__ k, const T* __restrict__ v,
                                    const T* __restrict__ mask, const T* __restrict__ logsumexp,
                                    const float* __restrict__ delta, const T* __restrict__ grad_out,
                                    T* __restrict__ grad_q, AttentionGeometry g) {
  constexpr int pitch = mma_pitch<D>();
  const AttentionTiling tiling{g.length, g.keys, kMmaRows, g.causal};
  const int64_t query_tiles = tiling.query_tiles();
  const int64_t b = blockIdx.x / query_tiles, qt = blockIdx.x % query_tiles;
  const int64_t i0 = qt * kMmaRows, rows = tiling.rows_in_query_tile(qt), row0 = b * g.length + i0;
  int64_t offsets[4];
  g.batch_offsets.offsets(b, offsets);
  const T* kb = k + offsets[1];
  const T* vb = v + offsets[2];
  const T* mb = mask ? mask + offsets[3] : nullptr;

  extern __shared__ __align__(16) unsigned char attention_mma_shared[];
  T* sQ = reinterpret_cast<T*>(attention_mma_shared);
  T* sdO = sQ + kMmaRows * pitch;
  T* sK = sdO + kMmaRows * pitch;
  T* sV = sK + kMmaKeys * pitch;

  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int warp_row = warp * mma::kM;
  load_mma_tile<T, D, Vector>(sQ, q + offsets[0] + i0 * g.q_ld, g.q_ld, rows);
  load_mma_tile<T, D, Vector>(sdO, grad_out + row0 * D, D, rows);
  // This lane's two rows: their log-sum-exp·log₂e (+∞ beyond L: P = 0) and D.
  float lse2[2], row_delta[2];
  int64_t row_index[2];
  for (int half = 0; half < 2; ++half) {
    const int local = warp_row + mma::c_element(lane, 2 * half).row;
    row_index[half] = i0 + local;
    lse2[half] = local < rows ? load(logsumexp[row0 + local]) * kLog2e : INFINITY;
    row_delta[half] = local < rows ? delta[row0 + local] : 0.0f;
  }
  float dq[D / mma::kN][4] = {};
  const float scale2 = static_cast<float>(g.scale) * kLog2e;

  const int64_t key_end = tiling.key_end(qt);
  for (int64_t j0 = 0; j0 < key_end; j0 += kMmaKeys) {
    __syncthreads();  // every warp is done with the previous K and V tiles (and, the first time, sQ is loaded)
    const int64_t cols = key_end - j0 < kMmaKeys ? key_end - j0 : kMmaKeys;
    load_mma_tile<T, D, Vector>(sK, kb + j0 * g.k_ld, g.k_ld, cols);
    load_mma_tile<T, D, Vector>(sV, vb + j0 * g.v_ld, g.v_ld, cols);
    __syncthreads();

    float s[kScoreTiles][4], dp[kScoreTiles][4];
    warp_product_abt<T, D>(s, sQ + warp_row * pitch, sK);    // S = Q·Kᵀ
    warp_product_abt<T, D>(dp, sdO + warp_row * pitch, sV);  // dP = dO·Vᵀ
    for (int n = 0; n < kScoreTiles; ++n)
      for (int value = 0; value < 4; ++value) {
        const int half = value / 2;
        const int64_t i = row_index[half], j = j0 + n * mma::kN + mma::c_element(lane, value).column;
        float p = 0.0f;
        if (i < g.length && j < g.keys && !(g.causal && j > i) && lse2[half] != INFINITY) {
          float score2 = s[n][value] * scale2;
          if (mb) score2 += load(mb[i * g.mask_row_stride + j * g.mask_column_stride]) * kLog2e;
          p = exp2f(score2 - lse2[half]);
        }
        s[n][value] = p * (dp[n][value] - row_delta[half]);  // dS
      }
    warp_accumulate_ab<T, D>(dq, s, sK);  // dQ += dS·K
  }
  store_warp_rows<T, D>(grad_q, row0 + warp_row, b * g.length + g.length, dq, static_cast<float>(g.scale));
}

// ---- host side ----

// Shared memory of each kernel for a tile size, in elements of Acc (the kernels' carving, summed).
struct SharedElements {
  int64_t forward, backward_kv, backward_q;
};
inline SharedElements shared_elements(int64_t tile, int64_t embed, int64_t value_embed) {
  const int64_t kp = key_pitch(embed);
  return {tile * (embed + kp + 2 * value_embed + tile + 3), tile * (kp + 2 * value_embed + 2 * embed + value_embed + 2 * tile + 2),
          tile * (2 * embed + value_embed + kp + value_embed + tile + 2)};
}

int max_shared_bytes() {
  int device = 0, bytes = 0;
  VIREO_CUDA_CHECK(cudaGetDevice(&device));
  VIREO_CUDA_CHECK(cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  return bytes;
}

// The largest tile whose kernels all fit the device's shared memory.
int choose_tile(const char* op, int64_t embed, int64_t value_embed, size_t acc_bytes) {
  const int64_t limit = max_shared_bytes();
  for (int tile = kLargestTile; tile >= 1; tile /= 2) {
    const SharedElements s = shared_elements(tile, embed, value_embed);
    if (std::max({s.forward, s.backward_kv, s.backward_q}) * static_cast<int64_t>(acc_bytes) <= limit) return tile;
  }
  fail(op, ": head dimensions E = ", embed, " and Ev = ", value_embed, " do not fit the GPU's ", limit,
       " bytes of shared memory per block in ", acc_bytes == 8 ? "f64" : "f32");
}

// Allows a kernel more than the default 48 KiB of dynamic shared memory when it needs it.
template <class Kernel>
void allow_shared(Kernel kernel, int64_t bytes) {
  if (bytes > 48 * 1024)
    VIREO_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes)));
}

Shape leading(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

AttentionGeometry geometry(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                           bool causal, double scale, size_t acc_bytes) {
  AttentionGeometry g;
  const Shape batch_shape = leading(q.shape());
  g.batch = 1;
  for (int64_t extent : batch_shape) g.batch *= extent;
  g.length = q.size(-2);
  g.keys = k.size(-2);
  g.embed = q.size(-1);
  g.value_embed = v.size(-1);
  const int64_t nd = q.dim();
  g.q_ld = q.strides()[nd - 2];
  g.k_ld = k.strides()[nd - 2];
  g.v_ld = v.strides()[nd - 2];
  const Shape q_batch = leading(q.strides()), k_batch = leading(k.strides()), v_batch = leading(v.strides());
  const Shape m_batch = mask.defined() ? leading(mask.strides()) : Shape(batch_shape.size(), 0);
  if (mask.defined()) {
    g.mask_row_stride = mask.strides()[nd - 2];
    g.mask_column_stride = mask.strides()[nd - 1];
  }
  g.batch_offsets = make_offset_calculator<4>(batch_shape, {&q_batch, &k_batch, &v_batch, &m_batch});
  g.scale = scale;
  g.causal = causal;
  g.tile = choose_tile(op, g.embed, g.value_embed, acc_bytes);
  return g;
}

template <class T>
const T* optional_data(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}

// Whether every row of q, k and v that a block loads starts on a 16-byte boundary: the base pointers, the
// rows' leading dimensions and every batch·head offset are multiples of 8 elements of 2 bytes.
bool rows_are_16_byte_aligned(const Tensor& q, const Tensor& k, const Tensor& v) {
  for (const Tensor* t : {&q, &k, &v}) {
    if (reinterpret_cast<uintptr_t>(t->raw_data()) % 16 != 0) return false;
    for (int64_t d = 0; d + 1 < t->dim(); ++d)
      if (t->size(d) > 1 && t->strides()[d] % 8 != 0) return false;
  }
  return true;
}

// The tensor-core forward takes f16 and bf16 with E = Ev = 64 or 128, on a build for sm_80 or newer (mma.sync
// on bf16), unless set_tensor_core_attention(false) asked for the CUDA-core kernel.
template <class T>
bool tensor_core_attention_applies(const AttentionGeometry& g) {
  constexpr bool sixteen_bit = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
  return sixteen_bit && VIREO_CUDA_MIN_ARCH >= 80 && tensor_core_attention() && g.embed == g.value_embed &&
         (g.embed == 64 || g.embed == 128);
}

template <class T, int D>
void launch_attention_forward_mma(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                  const AttentionGeometry& g, const Tensor& out, const Tensor& logsumexp) {
  const int64_t blocks = g.batch * AttentionTiling{g.length, g.keys, kMmaRows, g.causal}.query_tiles();
  const int64_t bytes = (kMmaRows + 2 * kMmaKeys) * mma_pitch<D>() * static_cast<int64_t>(sizeof(T));
  auto launch = [&](auto kernel) {
    allow_shared(kernel, bytes);
    kernel<<<static_cast<unsigned>(blocks), kMmaThreads, bytes, stream()>>>(
        static_cast<const T*>(q.raw_data()), static_cast<const T*>(k.raw_data()), static_cast<const T*>(v.raw_data()),
        optional_data<T>(mask), static_cast<T*>(out.raw_data()), static_cast<T*>(logsumexp.raw_data()), g);
    VIREO_CUDA_CHECK_LAUNCH();
  };
  if (rows_are_16_byte_aligned(q, k, v)) launch(attention_forward_mma_kernel<T, D, true>);
  else launch(attention_forward_mma_kernel<T, D, false>);
}

template <class T, int D>
void launch_attention_backward_mma(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                   const AttentionGeometry& g, const Tensor& logsumexp, const DeviceBuffer& delta,
                                   const Tensor& grad_out, const Tensor& grad_q, const Tensor& grad_k,
                                   const Tensor& grad_v, bool vector) {
  const AttentionTiling tiling{g.length, g.keys, kMmaRows, g.causal};
  const T* q_p = static_cast<const T*>(q.raw_data());
  const T* k_p = static_cast<const T*>(k.raw_data());
  const T* v_p = static_cast<const T*>(v.raw_data());
  const T* mask_p = optional_data<T>(mask);
  const T* lse_p = static_cast<const T*>(logsumexp.raw_data());
  const T* dout_p = static_cast<const T*>(grad_out.raw_data());
  const int64_t tile_bytes = kMmaRows * mma_pitch<D>() * static_cast<int64_t>(sizeof(T));
  const int64_t kv_blocks = g.batch * tiling.key_tiles();
  if (kv_blocks > 0) {  // with no query rows this writes the zero dK and dV
    const int64_t bytes = 4 * tile_bytes + 2 * kMmaRows * static_cast<int64_t>(sizeof(float));
    auto launch = [&](auto kernel) {
      allow_shared(kernel, bytes);
      kernel<<<static_cast<unsigned>(kv_blocks), kMmaThreads, bytes, stream()>>>(
          q_p, k_p, v_p, mask_p, lse_p, delta.as<float>(), dout_p, static_cast<T*>(grad_k.raw_data()),
          static_cast<T*>(grad_v.raw_data()), g);
      VIREO_CUDA_CHECK_LAUNCH();
    };
    if (vector) launch(attention_backward_kv_mma_kernel<T, D, true>);
    else launch(attention_backward_kv_mma_kernel<T, D, false>);
  }
  const int64_t q_blocks = g.batch * tiling.query_tiles();
  if (q_blocks > 0) {  // with no keys this writes the zero dQ
    const int64_t bytes = 4 * tile_bytes;
    auto launch = [&](auto kernel) {
      allow_shared(kernel, bytes);
      kernel<<<static_cast<unsigned>(q_blocks), kMmaThreads, bytes, stream()>>>(
          q_p, k_p, v_p, mask_p, lse_p, delta.as<float>(), dout_p, static_cast<T*>(grad_q.raw_data()), g);
      VIREO_CUDA_CHECK_LAUNCH();
    };
    if (vector) launch(attention_backward_q_mma_kernel<T, D, true>);
    else launch(attention_backward_q_mma_kernel<T, D, false>);
  }
}

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                       double scale, const Tensor& out, const Tensor& logsumexp) {
  dispatch_floating("attention_forward", q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = Compute<T>;
    const AttentionGeometry g = geometry("attention_forward", q, k, v, mask, causal, scale, sizeof(Acc));
    if (g.batch * g.length == 0) return;
    if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) {
      if (tensor_core_attention_applies<T>(g)) {
        if (g.embed == 64) launch_attention_forward_mma<T, 64>(q, k, v, mask, g, out, logsumexp);
        else launch_attention_forward_mma<T, 128>(q, k, v, mask, g, out, logsumexp);
        return;
      }
    }
    const int64_t blocks = g.batch * g.tiling().query_tiles();
    if (blocks == 0) return;
    const int64_t bytes = shared_elements(g.tile, g.embed, g.value_embed).forward * sizeof(Acc);
    allow_shared(attention_forward_kernel<T>, bytes);
    attention_forward_kernel<T><<<static_cast<unsigned>(blocks), kAttentionThreads, bytes, stream()>>>(
        static_cast<const T*>(q.raw_data()), static_cast<const T*>(k.raw_data()), static_cast<const T*>(v.raw_data()),
        optional_data<T>(mask), static_cast<T*>(out.raw_data()), static_cast<T*>(logsumexp.raw_data()), g);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                        double scale, const Tensor& out, const Tensor& logsumexp, const Tensor& grad_out,
                        const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
  dispatch_floating("attention_backward", q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = Compute<T>;
    const AttentionGeometry g = geometry("attention_backward", q, k, v, mask, causal, scale, sizeof(Acc));
    const AttentionTiling tiling = g.tiling();
    const T* mask_p = optional_data<T>(mask);
    const T* q_p = static_cast<const T*>(q.raw_data());
    const T* k_p = static_cast<const T*>(k.raw_data());
    const T* v_p = static_cast<const T*>(v.raw_data());
    const T* lse_p = static_cast<const T*>(logsumexp.raw_data());
    const T* dout_p = static_cast<const T*>(grad_out.raw_data());
    const int64_t rows = g.batch * g.length;
    DeviceBuffer delta(static_cast<size_t>(std::max<int64_t>(rows, 1)) * sizeof(Acc));
    if (rows > 0) {
      attention_delta_kernel<T><<<blocks_for(rows * kWarpSize), kThreads, 0, stream()>>>(
          static_cast<const T*>(out.raw_data()), dout_p, delta.as<Acc>(), rows, g.value_embed);
      VIREO_CUDA_CHECK_LAUNCH();
    }
    if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) {
      if (tensor_core_attention_applies<T>(g)) {
        const bool vector = rows_are_16_byte_aligned(q, k, v) &&
                            reinterpret_cast<uintptr_t>(grad_out.raw_data()) % 16 == 0;
        if (g.embed == 64) launch_attention_backward_mma<T, 64>(q, k, v, mask, g, logsumexp, delta, grad_out, grad_q,
                                                                grad_k, grad_v, vector);
        else launch_attention_backward_mma<T, 128>(q, k, v, mask, g, logsumexp, delta, grad_out, grad_q, grad_k,
                                                   grad_v, vector);
        return;
      }
    }
    const SharedElements shared = shared_elements(g.tile, g.embed, g.value_embed);
    const int64_t kv_blocks = g.batch * tiling.key_tiles();
    if (kv_blocks > 0) {  // with no query rows this writes the zero dK and dV
      const int64_t bytes = shared.backward_kv * sizeof(Acc);
      allow_shared(attention_backward_kv_kernel<T>, bytes);
      attention_backward_kv_kernel<T><<<static_cast<unsigned>(kv_blocks), kAttentionThreads, bytes, stream()>>>(
          q_p, k_p, v_p, mask_p, lse_p, delta.as<Acc>(), dout_p, static_cast<T*>(grad_k.raw_data()),
          static_cast<T*>(grad_v.raw_data()), g);
      VIREO_CUDA_CHECK_LAUNCH();
    }
    const int64_t q_blocks = g.batch * tiling.query_tiles();
    if (q_blocks > 0) {  // with no keys this writes the zero dQ
      const int64_t bytes = shared.backward_q * sizeof(Acc);
      allow_shared(attention_backward_q_kernel<T>, bytes);
      attention_backward_q_kernel<T><<<static_cast<unsigned>(q_blocks), kAttentionThreads, bytes, stream()>>>(
          q_p, k_p, v_p, mask_p, lse_p, delta.as<Acc>(), dout_p, static_cast<T*>(grad_q.raw_data()), g);
      VIREO_CUDA_CHECK_LAUNCH();
    }
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::attention_forward, DeviceType::cuda, attention_forward);
VIREO_REGISTER_KERNEL(kernels::attention_backward, DeviceType::cuda, attention_backward);

}  // namespace vireo::cuda
