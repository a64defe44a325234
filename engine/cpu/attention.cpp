// CPU scaled dot-product attention, flash-style: for each batch·head and block of query rows, the scores
// against one block of keys at a time come from a GEMM, the softmax is accumulated online (running maximum
// and running sum, rescaling the partial output when the maximum grows), and the output block is another
// GEMM. No [L, S] matrix ever exists; backward recomputes each block of probabilities from the saved
// log-sum-exp. The plain reference these kernels are tested against is written out in
// tests/engine/test_attention.cpp.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/vector_exp.h"
#include "engine/kernels/attention.h"

namespace vireo::cpu {
namespace {

// Block sizes: a [128 × 256] f32 score block is 128 KiB, at home in the 1 MiB L2 next to the K and V blocks.
constexpr int64_t kQueryBlock = 128;
constexpr int64_t kKeyBlock = 256;

// exp: cpu::exp_kernel (engine/cpu/vector_exp.h) — vectorizable for f32, exact for f64; exp(−∞) = 0, so
// masked scores get zero probability.

// An operand [B..., rows, cols] read as rows with unit column stride: row `i` of batch `b` starts at
// data + batch_offset[b] + i·ld.
template <class T>
struct RowMajorBatch {
  const T* data = nullptr;
  int64_t ld = 0;
  int64_t column_stride = 1;  // only the mask may have another (0 when broadcast along S)
  std::vector<int64_t> batch_offset;
  const T* row(int64_t b, int64_t i) const { return data + batch_offset[b] + i * ld; }
};

template <class T>
RowMajorBatch<T> rows_of(const Tensor& t, int64_t batch) {
  RowMajorBatch<T> view;
  view.data = t.data<T>();
  const int64_t nd = t.dim();
  // A single row has no meaningful row stride; any value ≥ the row length keeps GEMM's contract.
  view.ld = t.size(-2) <= 1 ? std::max<int64_t>(t.size(-1), 1) : t.strides()[nd - 2];
  view.column_stride = t.strides()[nd - 1];
  view.batch_offset.resize(batch);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t rest = b, offset = 0;
    for (int64_t d = nd - 3; d >= 0; --d) {
      offset += (rest % t.shape()[d]) * t.strides()[d];
      rest /= t.shape()[d];
    }
    view.batch_offset[b] = offset;
  }
  return view;
}

// Scores of query row i against keys [j0, j0 + cols): adds the mask and sets −∞ where causal forbids.
template <class T>
void mask_scores(T* s, int64_t cols, const RowMajorBatch<T>& mask, int64_t b, int64_t i, int64_t j0, bool causal) {
  if (mask.data) {
    const T* m = mask.row(b, i);
    if (mask.column_stride == 1) {
      m += j0;
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) s[c] += m[c];
    } else {
      for (int64_t c = 0; c < cols; ++c) s[c] += m[(j0 + c) * mask.column_stride];
    }
  }
  if (causal)
    for (int64_t c = std::max<int64_t>(0, i + 1 - j0); c < cols; ++c) s[c] = -std::numeric_limits<T>::infinity();
}

// Query rows [i0, i1) split in near-equal blocks of at most kQueryBlock rows.
inline int64_t query_blocks(int64_t length) { return std::max<int64_t>(1, (length + kQueryBlock - 1) / kQueryBlock); }

