// CPU kernels of the normalization family. Every sum over many elements is split into pieces fixed by
// the shape (rows of the input, blocks of rows), computed in parallel and added in a fixed order, so the
// results are the same for any number of threads. Long sums are accumulated in double (see run_sum).
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/normalization.h"

namespace vireo::cpu {
namespace {

// The data of an optional per-channel parameter; an undefined one reads as `fill` (1 for γ, 0 for β).
template <class T>
const T* values_or(const Tensor& t, int64_t n, T fill, std::vector<T>& backing) {
  if (t.defined()) return t.data<T>();
  backing.assign(n, fill);
  return backing.data();
}

template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Sums over one contiguous run. Within chunks of kChunk elements the sum runs in T across the vector lanes
// (short dependency chains, so it runs at load speed); chunk totals are added in double. The rounding error
// is that of a kChunk-term sum in T, however long the run.
constexpr int64_t kChunk = 256;

// Σ x[i]
template <class T>
double run_sum(const T* x, int64_t n) {
  double total = 0.0;
  for (int64_t lo = 0; lo < n; lo += kChunk) {
    const int64_t hi = std::min(n, lo + kChunk);
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; ++i) s += x[i];
    total += static_cast<double>(s);
  }
  return total;
}
// Σ (x[i] − center)²
template <class T>
double run_centered_squares(const T* x, int64_t n, double center) {
  const T c = static_cast<T>(center);
  double total = 0.0;
  for (int64_t lo = 0; lo < n; lo += kChunk) {
    const int64_t hi = std::min(n, lo + kChunk);
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; ++i) s += (x[i] - c) * (x[i] - c);
    total += static_cast<double>(s);
  }
  return total;
}
// Σ dy[i] and Σ dy[i]·(x[i] − center)
template <class T>
void run_grad_sums(const T* dy, const T* x, int64_t n, double center, double& sum_dy, double& sum_dy_xc) {
  const T c = static_cast<T>(center);
  double total_dy = 0.0, total_dy_xc = 0.0;
  for (int64_t lo = 0; lo < n; lo += kChunk) {
    const int64_t hi = std::min(n, lo + kChunk);
    T a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
    for (int64_t i = lo; i < hi; ++i) {
      a += dy[i];
      b += dy[i] * (x[i] - c);
    }
    total_dy += static_cast<double>(a);
    total_dy_xc += static_cast<double>(b);
  }
  sum_dy = total_dy;
  sum_dy_xc = total_dy_xc;
}

// y[i] = x[i]·a + b over one contiguous run.
template <class T>
void run_affine(const T* x, T* y, int64_t n, T a, T b) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

// ---------------------------------------------------------------------------------------------------------
// Batch norm over x [N, C, M]; statistics per channel c over the N·M values x[n, c, :].
//
//   training: mean_c = Σ x / (N·M),  var_c = Σ (x − mean_c)² / (N·M)          (two passes: no cancellation)
//   rstd_c = 1/√(var_c + eps),  y = x·a_c + b_c  with  a_c = rstd_c·γ_c,  b_c = β_c − mean_c·a_c
//
// Each pass sums the N·C runs of M values in parallel into partial[n, c], then adds the partials over n
// in order — parallel over every (n, c), deterministic, and vectorized over c when M = 1 (BatchNorm1d).
template <class T>
void batch_norm_forward_typed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                              const Tensor& var, const Tensor& rstd, const Tensor& out, bool training, double eps) {
  const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
  const T* xp = x.data<T>();
  T* yp = out.data<T>();
  T* mean_p = mean.data<T>();
  T* var_p = var.data<T>();
  T* rstd_p = rstd.data<T>();
  const int64_t runs = n * channels, grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(spatial, 1));
  std::vector<double> channel_mean(channels), channel_var(channels);
  if (training) {
    const double count = static_cast<double>(n * spatial);
    std::vector<double> partial(runs);
    auto add_over_batch = [&](std::vector<double>& total) {
      std::fill(total.begin(), total.end(), 0.0);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t c = 0; c < channels; ++c) total[c] += partial[i * channels + c];
      for (double& v : total) v /= count;
    };
    parallel_for(0, runs, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) partial[r] = run_sum(xp + r * spatial, spatial);
    });
    add_over_batch(channel_mean);
    parallel_for(0, runs, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        partial[r] = run_centered_squares(xp + r * spatial, spatial, channel_mean[r % channels]);
    });
    add_over_batch(channel_var);
    for (int64_t c = 0; c < channels; ++c) {
      mean_p[c] = static_cast<T>(channel_mean[c]);
      var_p[c] = static_cast<T>(channel_var[c]);
    }
  } else {
    for (int64_t c = 0; c < channels; ++c) {
      channel_mean[c] = static_cast<double>(mean_p[c]);
      channel_var[c] = static_cast<double>(var_p[c]);
    }
  }
  std::vector<T> ones_backing, zeros_backing, scale(channels), shift(channels);
  const T* gamma = values_or<T>(weight, channels, T(1), ones_backing);
  const T* beta = values_or<T>(bias, channels, T(0), zeros_backing);
  for (int64_t c = 0; c < channels; ++c) {
    const double r = 1.0 / std::sqrt(channel_var[c] + eps);
    rstd_p[c] = static_cast<T>(r);
    scale[c] = static_cast<T>(r * gamma[c]);
    shift[c] = static_cast<T>(beta[c] - channel_mean[c] * r * gamma[c]);
  }
  parallel_for(0, runs, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t c = r % channels;
      run_affine(xp + r * spatial, yp + r * spatial, spatial, scale[c], shift[c]);
    }
  });
}

