// Winograd F(2×2, 3×3) convolution on the CPU (engine/cpu/conv_winograd.h has the math).
//
// Layouts, for a chunk of `count` tiles (tile q of the whole batch: image q / tiles_per_image, then row-major
// over the image's ⌈OH/2⌉ × ⌈OW/2⌉ tiles):
//   U  [16][C_out][C_in]     the transformed filters, once per call
//   V  [16][C_in][count]     the transformed input patches of the chunk
//   M  [16][C_out][count]    the 16 products (forward), or dM (weight gradient)
// so that every M[ξ] = U[ξ]·V[ξ] and dU[ξ] += dM[ξ]·V[ξ]ᵀ is one row-major GEMM.
#include "engine/cpu/conv_winograd.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/cpu/gemm.h"
#include "engine/error.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/scratch.h"

namespace vireo::cpu {
namespace {

using kernels::Conv2dGeometry;

constexpr int64_t kPoints = 16;  // the 4×4 Winograd domain
// Elements of V and M together per chunk: 8 MiB of f32, resident in the shared L3 while the 16 GEMMs run.
constexpr int64_t kChunkBudget = int64_t{1} << 21;

struct Tiling {
  int64_t tiles_h, tiles_w, per_image, total;
};

Tiling tiling(const Conv2dGeometry& g) {
  const int64_t th = (g.out_height + 1) / 2, tw = (g.out_width + 1) / 2;
  return {th, tw, th * tw, g.batch * th * tw};
}

// Tiles per chunk: as many as the budget holds (at least 16, at most all of them).
int64_t chunk_tiles(int64_t channels_a, int64_t channels_b, int64_t total) {
  const int64_t fit = kChunkBudget / (kPoints * (channels_a + channels_b));
  return std::clamp<int64_t>(fit, 16, std::max<int64_t>(total, 1));
}

// U[ξ][k][c] = (G g Gᵀ)[ξ] for every filter g = weight[k][c] (3×3).
template <class T>
void transform_filters(const T* weight, int64_t out_channels, int64_t in_channels, T* u) {
  const int64_t plane = out_channels * in_channels;
  parallel_for(0, plane, 64, [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t kc = lo; kc < hi; ++kc) {
      const T* g = weight + kc * 9;
      T gg[4][3];  // G g: rows g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2
      for (int j = 0; j < 3; ++j) {
        gg[0][j] = g[j];
        gg[1][j] = T(0.5) * (g[j] + g[3 + j] + g[6 + j]);
        gg[2][j] = T(0.5) * (g[j] - g[3 + j] + g[6 + j]);
        gg[3][j] = g[6 + j];
      }
      for (int i = 0; i < 4; ++i) {  // (G g) Gᵀ, row by row
        const T a = gg[i][0], b = gg[i][1], c = gg[i][2];
        u[(i * 4 + 0) * plane + kc] = a;
        u[(i * 4 + 1) * plane + kc] = T(0.5) * (a + b + c);
        u[(i * 4 + 2) * plane + kc] = T(0.5) * (a - b + c);
        u[(i * 4 + 3) * plane + kc] = c;
      }
    }
  });
}

// Calls body(n, ty, tx0, tx1, p) for each run of consecutive tiles along one tile row of image n within
// the chunk [first, first + count): tiles (ty, tx0) … (ty, tx1 − 1), the first of them at chunk index p.
// The transforms work run by run so that their inner loops go along a run — contiguous in V and M, and a
// plain (stride 2) walk along image rows — and vectorize.
template <class Body>
void for_each_tile_run(const Tiling& tiles, int64_t first, int64_t count, Body&& body) {
  const int64_t end = first + count;
  for (int64_t q = first; q < end;) {
    const int64_t n = q / tiles.per_image, r = q % tiles.per_image;
    const int64_t ty = r / tiles.tiles_w, tx0 = r % tiles.tiles_w;
    const int64_t tx1 = std::min(tiles.tiles_w, tx0 + (end - q));
    body(n, ty, tx0, tx1, q - first);
    q += tx1 - tx0;
  }
}

// The per-thread buffers (scratch.h) each kernel holds at once: the transforms' row scratch, and the calling
// thread's U, V, M and turned filters.
enum Slot { kRows, kFilters, kPatches, kProducts, kTurned };
template <class T, Slot slot = kRows>
T* scratch(int64_t elements) {
  return thread_scratch<T, slot>(elements);
}

// V[ξ][c][t − first] = (Bᵀ d B)[ξ] for the 4×4 input patch d of tile t and channel c, tiles [first, first + count).
template <class T>
void transform_input(const Conv2dGeometry& g, const Tiling& tiles, const T* image, int64_t first, int64_t count, T* v) {
  const int64_t C = g.in_channels, H = g.in_height, W = g.in_width;
  const int64_t stride_point = C * count;
  parallel_for(0, C, 1, [&](int64_t c_lo, int64_t c_hi) {
    const int64_t most = tiles.tiles_w;
    T* row = scratch<T>(2 * most + 2 + 16 * most);  // one padded image row, then e[i][b][·]
    T* e = row + 2 * most + 2;
    for (int64_t c = c_lo; c < c_hi; ++c)
      for_each_tile_run(tiles, first, count, [&](int64_t n, int64_t ty, int64_t tx0, int64_t tx1, int64_t p) {
        const int64_t len = tx1 - tx0, x0 = 2 * tx0 - g.pad_w;
        const T* plane = image + (n * C + c) * H * W;
        for (int i = 0; i < 4; ++i) {
          // The 2·len + 2 image columns x0 … the run reads from row y, zero outside the image.
          const int64_t y = 2 * ty - g.pad_h + i, span = 2 * len + 2;
          if (y < 0 || y >= H) {
            std::fill(row, row + span, T(0));
          } else {
            const int64_t lo = std::clamp<int64_t>(-x0, 0, span), hi = std::clamp<int64_t>(W - x0, lo, span);
            std::fill(row, row + lo, T(0));
            std::copy(plane + y * W + x0 + lo, plane + y * W + x0 + hi, row + lo);
            std::fill(row + hi, row + span, T(0));
          }
          // d B along the row, for every tile of the run: columns d0 − d2, d1 + d2, d2 − d1, d1 − d3.
          T *e0 = e + (i * 4 + 0) * most, *e1 = e + (i * 4 + 1) * most, *e2 = e + (i * 4 + 2) * most,
            *e3 = e + (i * 4 + 3) * most;
#pragma omp simd
          for (int64_t t = 0; t < len; ++t) {
            const T a0 = row[2 * t], a1 = row[2 * t + 1], a2 = row[2 * t + 2], a3 = row[2 * t + 3];
            e0[t] = a0 - a2;
            e1[t] = a1 + a2;
            e2[t] = a2 - a1;
            e3[t] = a1 - a3;
          }
        }
        // Bᵀ (d B) across the rows: rows r0 − r2, r1 + r2, r2 − r1, r1 − r3.
        for (int b = 0; b < 4; ++b) {
          const T *r0 = e + (0 * 4 + b) * most, *r1 = e + (1 * 4 + b) * most, *r2 = e + (2 * 4 + b) * most,
                  *r3 = e + (3 * 4 + b) * most;
          T* out0 = v + (0 * 4 + b) * stride_point + c * count + p;
          T* out1 = v + (1 * 4 + b) * stride_point + c * count + p;
          T* out2 = v + (2 * 4 + b) * stride_point + c * count + p;
          T* out3 = v + (3 * 4 + b) * stride_point + c * count + p;
#pragma omp simd
          for (int64_t t = 0; t < len; ++t) {
            out0[t] = r0[t] - r2[t];
            out1[t] = r1[t] + r2[t];
            out2[t] = r2[t] - r1[t];
            out3[t] = r1[t] - r3[t];
          }
        }
      });
  });
}

// response tile = Aᵀ M A (+ bias) for every output channel, tiles [first, first + count); tiles hanging
// over the bottom or right edge write only their rows and columns inside the response.
template <class T>
void transform_output(const Conv2dGeometry& g, const Tiling& tiles, const T* m, const T* bias, int64_t first,
                      int64_t count, T* response) {
  const int64_t K = g.out_channels, OH = g.out_height, OW = g.out_width;
  const int64_t stride_point = K * count;
  parallel_for(0, K, 1, [&](int64_t k_lo, int64_t k_hi) {
    const int64_t most = tiles.tiles_w;
    T* s = scratch<T>(8 * most + 2 * most + 2);  // s[i][j][·] (Aᵀ M), then one output row
    T* row = s + 8 * most;
    for (int64_t k = k_lo; k < k_hi; ++k) {
      const T b = bias ? bias[k] : T(0);
      for_each_tile_run(tiles, first, count, [&](int64_t n, int64_t ty, int64_t tx0, int64_t tx1, int64_t p) {
        const int64_t len = tx1 - tx0;
        const T* in = m + k * count + p;
        for (int j = 0; j < 4; ++j) {  // Aᵀ M: rows m0 + m1 + m2, m1 − m2 − m3
          const T *m0 = in + (0 * 4 + j) * stride_point, *m1 = in + (1 * 4 + j) * stride_point,
                  *m2 = in + (2 * 4 + j) * stride_point, *m3 = in + (3 * 4 + j) * stride_point;
          T *s0 = s + (0 * 4 + j) * most, *s1 = s + (1 * 4 + j) * most;
#pragma omp simd
          for (int64_t t = 0; t < len; ++t) {
            s0[t] = m0[t] + m1[t] + m2[t];
            s1[t] = m1[t] - m2[t] - m3[t];
          }
        }
        T* plane = response + (n * K + k) * OH * OW;
        const int64_t x0 = 2 * tx0, width = std::min<int64_t>(2 * len, OW - x0);
        for (int i = 0; i < 2 && 2 * ty + i < OH; ++i) {  // (Aᵀ M) A: columns s0 + s1 + s2, s1 − s2 − s3
          const T *a = s + (i * 4 + 0) * most, *c1 = s + (i * 4 + 1) * most, *c2 = s + (i * 4 + 2) * most,
                  *c3 = s + (i * 4 + 3) * most;
#pragma omp simd
          for (int64_t t = 0; t < len; ++t) {
            row[2 * t] = a[t] + c1[t] + c2[t] + b;
            row[2 * t + 1] = c1[t] - c2[t] - c3[t] + b;
          }
          std::copy(row, row + width, plane + (2 * ty + i) * OW + x0);
        }
      });
    }
  });
}

// dM[ξ][k][t − first] = (A dy Aᵀ)[ξ] for the 2×2 output-gradient tile dy (zero beyond the response's edge):
// the adjoint of transform_output.
template <class T>
void transform_output_grad(const Conv2dGeometry& g, const Tiling& tiles, const T* response, int64_t first,
                           int64_t count, T* dm) {
  const int64_t K = g.out_channels, OH = g.out_height, OW = g.out_width;
  const int64_t stride_point = K * count;
  parallel_for(0, K, 1, [&](int64_t k_lo, int64_t k_hi) {
    const int64_t most = tiles.tiles_w;
    T* row = scratch<T>(2 * most + 4 * most);  // one gradient row (zero-padded), then dy[i][j][·]
    T* dy = row + 2 * most;
    for (int64_t k = k_lo; k < k_hi; ++k)
      for_each_tile_run(tiles, first, count, [&](int64_t n, int64_t ty, int64_t tx0, int64_t tx1, int64_t p) {
        const int64_t len = tx1 - tx0, x0 = 2 * tx0;
        const T* plane = response + (n * K + k) * OH * OW;
        for (int i = 0; i < 2; ++i) {
          const int64_t y = 2 * ty + i;
          const int64_t width = y < OH ? std::min<int64_t>(2 * len, OW - x0) : 0;
          std::copy(plane + y * OW + x0, plane + y * OW + x0 + width, row);
          std::fill(row + width, row + 2 * len, T(0));
          T *d0 = dy + (i * 2 + 0) * most, *d1 = dy + (i * 2 + 1) * most;
#pragma omp simd
          for (int64_t t = 0; t < len; ++t) {
            d0[t] = row[2 * t];
            d1[t] = row[2 * t + 1];
          }
        }
        // A dy: rows dy0, dy0 + dy1, dy0 − dy1, −dy1; then (A dy) Aᵀ along each row: [x, x + y, x − y, −y].
        T* out = dm + k * count + p;
        const T *y00 = dy + 0 * most, *y01 = dy + 1 * most, *y10 = dy + 2 * most, *y11 = dy + 3 * most;
        T* o[16];
        for (int xi = 0; xi < 16; ++xi) o[xi] = out + xi * stride_point;
#pragma omp simd
        for (int64_t t = 0; t < len; ++t) {
          const T a[4][2] = {{y00[t], y01[t]},
                             {y00[t] + y10[t], y01[t] + y11[t]},
                             {y00[t] - y10[t], y01[t] - y11[t]},
                             {-y10[t], -y11[t]}};
          for (int i = 0; i < 4; ++i) {
            o[i * 4 + 0][t] = a[i][0];
            o[i * 4 + 1][t] = a[i][0] + a[i][1];
            o[i * 4 + 2][t] = a[i][0] - a[i][1];
            o[i * 4 + 3][t] = -a[i][1];
          }
        }
      });
  });
}

// weight[k][c] = Gᵀ dU[k][c] G (3×3 from 4×4): the adjoint of transform_filters.
template <class T>
void transform_filter_grad(const T* du, int64_t out_channels, int64_t in_channels, T* weight) {
  const int64_t plane = out_channels * in_channels;
  parallel_for(0, plane, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t kc = lo; kc < hi; ++kc) {
      T u[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) u[i][j] = du[(i * 4 + j) * plane + kc];
      T gu[3][4];  // Gᵀ dU: rows u0 + (u1 + u2)/2, (u1 − u2)/2, (u1 + u2)/2 + u3
      for (int j = 0; j < 4; ++j) {
        gu[0][j] = u[0][j] + T(0.5) * (u[1][j] + u[2][j]);
        gu[1][j] = T(0.5) * (u[1][j] - u[2][j]);
        gu[2][j] = T(0.5) * (u[1][j] + u[2][j]) + u[3][j];
      }
      T* g = weight + kc * 9;
      for (int i = 0; i < 3; ++i) {  // (Gᵀ dU) G, row by row
        g[i * 3 + 0] = gu[i][0] + T(0.5) * (gu[i][1] + gu[i][2]);
        g[i * 3 + 1] = T(0.5) * (gu[i][1] - gu[i][2]);
        g[i * 3 + 2] = T(0.5) * (gu[i][1] + gu[i][2]) + gu[i][3];
      }
    }
  });
}