// For each query block, over key blocks j (scores s = scale·Q·Kⱼᵀ + mask, −∞ where causal forbids):
//   m' = max(m, max_j s),  ℓ' = ℓ·e^(m − m') + Σ_j e^(s − m'),  acc' = acc·e^(m − m') + e^(s − m')·Vⱼ
// then out = acc/ℓ and logsumexp = m + log ℓ. A row whose scores are all −∞ keeps ℓ = 0: out = 0,
// logsumexp = +∞.
template <class T>
void attention_forward_typed(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                             double scale, const Tensor& out, const Tensor& logsumexp) {
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const int64_t length = q.size(-2), embed = q.size(-1), keys = k.size(-2), value_embed = v.size(-1);
  const int64_t batch = length == 0 ? 0 : logsumexp.numel() / length;
  const RowMajorBatch<T> Q = rows_of<T>(q, batch), K = rows_of<T>(k, batch), V = rows_of<T>(v, batch);
  const RowMajorBatch<T> M = mask.defined() ? rows_of<T>(mask, batch) : RowMajorBatch<T>{};
  T* out_p = out.data<T>();
  T* lse_p = logsumexp.data<T>();
  const int64_t blocks = query_blocks(length);
  const T alpha = static_cast<T>(scale);

  // A thread is worth waking for about 64K multiply-adds of work; tiny problems stay on one thread.
  const int64_t task_work = std::max<int64_t>(1, (length / blocks) * keys * (embed + value_embed));
  parallel_for(0, batch * blocks, std::max<int64_t>(1, 65536 / task_work), [&](int64_t lo, int64_t hi) {
    std::vector<T> scores(kQueryBlock * kKeyBlock), acc(kQueryBlock * value_embed), row_max(kQueryBlock),
        row_sum(kQueryBlock);
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t b = task / blocks, block = task % blocks;
      const int64_t i0 = length * block / blocks, i1 = length * (block + 1) / blocks, rows = i1 - i0;
      if (rows == 0) continue;
      std::fill(row_max.begin(), row_max.begin() + rows, -kInf);
      std::fill(row_sum.begin(), row_sum.begin() + rows, T(0));
      std::fill(acc.begin(), acc.begin() + rows * value_embed, T(0));
      const int64_t key_end = causal ? std::min(keys, i1) : keys;  // later keys are forbidden to every row
      for (int64_t j0 = 0; j0 < key_end; j0 += kKeyBlock) {
        const int64_t cols = std::min(kKeyBlock, key_end - j0);
        gemm(false, true, rows, cols, embed, alpha, Q.row(b, i0), Q.ld, K.row(b, j0), K.ld, T(0), scores.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
          T* s = scores.data() + r * cols;
          mask_scores(s, cols, M, b, i0 + r, j0, causal);
          T block_max = -kInf;
#pragma omp simd reduction(max : block_max)
          for (int64_t c = 0; c < cols; ++c) block_max = s[c] > block_max ? s[c] : block_max;
          const T previous = row_max[r], current = std::max(previous, block_max);
          if (current == -kInf) {  // nothing allowed yet in this row: the block contributes nothing
            std::fill(s, s + cols, T(0));
            continue;
          }
          T sum = 0;
#pragma omp simd reduction(+ : sum)
          for (int64_t c = 0; c < cols; ++c) {
            const T p = exp_kernel(s[c] - current);
            s[c] = p;
            sum += p;
          }
          const T correction = exp_kernel(previous - current);  // 0 when previous = −∞
          row_sum[r] = row_sum[r] * correction + sum;
          row_max[r] = current;
          if (correction != T(1)) {
            T* a = acc.data() + r * value_embed;
#pragma omp simd
            for (int64_t e = 0; e < value_embed; ++e) a[e] *= correction;
          }
        }
        gemm(false, false, rows, value_embed, cols, T(1), scores.data(), cols, V.row(b, j0), V.ld, T(1), acc.data(),
             value_embed);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r;
        T* o = out_p + (b * length + i) * value_embed;
        const T* a = acc.data() + r * value_embed;
        const T l = row_sum[r];
        if (l > T(0)) {
          const T inverse = T(1) / l;
#pragma omp simd
          for (int64_t e = 0; e < value_embed; ++e) o[e] = a[e] * inverse;
          lse_p[b * length + i] = row_max[r] + std::log(l);
        } else {
          std::fill(o, o + value_embed, T(0));
          lse_p[b * length + i] = kInf;
        }
      }
    }
  });
}