// With x̂ = (x − mean_c)·rstd_c and n = N·M, per channel:
//   grad_bias_c = Σ dy,   grad_weight_c = Σ dy·x̂ = rstd_c·Σ dy·(x − mean_c)
//   training:   dx = rstd_c·γ_c·(dy − grad_bias_c/n − x̂·grad_weight_c/n)
//                  = k1·dy + k2·(x − mean_c) + k3,  k1 = rstd·γ, k2 = −k1·rstd·grad_weight/n, k3 = −k1·grad_bias/n
//   evaluation: dx = rstd_c·γ_c·dy  (the statistics are constants: the backward of an affine map)
template <class T>
void batch_norm_backward_typed(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                               const Tensor& rstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                               const Tensor& grad_bias) {
  const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
  const T* xp = x.data<T>();
  const T* gp = grad_out.data<T>();
  const T* mean_p = mean.data<T>();
  const T* rstd_p = rstd.data<T>();
  T* dxp = data_or_null<T>(grad_x);
  const int64_t runs = n * channels, grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(spatial, 1));
  std::vector<T> ones_backing;
  const T* gamma = values_or<T>(weight, channels, T(1), ones_backing);

  std::vector<double> sum_dy(channels, 0.0), sum_dy_xc(channels, 0.0);
  if (training || grad_weight.defined() || grad_bias.defined()) {
    std::vector<double> partial_dy(runs), partial_dy_xc(runs);
    parallel_for(0, runs, grain, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        run_grad_sums(gp + r * spatial, xp + r * spatial, spatial, static_cast<double>(mean_p[r % channels]),
                      partial_dy[r], partial_dy_xc[r]);
    });
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < channels; ++c) {
        sum_dy[c] += partial_dy[i * channels + c];
        sum_dy_xc[c] += partial_dy_xc[i * channels + c];
      }
  }
  if (T* db = data_or_null<T>(grad_bias))
    for (int64_t c = 0; c < channels; ++c) db[c] = static_cast<T>(sum_dy[c]);
  if (T* dw = data_or_null<T>(grad_weight))
    for (int64_t c = 0; c < channels; ++c) dw[c] = static_cast<T>(sum_dy_xc[c] * rstd_p[c]);
  if (!dxp) return;

  const double count = static_cast<double>(n * spatial);
  std::vector<T> k1(channels), k2(channels), k3(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const double r = rstd_p[c], a = r * gamma[c];
    k1[c] = static_cast<T>(a);
    k2[c] = training ? static_cast<T>(-a * r * r * sum_dy_xc[c] / count) : T(0);
    k3[c] = training ? static_cast<T>(-a * sum_dy[c] / count) : T(0);
  }
  parallel_for(0, runs, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t c = r % channels;
      const T a = k1[c], b = k2[c], d = k3[c], m = mean_p[c];
      const T* xr = xp + r * spatial;
      const T* gr = gp + r * spatial;
      T* dr = dxp + r * spatial;
#pragma omp simd
      for (int64_t i = 0; i < spatial; ++i) dr[i] = a * gr[i] + b * (xr[i] - m) + d;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Layer norm over rows of x [R, D]: per row
//   mean = Σ x / D,  var = Σ (x − mean)² / D,  rstd = 1/√(var + eps),  y = (x − mean)·rstd·γ + β.
// Rows are independent: parallel over rows, each row read three times while it sits in L1.
template <class T>
void layer_norm_row(const T* x, const T* gamma, const T* beta, int64_t width, double eps, T* y, T& mean, T& rstd) {
  const double mu = run_sum(x, width) / static_cast<double>(width);
  const double rs = 1.0 / std::sqrt(run_centered_squares(x, width, mu) / static_cast<double>(width) + eps);
  const T m = static_cast<T>(mu), s = static_cast<T>(rs);
#pragma omp simd
  for (int64_t i = 0; i < width; ++i) y[i] = (x[i] - m) * s * gamma[i] + beta[i];
  mean = m;
  rstd = s;
}

template <class T>
void layer_norm_forward_typed(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                              const Tensor& mean, const Tensor& rstd, double eps) {
  const int64_t rows = x.size(0), width = x.size(1);
  const T* xp = x.data<T>();
  T* yp = out.data<T>();
  T* mean_p = mean.data<T>();
  T* rstd_p = rstd.data<T>();
  std::vector<T> ones_backing, zeros_backing;
  const T* gamma = values_or<T>(weight, width, T(1), ones_backing);
  const T* beta = values_or<T>(bias, width, T(0), zeros_backing);
  parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(width, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      layer_norm_row(xp + r * width, gamma, beta, width, eps, yp + r * width, mean_p[r], rstd_p[r]);
  });
}

