// CPU GEMM. f32 with AVX-512: a packed, cache-blocked kernel in the GotoBLAS/BLIS structure. Without
// AVX-512 (the portable build), and for f64 (used by gradient checks), Eigen's blocked product.
//
//   C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C
//
// The packed algorithm (five loops around a register-resident micro-kernel):
//
//   for jc in N by NC:                         B block   op(B)[pc:pc+kc, jc:jc+nc] → packed, lives in L3
//     for pc in K by KC:
//       pack B block into NR-column micro-panels   Bp[j/NR][p][j%NR]
//       for ic in M by MC:                     A block   op(A)[ic:ic+mc, pc:pc+kc] → packed, lives in L2
//         pack A block into MR-row micro-panels    Ap[i/MR][p][i%MR]
//         for jr in nc by NR:                  one B micro-panel (kc×NR) stays in L1
//           for ir in mc by MR:                A micro-panels stream from L2
//             C[ir:ir+MR, jr:jr+NR] = alpha · Σ_p Ap[ir][p][:] ⊗ Bp[jr][p][:] + beta' · C[...]
//
// with beta' = beta for the first K block and 1 for the others. Packing makes every operand layout
// (trans_a/trans_b, any leading dimension) look the same to the micro-kernel and zero-pads the partial
// panels at the M and N edges, so the micro-kernel always runs a full MR×NR tile and only its
// write-back is masked. Each element of C accumulates its K products in the same order (K blocks in
// order, p in order within a block) whatever the thread count or the tile it falls in: results are
// bitwise identical for any number of threads.
#include "engine/cpu/gemm.h"

// GCC 12's AVX-512 headers build shuffles from a deliberately uninitialized vector (_mm512_undefined_ps),
// which -W(maybe-)uninitialized reports at every inlined use, in Eigen's kernels and in ours alike.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <Eigen/Core>
#include <algorithm>
#include <cstdlib>
#include <new>

#include "engine/cpu/parallel.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace vireo::cpu {
namespace {

template <class T>
void gemm_eigen(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const T* row_bias) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  Eigen::Map<Matrix, 0, Stride> C(c, m, n, Stride(ldc));
  if (beta == T(0)) C.setZero();
  else if (beta != T(1)) C *= beta;
  if (row_bias) C.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(row_bias, n);
  auto A = Eigen::Map<const Matrix, 0, Stride>(a, trans_a ? k : m, trans_a ? m : k, Stride(lda));
  auto B = Eigen::Map<const Matrix, 0, Stride>(b, trans_b ? n : k, trans_b ? k : n, Stride(ldb));
  if (!trans_a && !trans_b) C.noalias() += alpha * A * B;
  else if (trans_a && !trans_b) C.noalias() += alpha * A.transpose() * B;
  else if (!trans_a && trans_b) C.noalias() += alpha * A * B.transpose();
  else C.noalias() += alpha * A.transpose() * B.transpose();
}

// Eigen's product run in fixed-width column slabs of C, each single-threaded. Eigen's own threading splits
// the work by the thread count, which changes the summation order; slabs of a fixed width make every
// element's sum the same for any number of threads, as the packed kernel guarantees.
template <class T>
void gemm_eigen_deterministic(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                              int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const T* row_bias) {
  static const bool single_threaded_eigen = (Eigen::setNbThreads(1), true);
  (void)single_threaded_eigen;
  constexpr int64_t kSlab = 256;
  const int64_t slabs = (n + kSlab - 1) / kSlab;
  parallel_for(0, slabs, std::max<int64_t>(1, (int64_t{1} << 21) / std::max<int64_t>(1, m * k * kSlab)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t slab = lo; slab < hi; ++slab) {
                   const int64_t j0 = slab * kSlab, width = std::min(kSlab, n - j0);
                   gemm_eigen(trans_a, trans_b, m, width, k, alpha, a, lda, trans_b ? b + j0 * ldb : b + j0, ldb,
                              beta, c + j0, ldc, row_bias ? row_bias + j0 : nullptr);
                 }
               });
}