template <class T>
void forward_typed(const Conv2dGeometry& g, const T* image, const T* weight, const T* bias, T* response) {
  const int64_t C = g.in_channels, K = g.out_channels;
  const Tiling tiles = tiling(g);
  if (tiles.total == 0) return;
  T* u = scratch<T, kFilters>(kPoints * K * C);
  transform_filters(weight, K, C, u);
  const int64_t chunk = chunk_tiles(C, K, tiles.total);
  T* v = scratch<T, kPatches>(kPoints * C * chunk);
  T* m = scratch<T, kProducts>(kPoints * K * chunk);
  for (int64_t first = 0; first < tiles.total; first += chunk) {
    const int64_t count = std::min(chunk, tiles.total - first);
    transform_input(g, tiles, image, first, count, v);
    // The 16 products share the threads (each GEMM then runs on its own thread, whole).
    parallel_for(0, kPoints, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t xi = lo; xi < hi; ++xi)
        gemm(false, false, K, count, C, T(1), u + xi * K * C, C, v + xi * C * count, count, T(0),
             m + xi * K * count, count);
    });
    transform_output(g, tiles, m, bias, first, count, response);
  }
}

template <class T>
void input_grad_typed(const Conv2dGeometry& g, const T* response, const T* weight, const T* bias, T* image) {
  // dx = the stride-1 correlation of dy, padded by 2 − pad, with w'[c][k] = w[k][c] turned 180°.
  const int64_t C = g.in_channels, K = g.out_channels;
  T* turned = scratch<T, kTurned>(C * K * 9);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int i = 0; i < 9; ++i) turned[(c * K + k) * 9 + i] = weight[(k * C + c) * 9 + 8 - i];
  Conv2dGeometry adjoint = g;
  adjoint.in_channels = K;
  adjoint.in_height = g.out_height;
  adjoint.in_width = g.out_width;
  adjoint.out_channels = C;
  adjoint.out_height = g.in_height;
  adjoint.out_width = g.in_width;
  adjoint.pad_h = 2 - g.pad_h;
  adjoint.pad_w = 2 - g.pad_w;
  forward_typed(adjoint, response, turned, bias, image);
}

