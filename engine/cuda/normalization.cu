// CUDA kernels of the normalization family (engine/kernels/normalization.h): batch, layer and group norm
// forward and backward, the dropout mask, and embedding lookup and its gradient.
//
// Statistics. Each thread folds its elements into a running mean and variance (Welford; engine/cuda/
// welford.h), the partial results are merged within the block, and — for batch norm, whose channels span
// the whole batch — across blocks in a second pass, in chunk order. Every sum of the backward passes is a
// double accumulated the same way. The split into chunks depends only on the shapes, so results do not
// depend on timing (no atomics), as the contract asks.
//
// Layouts (contiguous): batch norm x [N, C, M], statistics per c over N·M values; layer norm x [R, D], one
// warp per row; group norm x [N, C, M], one block per (n, group) whose (C/G)·M values are contiguous.
//
// The embedding gradient adds rows in the order of k for every weight row: the indices are sorted stably
// (CUB radix sort, keeping each index's positions in increasing k), then one thread per (distinct index,
// column) adds its run of gradient rows in that order — deterministic, without atomics.
#include <cub/device/device_radix_sort.cuh>

#include <algorithm>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/index_check.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/welford.h"
#include "engine/kernels/normalization.h"

namespace vireo::cuda {
namespace {

constexpr int kNormWarps = kNormThreads / kWarpSize;
// Layer-norm parameter gradients: rows are summed in blocks of at least kRowsPerBlock (more when there
// would be more blocks than a grid's y extent allows), then the blocks in order.
constexpr int64_t kRowsPerBlock = 32;
constexpr int64_t kMaxRowBlocks = 65535;

template <class T>
const T* optional(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* optional_out(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}
template <class T>
const T* input(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* output(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}
// γ (1 when absent) and β (0 when absent) as Compute<T>.
template <class T>
__device__ __forceinline__ Compute<T> gamma_at(const T* weight, int64_t c) {
  return weight ? load(weight[c]) : Compute<T>(1);
}
template <class T>
__device__ __forceinline__ Compute<T> beta_at(const T* bias, int64_t c) {
  return bias ? load(bias[c]) : Compute<T>(0);
}

// ---------------------------------------------------------------------------------------------------------
// Batch norm. Element (n, c, m) of x [N, C, M] sits at (n·C + c)·M + m; chunk k of channel c covers the
// values j ∈ [k·chunk, (k+1)·chunk) of j = n·M + m.

__device__ __forceinline__ int64_t batch_norm_offset(int64_t j, int64_t c, int64_t channels, int64_t spatial) {
  return ((j / spatial) * channels + c) * spatial + j % spatial;
}

// grid (C, chunks): the Welford statistics of each chunk of each channel.
template <class T>
__global__ void __launch_bounds__(kNormThreads)
    batch_norm_chunk_stats(const T* __restrict__ x, int64_t n, int64_t channels, int64_t spatial, int64_t chunks,
                           WelfordStats* __restrict__ partial) {
  __shared__ WelfordStats scratch[kNormWarps];
  const int64_t c = blockIdx.x, k = blockIdx.y;
  const ChunkRange range = chunk_range(n * spatial, chunks, k);
  WelfordStats stats;
  for (int64_t j = range.begin + threadIdx.x; j < range.end; j += blockDim.x)
    stats.add(static_cast<double>(load(x[batch_norm_offset(j, c, channels, spatial)])));
  stats = block_welford(stats, scratch);
  if (threadIdx.x == 0) partial[c * chunks + k] = stats;
}

// One thread per channel: merges the chunks in order (training) or reads the running statistics
// (evaluation); writes mean, var, rstd and the affine map y = x·a + b of the channel.
template <class T>
__global__ void batch_norm_finalize(const WelfordStats* __restrict__ partial, int64_t chunks, int64_t channels,
                                    bool training, double eps, const T* __restrict__ weight, const T* __restrict__ bias,
                                    T* __restrict__ mean, T* __restrict__ var, T* __restrict__ rstd,
                                    Compute<T>* __restrict__ scale, Compute<T>* __restrict__ shift) {
  for (int64_t c = global_thread(); c < channels; c += grid_threads()) {
    double mu, variance;
    if (training) {
      WelfordStats total;
      for (int64_t k = 0; k < chunks; ++k) total = welford_merge(total, partial[c * chunks + k]);
      mu = total.mean;
      variance = total.variance();
      mean[c] = store<T>(static_cast<Compute<T>>(mu));
      var[c] = store<T>(static_cast<Compute<T>>(variance));
    } else {
      mu = static_cast<double>(load(mean[c]));
      variance = static_cast<double>(load(var[c]));
    }
    const double r = inverse_std(variance, eps), gamma = static_cast<double>(gamma_at(weight, c));
    rstd[c] = store<T>(static_cast<Compute<T>>(r));
    scale[c] = static_cast<Compute<T>>(r * gamma);
    shift[c] = static_cast<Compute<T>>(static_cast<double>(beta_at(bias, c)) - mu * r * gamma);
  }
}

// y = x·a_c + b_c over every element.
template <class T>
__global__ void channel_affine(const T* __restrict__ x, T* __restrict__ y, int64_t total, int64_t channels,
                               int64_t spatial, const Compute<T>* __restrict__ scale, const Compute<T>* __restrict__ shift) {
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t c = (i / spatial) % channels;
    y[i] = store<T>(load(x[i]) * scale[c] + shift[c]);
  }
}

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                        const Tensor& var, const Tensor& rstd, const Tensor& out, bool training, double eps) {
  dispatch_floating("batch_norm_forward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = Compute<T>;
    const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
    if (channels == 0) return;
    const int64_t chunks = chunks_for(n * spatial);
    DeviceBuffer partial(sizeof(WelfordStats) * channels * chunks), affine(2 * sizeof(Acc) * channels);
    if (training) {
      batch_norm_chunk_stats<T><<<dim3(static_cast<unsigned>(channels), static_cast<unsigned>(chunks)), kNormThreads, 0,
                                  stream()>>>(input<T>(x), n, channels, spatial, chunks, partial.as<WelfordStats>());
      VIREO_CUDA_CHECK_LAUNCH();
    }
    Acc* scale = affine.as<Acc>();
    Acc* shift = scale + channels;
    batch_norm_finalize<T><<<blocks_for(channels), kThreads, 0, stream()>>>(
        partial.as<WelfordStats>(), chunks, channels, training, eps, optional<T>(weight), optional<T>(bias),
        output<T>(mean), output<T>(var), output<T>(rstd), scale, shift);
    VIREO_CUDA_CHECK_LAUNCH();
    const int64_t total = x.numel();
    if (total == 0) return;
    channel_affine<T><<<blocks_for(total), kThreads, 0, stream()>>>(input<T>(x), output<T>(out), total, channels,
                                                                   spatial, scale, shift);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// grid (C, chunks): Σ dy and Σ dy·(x − mean_c) of each chunk.
template <class T>
__global__ void __launch_bounds__(kNormThreads)
    batch_norm_chunk_grad_sums(const T* __restrict__ x, const T* __restrict__ dy, const T* __restrict__ mean,
                               int64_t n, int64_t channels, int64_t spatial, int64_t chunks, double* __restrict__ partial) {
  __shared__ double scratch[kNormWarps];
  const int64_t c = blockIdx.x, k = blockIdx.y;
  const ChunkRange range = chunk_range(n * spatial, chunks, k);
  const double m = static_cast<double>(load(mean[c]));
  double sum_dy = 0.0, sum_dy_xc = 0.0;
  for (int64_t j = range.begin + threadIdx.x; j < range.end; j += blockDim.x) {
    const int64_t i = batch_norm_offset(j, c, channels, spatial);
    const double g = static_cast<double>(load(dy[i]));
    sum_dy += g;
    sum_dy_xc += g * (static_cast<double>(load(x[i])) - m);
  }
  sum_dy = block_sum(sum_dy, scratch);
  sum_dy_xc = block_sum(sum_dy_xc, scratch);
  if (threadIdx.x == 0) {
    partial[2 * (c * chunks + k)] = sum_dy;
    partial[2 * (c * chunks + k) + 1] = sum_dy_xc;
  }
}

// One thread per channel: the chunk sums in order, the parameter gradients, and dx = k1·dy + k2·(x − m) + k3.
template <class T>
__global__ void batch_norm_backward_finalize(const double* __restrict__ partial, int64_t chunks, int64_t channels,
                                             double count, bool training, bool have_sums, const T* __restrict__ weight,
                                             const T* __restrict__ rstd, T* __restrict__ grad_weight,
                                             T* __restrict__ grad_bias, Compute<T>* __restrict__ coefficients) {
  for (int64_t c = global_thread(); c < channels; c += grid_threads()) {
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    if (have_sums)
      for (int64_t k = 0; k < chunks; ++k) {
        sum_dy += partial[2 * (c * chunks + k)];
        sum_dy_xc += partial[2 * (c * chunks + k) + 1];
      }
    const double r = static_cast<double>(load(rstd[c])), a = r * static_cast<double>(gamma_at(weight, c));
    if (grad_bias) grad_bias[c] = store<T>(static_cast<Compute<T>>(sum_dy));
    if (grad_weight) grad_weight[c] = store<T>(static_cast<Compute<T>>(sum_dy_xc * r));
    coefficients[3 * c] = static_cast<Compute<T>>(a);
    coefficients[3 * c + 1] = training ? static_cast<Compute<T>>(-a * r * r * sum_dy_xc / count) : Compute<T>(0);
    coefficients[3 * c + 2] = training ? static_cast<Compute<T>>(-a * sum_dy / count) : Compute<T>(0);
  }
}

template <class T>
__global__ void batch_norm_grad_input(const T* __restrict__ x, const T* __restrict__ dy, const T* __restrict__ mean,
                                      T* __restrict__ dx, int64_t total, int64_t channels, int64_t spatial,
                                      const Compute<T>* __restrict__ coefficients) {
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const int64_t c = (i / spatial) % channels;
    const Compute<T>* k = coefficients + 3 * c;
    dx[i] = store<T>(k[0] * load(dy[i]) + k[1] * (load(x[i]) - load(mean[c])) + k[2]);
  }
}

void batch_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  dispatch_floating("batch_norm_backward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = Compute<T>;
    const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
    if (channels == 0) return;
    const int64_t chunks = chunks_for(n * spatial);
    const bool have_sums = training || grad_weight.defined() || grad_bias.defined();
    DeviceBuffer partial(2 * sizeof(double) * channels * chunks), coefficients(3 * sizeof(Acc) * channels);
    if (have_sums) {
      batch_norm_chunk_grad_sums<T><<<dim3(static_cast<unsigned>(channels), static_cast<unsigned>(chunks)), kNormThreads,
                                      0, stream()>>>(input<T>(x), input<T>(grad_out), input<T>(mean), n, channels,
                                                     spatial, chunks, partial.as<double>());
      VIREO_CUDA_CHECK_LAUNCH();
    }
    batch_norm_backward_finalize<T><<<blocks_for(channels), kThreads, 0, stream()>>>(
        partial.as<double>(), chunks, channels, static_cast<double>(n * spatial), training, have_sums,
        optional<T>(weight), input<T>(rstd), optional_out<T>(grad_weight), optional_out<T>(grad_bias),
        coefficients.as<Acc>());
    VIREO_CUDA_CHECK_LAUNCH();
    const int64_t total = x.numel();
    if (!grad_x.defined() || total == 0) return;
    batch_norm_grad_input<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        input<T>(x), input<T>(grad_out), input<T>(mean), output<T>(grad_x), total, channels, spatial,
        coefficients.as<Acc>());
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Layer norm over rows of x [R, D], one warp per row:
//   mean, rstd = 1/√(var + eps) from the lanes' merged Welford statistics; y = (x − mean)·rstd·γ + β.

template <class T>
__global__ void layer_norm_forward_rows(const T* __restrict__ x, const T* __restrict__ weight,
                                        const T* __restrict__ bias, T* __restrict__ y, T* __restrict__ mean,
                                        T* __restrict__ rstd, int64_t rows, int64_t width, double eps) {
  using Acc = Compute<T>;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = grid_threads() / kWarpSize;
  for (int64_t r = global_thread() / kWarpSize; r < rows; r += warps) {
    const T* xr = x + r * width;
    WelfordStats stats;
    for (int64_t i = lane; i < width; i += kWarpSize) stats.add(static_cast<double>(load(xr[i])));
    stats = warp_welford(stats);
    const Acc m = static_cast<Acc>(stats.mean), s = static_cast<Acc>(inverse_std(stats.variance(), eps));
    T* yr = y + r * width;
    for (int64_t i = lane; i < width; i += kWarpSize)
      yr[i] = store<T>((load(xr[i]) - m) * s * gamma_at(weight, i) + beta_at(bias, i));
    if (lane == 0) {
      mean[r] = store<T>(m);
      rstd[r] = store<T>(s);
    }
  }
}

void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                        const Tensor& mean, const Tensor& rstd, double eps) {
  dispatch_floating("layer_norm_forward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.size(0), width = x.size(1);
    if (rows == 0) return;
    layer_norm_forward_rows<T><<<blocks_for(rows * kWarpSize), kThreads, 0, stream()>>>(
        input<T>(x), optional<T>(weight), optional<T>(bias), output<T>(out), output<T>(mean), output<T>(rstd), rows,
        width, eps);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// Per row, with x̂ = (x − mean)·rstd and g = dy·γ: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)).
template <class T>
__global__ void layer_norm_grad_input_rows(const T* __restrict__ x, const T* __restrict__ dy,
                                           const T* __restrict__ weight, const T* __restrict__ mean,
                                           const T* __restrict__ rstd, T* __restrict__ dx, int64_t rows, int64_t width) {
  using Acc = Compute<T>;
  const int lane = threadIdx.x % kWarpSize;
  const int64_t warps = grid_threads() / kWarpSize;
  for (int64_t r = global_thread() / kWarpSize; r < rows; r += warps) {
    const T* xr = x + r * width;
    const T* gr = dy + r * width;
    const Acc m = load(mean[r]), s = load(rstd[r]);
    Acc sum_g = 0, sum_g_xhat = 0;
    for (int64_t i = lane; i < width; i += kWarpSize) {
      const Acc g = load(gr[i]) * gamma_at(weight, i);
      sum_g += g;
      sum_g_xhat += g * (load(xr[i]) - m) * s;
    }
    sum_g = warp_sum(sum_g);
    sum_g_xhat = warp_sum(sum_g_xhat);
    const Acc mean_g = sum_g / static_cast<Acc>(width), mean_g_xhat = sum_g_xhat / static_cast<Acc>(width);
    T* dr = dx + r * width;
    for (int64_t i = lane; i < width; i += kWarpSize)
      dr[i] = store<T>(s * (load(gr[i]) * gamma_at(weight, i) - mean_g - (load(xr[i]) - m) * s * mean_g_xhat));
  }
}

// grid (column blocks, row blocks): per column, Σ dy·x̂ and Σ dy over the rows of one row block.
template <class T>
__global__ void layer_norm_param_partials(const T* __restrict__ x, const T* __restrict__ dy,
                                          const T* __restrict__ mean, const T* __restrict__ rstd, int64_t rows,
                                          int64_t width, int64_t rows_per_block, double* __restrict__ partial) {
  const int64_t column = blockIdx.x * int64_t{blockDim.x} + threadIdx.x, block = blockIdx.y;
  if (column >= width) return;
  double w = 0.0, b = 0.0;
  const int64_t end = (block + 1) * rows_per_block < rows ? (block + 1) * rows_per_block : rows;
  for (int64_t r = block * rows_per_block; r < end; ++r) {
    const double g = static_cast<double>(load(dy[r * width + column]));
    w += g * (static_cast<double>(load(x[r * width + column])) - static_cast<double>(load(mean[r]))) *
         static_cast<double>(load(rstd[r]));
    b += g;
  }
  partial[block * 2 * width + column] = w;
  partial[block * 2 * width + width + column] = b;
}

// One thread per column: the row blocks' partials in order.
template <class T>
__global__ void sum_param_partials(const double* __restrict__ partial, int64_t blocks, int64_t width,
                                   T* __restrict__ grad_weight, T* __restrict__ grad_bias) {
  for (int64_t i = global_thread(); i < width; i += grid_threads()) {
    double w = 0.0, b = 0.0;
    for (int64_t block = 0; block < blocks; ++block) {
      w += partial[block * 2 * width + i];
      b += partial[block * 2 * width + width + i];
    }
    if (grad_weight) grad_weight[i] = store<T>(static_cast<Compute<T>>(w));
    if (grad_bias) grad_bias[i] = store<T>(static_cast<Compute<T>>(b));
  }
}

void layer_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias) {
  dispatch_floating("layer_norm_backward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = x.size(0), width = x.size(1);
    if (grad_x.defined() && rows > 0 && width > 0) {
      layer_norm_grad_input_rows<T><<<blocks_for(rows * kWarpSize), kThreads, 0, stream()>>>(
          input<T>(x), input<T>(grad_out), optional<T>(weight), input<T>(mean), input<T>(rstd), output<T>(grad_x),
          rows, width);
      VIREO_CUDA_CHECK_LAUNCH();
    }
    if ((!grad_weight.defined() && !grad_bias.defined()) || width == 0) return;
    const int64_t rows_per_block = std::max(kRowsPerBlock, (rows + kMaxRowBlocks - 1) / kMaxRowBlocks);
    const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
    DeviceBuffer partial(sizeof(double) * 2 * width * std::max<int64_t>(blocks, 1));
    if (blocks > 0) {
      const dim3 grid(static_cast<unsigned>((width + kThreads - 1) / kThreads), static_cast<unsigned>(blocks));
      layer_norm_param_partials<T><<<grid, kThreads, 0, stream()>>>(input<T>(x), input<T>(grad_out), input<T>(mean),
                                                                  input<T>(rstd), rows, width, rows_per_block,
                                                                  partial.as<double>());
      VIREO_CUDA_CHECK_LAUNCH();
    }
    sum_param_partials<T><<<blocks_for(width), kThreads, 0, stream()>>>(partial.as<double>(), blocks, width,
                                                                      optional_out<T>(grad_weight),
                                                                      optional_out<T>(grad_bias));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Group norm over x [N, C, M] in G groups: block (n·G + g) owns the contiguous run of (C/G)·M values.

template <class T>
__global__ void __launch_bounds__(kNormThreads)
    group_norm_forward_groups(const T* __restrict__ x, const T* __restrict__ weight, const T* __restrict__ bias,
                              T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd, int64_t groups,
                              int64_t per_group, int64_t spatial, double eps) {
  using Acc = Compute<T>;
  __shared__ WelfordStats scratch[kNormWarps];
  const int64_t ng = blockIdx.x, run = per_group * spatial, first_channel = (ng % groups) * per_group;
  const T* xr = x + ng * run;
  WelfordStats stats;
  for (int64_t i = threadIdx.x; i < run; i += blockDim.x) stats.add(static_cast<double>(load(xr[i])));
  stats = block_welford(stats, scratch);
  const double mu = stats.mean, rs = inverse_std(stats.variance(), eps);
  if (threadIdx.x == 0) {
    mean[ng] = store<T>(static_cast<Acc>(mu));
    rstd[ng] = store<T>(static_cast<Acc>(rs));
  }
  T* yr = y + ng * run;
  for (int64_t i = threadIdx.x; i < run; i += blockDim.x) {
    const int64_t c = first_channel + i / spatial;
    const double a = rs * static_cast<double>(gamma_at(weight, c));
    const Acc scale = static_cast<Acc>(a), shift = static_cast<Acc>(static_cast<double>(beta_at(bias, c)) - mu * a);
    yr[i] = store<T>(load(xr[i]) * scale + shift);
  }
}

void group_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups, const Tensor& out,
                        const Tensor& mean, const Tensor& rstd, double eps) {
  dispatch_floating("group_norm_forward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
    if (n * groups == 0) return;
    group_norm_forward_groups<T><<<static_cast<unsigned>(n * groups), kNormThreads, 0, stream()>>>(
        input<T>(x), optional<T>(weight), optional<T>(bias), output<T>(out), output<T>(mean), output<T>(rstd), groups,
        channels / groups, spatial, eps);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// Block (n, g): per channel c of the group, Σ dy and Σ dy·(x − mean) (kept as partials per (n, c) for the
// parameter gradients); then dx = k1_c·dy + k2·(x − mean) + k3 with
//   k1_c = rstd·γ_c,  k2 = −rstd³·Σ_c γ_c·Σ dy·(x − mean)/K,  k3 = −rstd·Σ_c γ_c·Σ dy/K,  K = (C/G)·M.
template <class T>
__global__ void __launch_bounds__(kNormThreads)
    group_norm_backward_groups(const T* __restrict__ x, const T* __restrict__ dy, const T* __restrict__ weight,
                               const T* __restrict__ mean, const T* __restrict__ rstd, T* __restrict__ dx,
                               int64_t groups, int64_t channels, int64_t per_group, int64_t spatial,
                               double* __restrict__ partial_dy, double* __restrict__ partial_dy_xhat) {
  using Acc = Compute<T>;
  __shared__ double scratch[kNormWarps];
  const int64_t ng = blockIdx.x, run = per_group * spatial, first_channel = (ng % groups) * per_group;
  const int64_t sample = ng / groups;
  const double mu = static_cast<double>(load(mean[ng])), rs = static_cast<double>(load(rstd[ng]));
  double sum_g = 0.0, sum_g_xc = 0.0;
  for (int64_t j = 0; j < per_group; ++j) {
    const int64_t c = first_channel + j, offset = ng * run + j * spatial;
    double sum_dy = 0.0, sum_dy_xc = 0.0;
    for (int64_t i = threadIdx.x; i < spatial; i += blockDim.x) {
      const double g = static_cast<double>(load(dy[offset + i]));
      sum_dy += g;
      sum_dy_xc += g * (static_cast<double>(load(x[offset + i])) - mu);
    }
    sum_dy = block_sum(sum_dy, scratch);
    sum_dy_xc = block_sum(sum_dy_xc, scratch);
    if (threadIdx.x == 0) {
      partial_dy[sample * channels + c] = sum_dy;
      partial_dy_xhat[sample * channels + c] = sum_dy_xc * rs;
    }
    const double gamma = static_cast<double>(gamma_at(weight, c));
    sum_g += gamma * sum_dy;
    sum_g_xc += gamma * sum_dy_xc;
  }
  if (!dx) return;
  const double count = static_cast<double>(run);
  const Acc k2 = static_cast<Acc>(-rs * rs * rs * sum_g_xc / count), k3 = static_cast<Acc>(-rs * sum_g / count);
  const Acc m = static_cast<Acc>(mu);
  for (int64_t i = threadIdx.x; i < run; i += blockDim.x) {
    const int64_t c = first_channel + i / spatial, at = ng * run + i;
    const Acc k1 = static_cast<Acc>(rs * static_cast<double>(gamma_at(weight, c)));
    dx[at] = store<T>(k1 * load(dy[at]) + k2 * (load(x[at]) - m) + k3);
  }
}

// One thread per channel: the per-sample partials added over n in order.
template <class T>
__global__ void group_norm_param_grads(const double* __restrict__ partial_dy, const double* __restrict__ partial_dy_xhat,
                                       int64_t n, int64_t channels, T* __restrict__ grad_weight, T* __restrict__ grad_bias) {
  for (int64_t c = global_thread(); c < channels; c += grid_threads()) {
    double w = 0.0, b = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      w += partial_dy_xhat[i * channels + c];
      b += partial_dy[i * channels + c];
    }
    if (grad_weight) grad_weight[c] = store<T>(static_cast<Compute<T>>(w));
    if (grad_bias) grad_bias[c] = store<T>(static_cast<Compute<T>>(b));
  }
}

void group_norm_backward(const Tensor& x, const Tensor& grad_out, const Tensor& weight, int64_t groups,
                         const Tensor& mean, const Tensor& rstd, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  dispatch_floating("group_norm_backward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.size(0), channels = x.size(1), spatial = x.size(2);
    if (channels == 0) return;
    DeviceBuffer partials(2 * sizeof(double) * std::max<int64_t>(n * channels, 1));
    double* partial_dy = partials.as<double>();
    double* partial_dy_xhat = partial_dy + n * channels;
    if (n * groups > 0) {
      group_norm_backward_groups<T><<<static_cast<unsigned>(n * groups), kNormThreads, 0, stream()>>>(
          input<T>(x), input<T>(grad_out), optional<T>(weight), input<T>(mean), input<T>(rstd), optional_out<T>(grad_x),
          groups, channels, channels / groups, spatial, partial_dy, partial_dy_xhat);
      VIREO_CUDA_CHECK_LAUNCH();
    }
    if (!grad_weight.defined() && !grad_bias.defined()) return;
    group_norm_param_grads<T><<<blocks_for(channels), kThreads, 0, stream()>>>(
        partial_dy, partial_dy_xhat, n, channels, optional_out<T>(grad_weight), optional_out<T>(grad_bias));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Dropout: mask = u ≥ p ? 1/(1 − p) : 0 in place of the uniform draws, out = x·mask.
template <class T>
__global__ void dropout_kernel(const T* __restrict__ x, T* __restrict__ mask, T* __restrict__ y, int64_t total,
                               Compute<T> threshold, Compute<T> keep_scale) {
  for (int64_t i = global_thread(); i < total; i += grid_threads()) {
    const Compute<T> m = load(mask[i]) >= threshold ? keep_scale : Compute<T>(0);
    mask[i] = store<T>(m);
    y[i] = store<T>(load(x[i]) * m);
  }
}

void dropout_forward(const Tensor& x, const Tensor& uniform_then_mask, const Tensor& out, double p) {
  dispatch_floating("dropout_forward", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = x.numel();
    if (total == 0) return;
    dropout_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
        input<T>(x), output<T>(uniform_then_mask), output<T>(out), total, static_cast<Compute<T>>(p),
        static_cast<Compute<T>>(1.0 / (1.0 - p)));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---------------------------------------------------------------------------------------------------------
// Embedding: out[k, :] = weight[index[k], :]; a bad index is reported and its row left unwritten.
template <class T>
__global__ void embedding_gather(const int64_t* __restrict__ index, const T* __restrict__ weight, T* __restrict__ out,
                                 int64_t count, int64_t num, int64_t dim, unsigned long long* bad) {
  const int64_t columns = dim > 0 ? dim : 1;  // with dim = 0 the indices are still checked, one thread each
  for (int64_t i = global_thread(); i < count * columns; i += grid_threads()) {
    const int64_t k = i / columns, d = i % columns;
    const int64_t row = index[k];
    if (index_out_of_range(row, num)) {
      report_bad_index(bad, k);
      continue;
    }
    if (d < dim) out[k * dim + d] = weight[row * dim + d];
  }
}

void embedding_forward(const Tensor& indices, const Tensor& weight, const Tensor& out) {
  dispatch_floating("embedding_forward", weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t count = indices.numel(), num = weight.size(0), dim = weight.size(1);
    if (count == 0) return;
    const IndexCheck check;
    const int64_t* index = input<int64_t>(indices);
    const int64_t work = count * std::max<int64_t>(dim, 1);
    embedding_gather<T><<<blocks_for(work), kThreads, 0, stream()>>>(index, input<T>(weight), output<T>(out), count,
                                                                     num, dim, check.slot());
    VIREO_CUDA_CHECK_LAUNCH();
    const int64_t bad = check.first_bad_position();
    if (bad >= 0)
      fail("embedding: index ", IndexCheck::read_index(index, bad), " (at position ", bad,
           ") is out of range for num_embeddings ", num);
  });
}

// Thread (s, d) of the sorted indices: when s starts a run of equal indices, adds grad_out rows of the run
// (their positions k in increasing order) into grad_weight[index, d].
template <class T>
__global__ void embedding_sum_runs(const int64_t* __restrict__ sorted_index, const int64_t* __restrict__ positions,
                                   const T* __restrict__ grad_out, T* __restrict__ grad_weight, int64_t count,
                                   int64_t num, int64_t dim) {
  for (int64_t i = global_thread(); i < count * dim; i += grid_threads()) {
    const int64_t s = i / dim, d = i % dim;
    const int64_t row = sorted_index[s];
    if (s > 0 && sorted_index[s - 1] == row) continue;  // not the start of a run
    if (index_out_of_range(row, num)) continue;          // the forward refused it; never write out of bounds
    Compute<T> sum = 0;
    for (int64_t t = s; t < count && sorted_index[t] == row; ++t) sum += load(grad_out[positions[t] * dim + d]);
    grad_weight[row * dim + d] = store<T>(sum);
  }
}

__global__ void iota_kernel(int64_t* __restrict__ values, int64_t count) {
  for (int64_t i = global_thread(); i < count; i += grid_threads()) values[i] = i;
}

void embedding_backward(const Tensor& indices, const Tensor& grad_out, const Tensor& grad_weight) {
  dispatch_floating("embedding_backward", grad_weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t count = indices.numel(), num = grad_weight.size(0), dim = grad_weight.size(1);
    const size_t weight_bytes = static_cast<size_t>(num * dim) * sizeof(T);
    if (weight_bytes > 0) VIREO_CUDA_CHECK(cudaMemsetAsync(grad_weight.raw_data(), 0, weight_bytes, stream()));
    if (count == 0 || num * dim == 0) return;
    // Sort (index, k) pairs by index; the radix sort is stable, so each run keeps k in increasing order.
    DeviceBuffer keys_and_positions(4 * sizeof(int64_t) * count);
    int64_t* positions_in = keys_and_positions.as<int64_t>();
    int64_t* sorted_index = positions_in + count;
    int64_t* positions = sorted_index + count;
    iota_kernel<<<blocks_for(count), kThreads, 0, stream()>>>(positions_in, count);
    VIREO_CUDA_CHECK_LAUNCH();
    size_t temp_bytes = 0;
    VIREO_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, input<int64_t>(indices), sorted_index,
                                                     positions_in, positions, count, 0, 64, stream()));
    DeviceBuffer temp(std::max<size_t>(temp_bytes, 1));
    VIREO_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.data(), temp_bytes, input<int64_t>(indices), sorted_index,
                                                     positions_in, positions, count, 0, 64, stream()));
    embedding_sum_runs<T><<<blocks_for(count * dim), kThreads, 0, stream()>>>(
        sorted_index, positions, input<T>(grad_out), output<T>(grad_weight), count, num, dim);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::batch_norm_forward, DeviceType::cuda, batch_norm_forward);
VIREO_REGISTER_KERNEL(kernels::batch_norm_backward, DeviceType::cuda, batch_norm_backward);
VIREO_REGISTER_KERNEL(kernels::layer_norm_forward, DeviceType::cuda, layer_norm_forward);
VIREO_REGISTER_KERNEL(kernels::layer_norm_backward, DeviceType::cuda, layer_norm_backward);
VIREO_REGISTER_KERNEL(kernels::group_norm_forward, DeviceType::cuda, group_norm_forward);
VIREO_REGISTER_KERNEL(kernels::group_norm_backward, DeviceType::cuda, group_norm_backward);
VIREO_REGISTER_KERNEL(kernels::dropout_forward, DeviceType::cuda, dropout_forward);
VIREO_REGISTER_KERNEL(kernels::embedding_forward, DeviceType::cuda, embedding_forward);
VIREO_REGISTER_KERNEL(kernels::embedding_backward, DeviceType::cuda, embedding_backward);

}  // namespace vireo::cuda