// A 64-byte aligned buffer that only grows: per-thread scratch (packed panels, gathered vectors) reused
// across calls, so the steady state allocates nothing.
class ScratchBuffer {
 public:
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(data_); }

  template <class T>
  T* reserve(int64_t count) {
    const size_t bytes = (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64;
    if (bytes > capacity_) {
      std::free(data_);
      data_ = std::aligned_alloc(64, bytes);
      capacity_ = data_ ? bytes : 0;
      if (!data_) throw std::bad_alloc();
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};

struct Scratch {
  ScratchBuffer a, b;
};

// One pair per thread (OpenMP keeps its worker threads alive, so these live across calls).
Scratch& thread_scratch() {
  thread_local Scratch scratch;
  return scratch;
}

// ---- matrix × vector: the shapes with m == 1 or n == 1 ----
// A 14×32 tile would be 1/14 or 1/32 useful here, and the work is memory-bound anyway, so plain loops
// the compiler vectorizes:
//   y[i·incy] = alpha · Σ_p M(i, p) · x[p·incx] + beta · y[i·incy] + bias[i·bias_inc]
// with M(i, p) = mat[i·ld + p], or mat[p·ld + i] when trans. Each y[i] is summed by one thread in a fixed
// order, so the result does not depend on the thread count.
template <class T>
void gemv(bool trans, int64_t rows, int64_t k, T alpha, const T* mat, int64_t ld, const T* x, int64_t incx, T beta,
          T* y, int64_t incy, const T* bias, int64_t bias_inc) {
  Scratch& scratch = thread_scratch();
  if (incx != 1) {  // gather x once so the inner loops run over contiguous memory
    T* gathered = scratch.a.reserve<T>(k);
    for (int64_t p = 0; p < k; ++p) gathered[p] = x[p * incx];
    x = gathered;
  }
  auto finish = [&](int64_t i, T sum) {
    T& out = y[i * incy];
    out = alpha * sum + (beta == T(0) ? T(0) : beta * out) + (bias ? bias[i * bias_inc] : T(0));
  };
  if (!trans) {
    // Row i of M is contiguous: one dot product per row.
    parallel_for(0, rows, std::max<int64_t>(1, 32768 / std::max<int64_t>(k, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T* row = mat + i * ld;
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int64_t p = 0; p < k; ++p) sum += row[p] * x[p];
        finish(i, sum);
      }
    });
    return;
  }
  // Column i of M is strided; rows p of mat are contiguous along i: accumulate sums[i] += x[p] · mat[p, i].
  T* sums = scratch.b.reserve<T>(rows);
  parallel_for(0, rows, std::max<int64_t>(256, 32768 / std::max<int64_t>(k, 1)), [&](int64_t lo, int64_t hi) {
    std::fill(sums + lo, sums + hi, T(0));
    for (int64_t p = 0; p < k; ++p) {
      const T xp = x[p];
      const T* row = mat + p * ld;
#pragma omp simd
      for (int64_t i = lo; i < hi; ++i) sums[i] += xp * row[i];
    }
    for (int64_t i = lo; i < hi; ++i) finish(i, sums[i]);
  });
}

// Routes m == 1 or n == 1 to gemv: n == 1 is M = op(A), x = the column op(B)[:, 0]; m == 1 is the
// transposed problem Cᵀ = op(B)ᵀ · op(A)ᵀ, M = op(B)ᵀ, x = the row op(A)[0, :].
template <class T>
bool try_gemv(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
              const T* b, int64_t ldb, T beta, T* c, int64_t ldc, const T* row_bias) {
  if (n == 1) {
    gemv(trans_a, m, k, alpha, a, lda, b, trans_b ? 1 : ldb, beta, c, ldc, row_bias, 0);
    return true;
  }
  if (m == 1) {
    gemv(!trans_b, n, k, alpha, b, ldb, a, trans_a ? lda : 1, beta, c, 1, row_bias, 1);
    return true;
  }
  return false;
}

#if defined(__AVX512F__)

// ---- blocking for Zen 5 (48 KiB L1d, 1 MiB L2 per core, large shared L3) ----
// Micro-tile MR×NR = 14×32: 28 zmm accumulators + 2 for the B row + 1 broadcast of A = 31 of the 32
// registers. Per k step: 2 loads of B, 14 broadcasts of A, 28 FMAs (14 cycles on two FMA pipes), so
// loads never limit, and 28 independent accumulators hide the 4-cycle FMA latency.
constexpr int64_t kMR = 14;
constexpr int64_t kNR = 32;
// KC: long, so that C is read and written once per 512 products and the write-back is amortized. The
// B micro-panel (KC×NR floats = 64 KiB) then streams from L2 with the A micro-panels (28 KiB each): 184
// bytes per 14 cycles, well within L2 bandwidth. Measured with tools/bench/gemm.cpp against KC = 256
// (B micro-panel resident in L1): equal at 512³, 5-10% faster from 1024³ up and on the long-K shapes.
constexpr int64_t kKC = 512;
// MC: the packed A block (MC×KC floats = 336 KiB) stays in L2 while the B micro-panels pass by.
constexpr int64_t kMC = 168;
// NC: the packed B block (KC×NC floats = 2 MiB) sits in L3; 1024 measured 5-10% faster at 2048³ than
// 4096 (and equal from 768 to 1536).
constexpr int64_t kNC = 1024;
// Rows of a row-major operand packed together when it is dealt out across panels (pack_a, pack_b).
constexpr int64_t kPackRows = 8;
// Slack after a packed A block for the overlapping 16-wide stores of its last panel (pack_a).
constexpr int64_t kSpill = 16;

inline __mmask16 lanes_below(int64_t count) {
  return count >= 16 ? __mmask16(0xFFFF) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

// In-register transpose of a 16×16 block: r[i][j] → r[j][i]. Four stages of pairwise interleaves
// (32-bit, 64-bit, then 128-bit lanes twice).
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    auto lo = [](__m512 x, __m512 y) {
      return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
    };
    auto hi = [](__m512 x, __m512 y) {
      return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
    };
    r[i] = lo(t[i], t[i + 2]);
    r[i + 1] = hi(t[i], t[i + 2]);
    r[i + 2] = lo(t[i + 1], t[i + 3]);
    r[i + 3] = hi(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 16; i += 8)
    for (int j = 0; j < 4; ++j) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}

// Copies the `rows`×`cols` block src[r·stride + c] (rows, cols ≤ 16) transposed into
// dst[c·dst_stride + r] for r < 16, c < cols, lanes r ≥ rows written as zeros. This turns a row-major
// gather into sixteen loads, one transpose and sixteen full-width stores. When dst_stride < 16 the stores
// overlap: each spills 16 − dst_stride floats into the start of the next, which the next store (or the
// next block or panel, packed later) overwrites; packing buffers keep kSpill floats of slack for the last.
inline void transpose_block(const float* src, int64_t stride, int64_t rows, int64_t cols, float* dst,
                            int64_t dst_stride) {
  __m512 r[16];
  const __mmask16 col_mask = lanes_below(cols);
  for (int i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_maskz_loadu_ps(col_mask, src + i * stride) : _mm512_setzero_ps();
  transpose16x16(r);
  for (int64_t c = 0; c < cols; ++c) _mm512_storeu_ps(dst + c * dst_stride, r[c]);
}

// Packs op(A)[i0:i0+mc, p0:p0+kc] into ceil(mc/MR) micro-panels Ap[panel][p][r] (MR floats per p),
// rows past mc zero-filled. op(A)[i, p] is a[i·lda + p], or a[p·lda + i] when trans_a.
void pack_a(bool trans_a, const float* a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float* ap) {
  if (trans_a) {
    // a's row p holds op(A)[i0:i0+mc, p] contiguously. Take kPackRows such rows at a time and deal
    // their MR-float pieces out to the panels: the reads run along a few rows in order, which the
    // hardware prefetcher follows (see pack_b). The 16-wide stores spill 2 floats into the next p's
    // slot, written later (see transpose_block), except at the last p, whose spill would land on the
    // next panel's first p, already written: that one is masked.
    for (int64_t pb = 0; pb < kc; pb += kPackRows)
      for (int64_t ir = 0; ir < mc; ir += kMR) {
        const __mmask16 load_mask = lanes_below(mc - ir);
        for (int64_t p = pb; p < std::min(kc, pb + kPackRows); ++p)
          _mm512_mask_storeu_ps(ap + ir * kc + p * kMR, p + 1 < kc ? __mmask16(0xFFFF) : lanes_below(kMR),
                                _mm512_maskz_loadu_ps(load_mask, a + (p0 + p) * lda + i0 + ir));
      }
    return;
  }
  // Rows of op(A) are contiguous along p: transpose 16 p at a time, MR rows per panel.
  for (int64_t ir = 0; ir < mc; ir += kMR, ap += kMR * kc) {
    const float* src = a + (i0 + ir) * lda + p0;
    for (int64_t p = 0; p < kc; p += 16)
      transpose_block(src + p, lda, std::min(kMR, mc - ir), std::min<int64_t>(16, kc - p), ap + p * kMR, kMR);
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into ceil(nc/NR) micro-panels Bp[panel][p][j] (NR floats per p),
// columns past nc zero-filled. op(B)[p, j] is b[p·ldb + j], or b[j·ldb + p] when trans_b.
void pack_b(bool trans_b, const float* b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float* bp) {
  if (!trans_b) {
    // Rows of op(B) are contiguous. Panel by panel, one row piece per p, every read would jump a whole
    // row stride (the prefetcher loses track); row by row across all panels, the writes of one row land
    // kc·NR floats apart (a multiple of 4 KiB: all in the same L1 sets). kPackRows rows at a time across
    // the panels avoids both: measured 0.3 cycles per float against 0.5-0.7 and 0.9-1.2.
    for (int64_t pb = 0; pb < kc; pb += kPackRows)
      for (int64_t jr = 0; jr < nc; jr += kNR) {
        const __mmask16 lo = lanes_below(nc - jr), hi = lanes_below(nc - jr - 16);
        for (int64_t p = pb; p < std::min(kc, pb + kPackRows); ++p) {
          const float* src = b + (p0 + p) * ldb + j0 + jr;
          float* dst = bp + jr * kc + p * kNR;
          _mm512_store_ps(dst, _mm512_maskz_loadu_ps(lo, src));
          _mm512_store_ps(dst + 16, _mm512_maskz_loadu_ps(hi, src + 16));
        }
      }
    return;
  }
  // Columns of op(B) are rows of b, contiguous along p: transpose 16×16 blocks.
  for (int64_t jr = 0; jr < nc; jr += kNR, bp += kNR * kc)
    for (int64_t half = 0; half < kNR; half += 16) {
      const float* src = b + (j0 + jr + half) * ldb + p0;
      const int64_t half_cols = std::max<int64_t>(0, std::min<int64_t>(16, nc - jr - half));
      for (int64_t p = 0; p < kc; p += 16)
        transpose_block(src + p, ldb, half_cols, std::min<int64_t>(16, kc - p), bp + p * kNR + half, kNR);
    }
}

// The micro-kernel: a full MR×NR tile of packed products held in 28 zmm registers,
//   acc[i][j] = Σ_{p<kc} ap[p·MR + i] · bp[p·NR + j],
// then written back to the valid rows×cols corner of C:
//   C[i, j] = alpha · acc[i][j] + beta · C[i, j] + bias[j]
// (beta == 0: C is not read, so NaN there vanishes; bias null: nothing added).
void micro_kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc,
                  int64_t rows, int64_t cols, float alpha, float beta, const float* bias) {
  // Start pulling the C tile toward L1 now, so the write-back does not wait on memory.
  for (int i = 0; i < kMR; ++i)
    if (i < rows) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNR - 1), _MM_HINT_T0);
    }
  __m512 acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp + p * kNR), b1 = _mm512_load_ps(bp + p * kNR + 16);
    for (int i = 0; i < kMR; ++i) {
      const __m512 a = _mm512_set1_ps(ap[p * kMR + i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  const __mmask16 lo = lanes_below(cols), hi = lanes_below(cols - 16);
  const __m512 valpha = _mm512_set1_ps(alpha), vbeta = _mm512_set1_ps(beta);
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(lo, bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(hi, bias + 16) : _mm512_setzero_ps();
  for (int i = 0; i < kMR; ++i) {
    if (i >= rows) continue;
    float* row = c + i * ldc;
    __m512 r0 = _mm512_fmadd_ps(acc[i][0], valpha, bias0), r1 = _mm512_fmadd_ps(acc[i][1], valpha, bias1);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lo, row), vbeta, r0);
      r1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(hi, row + 16), vbeta, r1);
    }
    _mm512_mask_storeu_ps(row, lo, r0);
    _mm512_mask_storeu_ps(row + 16, hi, r1);
  }
}