// dU[ξ] = Σ_t dM[ξ][·][t] V[ξ][·][t]ᵀ, then dW = Gᵀ dU G. V is transformed again from the saved input rather
// than kept from the forward pass: keeping it would hold 4× the input (16 points per 2×2 output tile) from
// the forward to the backward. The price is a second pass of the input transform, which is memory-bound
// (`perf record` of the DDPM UNet bench, 2026-12-07: the input transforms, all three uses together, take
// 15% of a step, more than Winograd's GEMMs).
template <class T>
void weight_grad_typed(const Conv2dGeometry& g, const T* image, const T* response, T* weight) {
  const int64_t C = g.in_channels, K = g.out_channels;
  const Tiling tiles = tiling(g);
  T* du = scratch<T, kFilters>(kPoints * K * C);
  if (tiles.total == 0) std::fill(du, du + kPoints * K * C, T(0));
  const int64_t chunk = chunk_tiles(C, K, tiles.total);
  T* v = scratch<T, kPatches>(kPoints * C * chunk);
  T* dm = scratch<T, kProducts>(kPoints * K * chunk);
  // The chunks' contributions add in chunk order: a fixed order for given shapes.
  for (int64_t first = 0; first < tiles.total; first += chunk) {
    const int64_t count = std::min(chunk, tiles.total - first);
    transform_input(g, tiles, image, first, count, v);
    transform_output_grad(g, tiles, response, first, count, dm);
    parallel_for(0, kPoints, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t xi = lo; xi < hi; ++xi)
        gemm(false, true, K, C, count, T(1), dm + xi * K * count, count, v + xi * C * count, count,
             first == 0 ? T(0) : T(1), du + xi * K * C, C);
    });
  }
  transform_filter_grad(du, K, C, weight);
}