// Per batch·head, D_i = Σ_e dO_ie·O_ie, then for each query block × key block, recomputing
// P = exp(scale·Q·Kᵀ + mask − logsumexp):
//   dV_j += Pᵀ·dO_i,  dP = dO_i·V_jᵀ,  dS = P ⊙ (dP − D),  dQ_i += scale·dS·K_j,  dK_j += scale·dSᵀ·Q_i.
// dK and dV gather contributions from every query block, so one task owns one batch·head: the sums run in
// a fixed order (deterministic), and a lone batch·head lets the GEMMs use every thread instead.
template <class T>
void attention_backward_typed(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                              double scale, const Tensor& out, const Tensor& logsumexp, const Tensor& grad_out,
                              const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
  const int64_t length = q.size(-2), embed = q.size(-1), keys = k.size(-2), value_embed = v.size(-1);
  const int64_t batch = length == 0 ? 0 : logsumexp.numel() / length;
  const RowMajorBatch<T> Q = rows_of<T>(q, batch), K = rows_of<T>(k, batch), V = rows_of<T>(v, batch);
  const RowMajorBatch<T> M = mask.defined() ? rows_of<T>(mask, batch) : RowMajorBatch<T>{};
  const T* out_p = out.data<T>();
  const T* lse_p = logsumexp.data<T>();
  const T* dout_p = grad_out.data<T>();
  T* dq_p = grad_q.data<T>();
  T* dk_p = grad_k.data<T>();
  T* dv_p = grad_v.data<T>();
  // With no query rows there is nothing to attend: dK and dV are zero (the loop below sees no batch).
  if (batch == 0) {
    std::fill(dk_p, dk_p + grad_k.numel(), T(0));
    std::fill(dv_p, dv_p + grad_v.numel(), T(0));
    return;
  }
  const int64_t blocks = query_blocks(length);
  const T alpha = static_cast<T>(scale);

  const int64_t task_work = std::max<int64_t>(1, length * keys * (2 * embed + 2 * value_embed));
  parallel_for(0, batch, std::max<int64_t>(1, 65536 / task_work), [&](int64_t lo, int64_t hi) {
    std::vector<T> probs(kQueryBlock * kKeyBlock), dprobs(kQueryBlock * kKeyBlock), delta(length);
    for (int64_t b = lo; b < hi; ++b) {
      const T* o = out_p + b * length * value_embed;
      const T* dout = dout_p + b * length * value_embed;
      T* dq = dq_p + b * length * embed;
      T* dk = dk_p + b * keys * embed;
      T* dv = dv_p + b * keys * value_embed;
      std::fill(dq, dq + length * embed, T(0));
      std::fill(dk, dk + keys * embed, T(0));
      std::fill(dv, dv + keys * value_embed, T(0));
      for (int64_t i = 0; i < length; ++i) {
        T d = 0;
#pragma omp simd reduction(+ : d)
        for (int64_t e = 0; e < value_embed; ++e) d += dout[i * value_embed + e] * o[i * value_embed + e];
        delta[i] = d;
      }
      for (int64_t block = 0; block < blocks; ++block) {
        const int64_t i0 = length * block / blocks, i1 = length * (block + 1) / blocks, rows = i1 - i0;
        if (rows == 0) continue;
        const int64_t key_end = causal ? std::min(keys, i1) : keys;
        for (int64_t j0 = 0; j0 < key_end; j0 += kKeyBlock) {
          const int64_t cols = std::min(kKeyBlock, key_end - j0);
          T* p = probs.data();
          T* ds = dprobs.data();
          gemm(false, true, rows, cols, embed, alpha, Q.row(b, i0), Q.ld, K.row(b, j0), K.ld, T(0), p, cols);
          for (int64_t r = 0; r < rows; ++r) {
            T* s = p + r * cols;
            mask_scores(s, cols, M, b, i0 + r, j0, causal);
            const T lse = lse_p[b * length + i0 + r];  // +∞ for a fully masked row: every P is 0
#pragma omp simd
            for (int64_t c = 0; c < cols; ++c) s[c] = exp_kernel(s[c] - lse);
          }
          gemm(true, false, cols, value_embed, rows, T(1), p, cols, dout + i0 * value_embed, value_embed, T(1),
               dv + j0 * value_embed, value_embed);
          gemm(false, true, rows, cols, value_embed, T(1), dout + i0 * value_embed, value_embed, V.row(b, j0), V.ld,
               T(0), ds, cols);
          for (int64_t r = 0; r < rows; ++r) {
            const T d = delta[i0 + r];
            T* dsr = ds + r * cols;
            const T* pr = p + r * cols;
#pragma omp simd
            for (int64_t c = 0; c < cols; ++c) dsr[c] = pr[c] * (dsr[c] - d);
          }
          gemm(false, false, rows, embed, cols, alpha, ds, cols, K.row(b, j0), K.ld, T(1), dq + i0 * embed, embed);
          gemm(true, false, cols, embed, rows, alpha, ds, cols, Q.row(b, i0), Q.ld, T(1), dk + j0 * embed, embed);
        }
      }
    }
  });
}

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                       double scale, const Tensor& out, const Tensor& logsumexp) {
  switch (q.dtype()) {
    case DType::f32: return attention_forward_typed<float>(q, k, v, mask, causal, scale, out, logsumexp);
    case DType::f64: return attention_forward_typed<double>(q, k, v, mask, causal, scale, out, logsumexp);
    default: refuse_dtype("attention_forward", q.dtype());
  }
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal,
                        double scale, const Tensor& out, const Tensor& logsumexp, const Tensor& grad_out,
                        const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
  switch (q.dtype()) {
    case DType::f32:
      return attention_backward_typed<float>(q, k, v, mask, causal, scale, out, logsumexp, grad_out, grad_q, grad_k,
                                             grad_v);
    case DType::f64:
      return attention_backward_typed<double>(q, k, v, mask, causal, scale, out, logsumexp, grad_out, grad_q, grad_k,
                                              grad_v);
    default: refuse_dtype("attention_backward", q.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::attention_forward, DeviceType::cpu, attention_forward);
VIREO_REGISTER_KERNEL(kernels::attention_backward, DeviceType::cpu, attention_backward);

}  // namespace vireo::cpu