// Splits `extent` into the fewest blocks of at most `block` (rounded up to a multiple of `unit`), all of
// nearly equal size: 400 with block 256 gives 200 + 200 rather than 256 + 144.
int64_t balanced_block(int64_t extent, int64_t block, int64_t unit) {
  const int64_t count = (extent + block - 1) / block;
  const int64_t size = (extent + count - 1) / count;
  return (size + unit - 1) / unit * unit;
}

struct Problem {
  bool trans_a, trans_b;
  int64_t m, n, k;
  float alpha;
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float beta;
  float* c;
  int64_t ldc;
  const float* row_bias;
};

// The five loops over C[m0:m1, n0:n1] on the calling thread, with its own packing buffers.
void gemm_packed_range(const Problem& q, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t k = q.k;
  const int64_t kc_block = balanced_block(k, kKC, 1);
  const int64_t mc_block = balanced_block(m1 - m0, kMC, kMR);
  const int64_t nc_block = balanced_block(n1 - n0, kNC, kNR);
  Scratch& scratch = thread_scratch();
  float* bp = scratch.b.reserve<float>(kc_block * nc_block);
  float* ap = scratch.a.reserve<float>(kc_block * mc_block + kSpill);
  for (int64_t jc = n0; jc < n1; jc += nc_block) {
    const int64_t nc = std::min(nc_block, n1 - jc);
    for (int64_t pc = 0; pc < k; pc += kc_block) {
      const int64_t kc = std::min(kc_block, k - pc);
      // The first K block applies beta and the bias; the later ones accumulate onto C.
      const float beta = pc == 0 ? q.beta : 1.0f;
      const float* bias = pc == 0 && q.row_bias ? q.row_bias + jc : nullptr;
      pack_b(q.trans_b, q.b, q.ldb, pc, kc, jc, nc, bp);
      for (int64_t ic = m0; ic < m1; ic += mc_block) {
        const int64_t mc = std::min(mc_block, m1 - ic);
        pack_a(q.trans_a, q.a, q.lda, ic, mc, pc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += kNR)
          for (int64_t ir = 0; ir < mc; ir += kMR)
            micro_kernel(kc, ap + ir * kc, bp + jr * kc, q.c + (ic + ir) * q.ldc + jc + jr, q.ldc,
                         std::min(kMR, mc - ir), std::min(kNR, nc - jr), q.alpha, beta, bias ? bias + jr : nullptr);
      }
    }
  }
}