std::atomic<int64_t> min_channels{kWinogradMinChannels};

bool enabled_by_environment() {
  static const bool enabled = [] {
    const char* value = std::getenv("VIREO_WINOGRAD");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

}  // namespace

bool winograd_applies(const Conv2dGeometry& g) {
  return g.kernel_h == 3 && g.kernel_w == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 &&
         g.dilation_w == 1 && g.groups == 1 && g.pad_h >= 0 && g.pad_h <= 2 && g.pad_w >= 0 && g.pad_w <= 2 &&
         g.in_channels >= min_channels.load() && g.out_channels >= min_channels.load() && g.out_height > 0 &&
         g.out_width > 0 && enabled_by_environment();
}

int64_t winograd_min_channels() { return min_channels.load(); }

void set_winograd_min_channels(int64_t channels) {
  VIREO_CHECK(channels >= 1, "set_winograd_min_channels: needs at least 1 channel, got ", channels);
  min_channels.store(channels);
}

void winograd_forward(const Conv2dGeometry& g, const float* image, const float* weight, const float* bias,
                      float* response) {
  forward_typed(g, image, weight, bias, response);
}
void winograd_forward(const Conv2dGeometry& g, const double* image, const double* weight, const double* bias,
                      double* response) {
  forward_typed(g, image, weight, bias, response);
}
void winograd_input_grad(const Conv2dGeometry& g, const float* response, const float* weight, const float* bias,
                         float* image) {
  input_grad_typed(g, response, weight, bias, image);
}
void winograd_input_grad(const Conv2dGeometry& g, const double* response, const double* weight,
                         const double* bias, double* image) {
  input_grad_typed(g, response, weight, bias, image);
}
void winograd_weight_grad(const Conv2dGeometry& g, const float* image, const float* response, float* weight) {
  weight_grad_typed(g, image, response, weight);
}
void winograd_weight_grad(const Conv2dGeometry& g, const double* image, const double* response, double* weight) {
  weight_grad_typed(g, image, response, weight);
}

}  // namespace vireo::cpu