// Per row, with x̂ = (x − mean)·rstd and g = dy·γ:
//   dx = rstd·(g − mean(g) − x̂·mean(g·x̂))
//   grad_weight = Σ_rows dy·x̂,  grad_bias = Σ_rows dy
// The parameter gradients are summed over fixed blocks of kRowsPerBlock rows in parallel (in T, inside the
// block), then the block partials are added in block order in double: deterministic for any thread count.
constexpr int64_t kRowsPerBlock = 32;

// One row: writes dx (when not null) and adds dy·x̂ and dy into the block partials (when not null). The
// pointers arrive as parameters so the compiler sees plain unit-stride loops.
template <class T>
void layer_norm_row_backward(const T* x, const T* dy, const T* gamma, T mean, T rstd, int64_t width, T* dx,
                             T* partial_weight, T* partial_bias) {
  if (dx) {
    T sum_g = 0, sum_g_xhat = 0;
#pragma omp simd reduction(+ : sum_g, sum_g_xhat)
    for (int64_t i = 0; i < width; ++i) {
      const T g = dy[i] * gamma[i];
      sum_g += g;
      sum_g_xhat += g * (x[i] - mean) * rstd;
    }
    const T mean_g = sum_g / static_cast<T>(width), mean_g_xhat = sum_g_xhat / static_cast<T>(width);
#pragma omp simd
    for (int64_t i = 0; i < width; ++i) dx[i] = rstd * (dy[i] * gamma[i] - mean_g - (x[i] - mean) * rstd * mean_g_xhat);
  }
  if (partial_weight) {
#pragma omp simd
    for (int64_t i = 0; i < width; ++i) {
      partial_weight[i] += dy[i] * (x[i] - mean) * rstd;
      partial_bias[i] += dy[i];
    }
  }
}