// How the threads share C: a grid of tm × tn rectangles, one per thread, cut along micro-tile
// boundaries. Each thread packs the A rows and B columns its rectangle needs, so a split of N makes
// every thread pack all of A (and a split of M all of B). The grid is the one minimizing the slowest
// thread's estimated time: its micro-tiles' FMAs plus its packing.
struct Grid {
  int64_t tm = 1, tn = 1;
};

Grid choose_grid(int64_t m, int64_t n, int64_t k, int64_t threads) {
  // Packing one element costs about as much as this many multiply-adds of the micro-kernel.
  constexpr double kPackCost = 24.0;
  const int64_t tiles_m = (m + kMR - 1) / kMR, tiles_n = (n + kNR - 1) / kNR;
  Grid best;
  double best_cost = -1.0;
  for (int64_t tm = 1; tm <= threads; ++tm) {
    if (threads % tm) continue;
    const int64_t tn = threads / tm;
    if (tm > tiles_m || tn > tiles_n) continue;
    const double rows = static_cast<double>((tiles_m + tm - 1) / tm * kMR);
    const double cols = static_cast<double>((tiles_n + tn - 1) / tn * kNR);
    const double a_packs = static_cast<double>((static_cast<int64_t>(cols) + kNC - 1) / kNC);
    const double cost = rows * cols * k + kPackCost * k * (rows * a_packs + cols);
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {tm, tn};
    }
  }
  return best;
}

void gemm_packed(const Problem& q) {
  // Waking a second thread costs a few microseconds: worth it from about 2 MFLOP.
  constexpr double kFlopsPerThread = 2e6;
  const double flops = 2.0 * static_cast<double>(q.m) * static_cast<double>(q.n) * static_cast<double>(q.k);
  int64_t threads = in_parallel_region() ? 1 : std::min<int64_t>(max_threads(), static_cast<int64_t>(flops / kFlopsPerThread));
  threads = std::max<int64_t>(threads, 1);
  const Grid grid = threads > 1 ? choose_grid(q.m, q.n, q.k, threads) : Grid{};
  const int64_t used = grid.tm * grid.tn;
  if (used <= 1) {
    gemm_packed_range(q, 0, q.m, 0, q.n);
    return;
  }
  const int64_t tiles_m = (q.m + kMR - 1) / kMR, tiles_n = (q.n + kNR - 1) / kNR;
#pragma omp parallel num_threads(static_cast<int>(used))
  {
#ifdef _OPENMP
    const int64_t t = omp_get_thread_num();
#else
    const int64_t t = 0;
#endif
    const int64_t bi = t / grid.tn, bj = t % grid.tn;
    const int64_t m0 = std::min(q.m, tiles_m * bi / grid.tm * kMR), m1 = std::min(q.m, tiles_m * (bi + 1) / grid.tm * kMR);
    const int64_t n0 = std::min(q.n, tiles_n * bj / grid.tn * kNR), n1 = std::min(q.n, tiles_n * (bj + 1) / grid.tn * kNR);
    if (m0 < m1 && n0 < n1) gemm_packed_range(q, m0, m1, n0, n1);
  }
}

#endif  // __AVX512F__

// C = beta · C + bias (beta == 0 ignores C): the whole product when k == 0.
template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* c, int64_t ldc, const T* row_bias) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T& out = c[i * ldc + j];
      out = (beta == T(0) ? T(0) : beta * out) + (row_bias ? row_bias[j] : T(0));
    }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, const float* row_bias) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_c(m, n, beta, c, ldc, row_bias);
  if (try_gemv(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, row_bias)) return;
#if defined(__AVX512F__)
  gemm_packed({trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, row_bias});
#else
  gemm_eigen_deterministic(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, row_bias);
#endif
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
          const double* b, int64_t ldb, double beta, double* c, int64_t ldc, const double* row_bias) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_c(m, n, beta, c, ldc, row_bias);
  if (try_gemv(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, row_bias)) return;
  gemm_eigen_deterministic(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, row_bias);
}

}  // namespace vireo::cpu