template <class T>
void layer_norm_backward_typed(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                               const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight,
                               const Tensor& grad_bias) {
  const int64_t rows = x.size(0), width = x.size(1);
  const T* xp = x.data<T>();
  const T* gp = grad_out.data<T>();
  const T* mean_p = mean.data<T>();
  const T* rstd_p = rstd.data<T>();
  T* dxp = data_or_null<T>(grad_x);
  const bool params = grad_weight.defined() || grad_bias.defined();
  std::vector<T> ones_backing;
  const T* gamma = values_or<T>(weight, width, T(1), ones_backing);
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  // partial[block] holds [Σ dy·x̂ (width) | Σ dy (width)] over the block's rows.
  std::vector<T> partial(params ? blocks * 2 * width : 0);

  parallel_for(0, blocks, std::max<int64_t>(1, 512 / std::max<int64_t>(width, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t block = lo; block < hi; ++block) {
      T* pw = params ? partial.data() + block * 2 * width : nullptr;
      T* pb = params ? pw + width : nullptr;
      for (int64_t r = block * kRowsPerBlock; r < std::min(rows, (block + 1) * kRowsPerBlock); ++r)
        layer_norm_row_backward(xp + r * width, gp + r * width, gamma, mean_p[r], rstd_p[r], width,
                                dxp ? dxp + r * width : nullptr, pw, pb);
    }
  });
  if (!params) return;
  T* dw = data_or_null<T>(grad_weight);
  T* db = data_or_null<T>(grad_bias);
  parallel_for(0, width, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      double w = 0.0, b = 0.0;
      for (int64_t block = 0; block < blocks; ++block) {
        w += static_cast<double>(partial[block * 2 * width + i]);
        b += static_cast<double>(partial[block * 2 * width + width + i]);
      }
      if (dw) dw[i] = static_cast<T>(w);
      if (db) db[i] = static_cast<T>(b);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Group norm over x [N, C, M] in G groups: the (C/G)·M values of group g of sample n are contiguous.
//   mean_ng, rstd_ng as layer norm over that run;  y = x·a + b with a = rstd_ng·γ_c, b = β_c − mean_ng·a.
template <class T>
void group_norm_forward_typed(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups,
                              const Tensor& out, const Tensor& mean, const Tensor& rstd, double eps) {
  const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
  const int64_t per_group = channels / groups, run = per_group * spatial;
  const T* xp = x.data<T>();
  T* yp = out.data<T>();
  T* mean_p = mean.data<T>();
  T* rstd_p = rstd.data<T>();
  std::vector<T> ones_backing, zeros_backing;
  const T* gamma = values_or<T>(weight, channels, T(1), ones_backing);
  const T* beta = values_or<T>(bias, channels, T(0), zeros_backing);
  parallel_for(0, n * groups, std::max<int64_t>(1, 16384 / std::max<int64_t>(run, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t ng = lo; ng < hi; ++ng) {
      const T* xr = xp + ng * run;
      T* yr = yp + ng * run;
      const double mu = run_sum(xr, run) / static_cast<double>(run);
      const double rs = 1.0 / std::sqrt(run_centered_squares(xr, run, mu) / static_cast<double>(run) + eps);
      mean_p[ng] = static_cast<T>(mu);
      rstd_p[ng] = static_cast<T>(rs);
      const int64_t first_channel = (ng % groups) * per_group;
      for (int64_t j = 0; j < per_group; ++j) {
        const int64_t c = first_channel + j;
        const double a = rs * gamma[c];
        run_affine(xr + j * spatial, yr + j * spatial, spatial, static_cast<T>(a), static_cast<T>(beta[c] - mu * a));
      }
    }
  });
}

// Per (n, g), with x̂ = (x − mean)·rstd, g = dy·γ_c and K = (C/G)·M values:
//   Σ g = Σ_c γ_c·Σ_m dy,   Σ g·x̂ = rstd·Σ_c γ_c·Σ_m dy·(x − mean)
//   dx = rstd·(g − Σg/K − x̂·Σ(g·x̂)/K) = k1_c·dy + k2·(x − mean) + k3,
//        k1_c = rstd·γ_c,  k2 = −rstd²·Σ(g·x̂)/K,  k3 = −rstd·Σg/K
//   grad_weight_c = Σ_n rstd_ng·Σ_m dy·(x − mean_ng),  grad_bias_c = Σ_n Σ_m dy   (partials per (n, c),
//   added over n in order).
template <class T>
void group_norm_backward_typed(const Tensor& x, const Tensor& grad_out, const Tensor& weight, int64_t groups,
                               const Tensor& mean, const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight,
                               const Tensor& grad_bias) {
  const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
  const int64_t per_group = channels / groups, run = per_group * spatial;
  const T* xp = x.data<T>();
  const T* gp = grad_out.data<T>();
  const T* mean_p = mean.data<T>();
  const T* rstd_p = rstd.data<T>();
  T* dxp = data_or_null<T>(grad_x);
  std::vector<T> ones_backing;
  const T* gamma = values_or<T>(weight, channels, T(1), ones_backing);
  std::vector<double> partial_dy(n * channels), partial_dy_xhat(n * channels);
  parallel_for(0, n * groups, std::max<int64_t>(1, 8192 / std::max<int64_t>(run, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t ng = lo; ng < hi; ++ng) {
      const double mu = mean_p[ng], rs = rstd_p[ng];
      const int64_t first_channel = (ng % groups) * per_group, sample = ng / groups;
      double sum_g = 0.0, sum_g_xc = 0.0;
      for (int64_t j = 0; j < per_group; ++j) {
        const int64_t c = first_channel + j, offset = ng * run + j * spatial;
        double sum_dy = 0.0, sum_dy_xc = 0.0;
        run_grad_sums(gp + offset, xp + offset, spatial, mu, sum_dy, sum_dy_xc);
        partial_dy[sample * channels + c] = sum_dy;
        partial_dy_xhat[sample * channels + c] = sum_dy_xc * rs;
        sum_g += gamma[c] * sum_dy;
        sum_g_xc += gamma[c] * sum_dy_xc;
      }
      if (!dxp) continue;
      const double count = static_cast<double>(run);
      const T k2 = static_cast<T>(-rs * rs * rs * sum_g_xc / count), k3 = static_cast<T>(-rs * sum_g / count);
      const T m = static_cast<T>(mu);
      for (int64_t j = 0; j < per_group; ++j) {
        const int64_t c = first_channel + j, offset = ng * run + j * spatial;
        const T k1 = static_cast<T>(rs * gamma[c]);
        const T* xr = xp + offset;
        const T* gr = gp + offset;
        T* dr = dxp + offset;
#pragma omp simd
        for (int64_t i = 0; i < spatial; ++i) dr[i] = k1 * gr[i] + k2 * (xr[i] - m) + k3;
      }
    }
  });
  T* dw = data_or_null<T>(grad_weight);
  T* db = data_or_null<T>(grad_bias);
  for (int64_t c = 0; c < channels; ++c) {
    double w = 0.0, b = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      w += partial_dy_xhat[i * channels + c];
      b += partial_dy[i * channels + c];
    }
    if (dw) dw[c] = static_cast<T>(w);
    if (db) db[c] = static_cast<T>(b);
  }
}

// ---------------------------------------------------------------------------------------------------------
// mask = u ≥ p ? 1/(1 − p) : 0 (keeps each element with probability 1 − p), out = x·mask.
template <class T>
void dropout_forward_typed(const Tensor& x, const Tensor& uniform_then_mask, const Tensor& out, double p) {
  const T* xp = x.data<T>();
  T* mp = uniform_then_mask.data<T>();
  T* yp = out.data<T>();
  const T threshold = static_cast<T>(p), keep_scale = static_cast<T>(1.0 / (1.0 - p));
  parallel_for(0, x.numel(), 16384, [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) {
      const T m = mp[i] >= threshold ? keep_scale : T(0);
      mp[i] = m;
      yp[i] = xp[i] * m;
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// Embedding: out[k, :] = weight[index[k], :]. Indices are validated before any thread starts (an Error
// cannot leave an OpenMP region).
void check_indices(const int64_t* index, int64_t count, int64_t num_embeddings) {
  for (int64_t k = 0; k < count; ++k)
    if (index[k] < 0 || index[k] >= num_embeddings)
      fail("embedding: index ", index[k], " (at position ", k, ") is out of range for num_embeddings ",
           num_embeddings);
}

template <class T>
void embedding_forward_typed(const Tensor& indices, const Tensor& weight, const Tensor& out) {
  const int64_t count = indices.numel(), num = weight.size(0), dim = weight.size(1);
  const int64_t* index = indices.data<int64_t>();
  check_indices(index, count, num);
  const T* wp = weight.data<T>();
  T* yp = out.data<T>();
  parallel_for(0, count, std::max<int64_t>(1, 16384 / std::max<int64_t>(dim, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) std::memcpy(yp + k * dim, wp + index[k] * dim, dim * sizeof(T));
  });
}

// grad_weight[index[k], :] += grad_out[k, :]. Each thread owns a range of weight rows and scans every index,
// adding the rows it owns in the order of k: no two threads write one row, and each row's sum has a fixed
// order, whatever the thread count.
template <class T>
void embedding_backward_typed(const Tensor& indices, const Tensor& grad_out, const Tensor& grad_weight) {
  const int64_t count = indices.numel(), num = grad_weight.size(0), dim = grad_weight.size(1);
  const int64_t* index = indices.data<int64_t>();
  const T* gp = grad_out.data<T>();
  T* dw = grad_weight.data<T>();
  // Worth a second thread only when there is enough to add (every thread scans all the indices).
  const int64_t grain = count * dim >= 65536 ? 1 : std::max<int64_t>(num, 1);
  parallel_for(0, num, grain, [&](int64_t lo, int64_t hi) {
    std::fill(dw + lo * dim, dw + hi * dim, T(0));
    for (int64_t k = 0; k < count; ++k) {
      const int64_t row = index[k];
      if (row < lo || row >= hi) continue;
      T* dst = dw + row * dim;
      const T* src = gp + k * dim;
#pragma omp simd
      for (int64_t i = 0; i < dim; ++i) dst[i] += src[i];
    }
  });
}

// ---------------------------------------------------------------------------------------------------------
// dtype dispatch.
#define VIREO_FLOATING_DISPATCH(dtype, name, ...)                                          \
  switch (dtype) {                                                                         \
    case DType::f32: return name<float>(__VA_ARGS__);                                      \
    case DType::f64: return name<double>(__VA_ARGS__);                                     \
    default: refuse_dtype(__func__, dtype);                                                \
  }

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                        const Tensor& var, const Tensor& rstd, const Tensor& out, bool training, double eps) {
  VIREO_FLOATING_DISPATCH(x.dtype(), batch_norm_forward_typed, x, weight, bias, mean, var, rstd, out, training, eps)
}
void batch_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  VIREO_FLOATING_DISPATCH(x.dtype(), batch_norm_backward_typed, x, grad_out, weight, mean, rstd, training, grad_x,
                          grad_weight, grad_bias)
}
void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                        const Tensor& mean, const Tensor& rstd, double eps) {
  VIREO_FLOATING_DISPATCH(x.dtype(), layer_norm_forward_typed, x, weight, bias, out, mean, rstd, eps)
}
void layer_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias) {
  VIREO_FLOATING_DISPATCH(x.dtype(), layer_norm_backward_typed, x, grad_out, weight, mean, rstd, grad_x, grad_weight,
                          grad_bias)
}
void group_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, const Tensor& out,
                        const Tensor& mean, const Tensor& rstd, double eps) {
  VIREO_FLOATING_DISPATCH(x.dtype(), group_norm_forward_typed, x, weight, bias, groups, out, mean, rstd, eps)
}
void group_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, int64_t groups,
                         const Tensor& mean, const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  VIREO_FLOATING_DISPATCH(x.dtype(), group_norm_backward_typed, x, grad_out, weight, groups, mean, rstd, grad_x,
                          grad_weight, grad_bias)
}
void dropout_forward(const Tensor& x, const Tensor& uniform_then_mask, const Tensor& out, double p) {
  VIREO_FLOATING_DISPATCH(x.dtype(), dropout_forward_typed, x, uniform_then_mask, out, p)
}
void embedding_forward(const Tensor& indices, const Tensor& weight, const Tensor& out) {
  VIREO_FLOATING_DISPATCH(weight.dtype(), embedding_forward_typed, indices, weight, out)
}
void embedding_backward(const Tensor& indices, const Tensor& grad_out, const Tensor& grad_weight) {
  VIREO_FLOATING_DISPATCH(grad_weight.dtype(), embedding_backward_typed, indices, grad_out, grad_weight)
}

#undef VIREO_FLOATING_DISPATCH

}  // namespace

VIREO_REGISTER_KERNEL(kernels::batch_norm_forward, DeviceType::cpu, batch_norm_forward);
VIREO_REGISTER_KERNEL(kernels::batch_norm_backward, DeviceType::cpu, batch_norm_backward);
VIREO_REGISTER_KERNEL(kernels::layer_norm_forward, DeviceType::cpu, layer_norm_forward);
VIREO_REGISTER_KERNEL(kernels::layer_norm_backward, DeviceType::cpu, layer_norm_backward);
VIREO_REGISTER_KERNEL(kernels::group_norm_forward, DeviceType::cpu, group_norm_forward);
VIREO_REGISTER_KERNEL(kernels::group_norm_backward, DeviceType::cpu, group_norm_backward);
VIREO_REGISTER_KERNEL(kernels::dropout_forward, DeviceType::cpu, dropout_forward);
VIREO_REGISTER_KERNEL(kernels::embedding_forward, DeviceType::cpu, embedding_forward);
VIREO_REGISTER_KERNEL(kernels::embedding_backward, DeviceType::cpu, embedding_backward);

}  // namespace vireo::cpu
