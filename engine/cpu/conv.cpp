// CPU convolution as GEMM over im2col, one image at a time.
//
// For one image n and one group, with K = (C_in / groups)·kH·kW rows (c, i, j) and OH·OW columns (oh, ow):
//
//   col[(c, i, j), (oh, ow)] = x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]      (0 outside the image)
//   forward:       Y_n = W · col                      W  [C_out/groups × K], Y_n [C_out/groups × OH·OW]
//   input grad:    dX_n = col2im(Wᵀ · dY_n)            col2im adds each column entry back where im2col took it
//   weight grad:   dW  = Σ_n dY_n · col_nᵀ
//
// The column matrix is never built for a whole batch, nor even for a whole image when it would be large:
// it is filled for a tile of output rows at a time into a per-thread buffer of at most kColumnBudget
// elements (one row of output positions at least), which the GEMM then reads while it is in cache.
// A 1×1, stride-1, unpadded convolution has col = x_n itself, so the GEMM reads the image directly. The
// 3×3 stride-1 convolutions of enough channels take the Winograd path instead (engine/cpu/conv_winograd.h).
//
// Threads: when the batch covers every thread, images go to threads and each GEMM runs single-threaded
// inside the region; otherwise images run in turn and the GEMM (and im2col/col2im, by channel) use the
// threads. The weight gradient instead splits the rows (c, i, j) of dW's columns among threads: each
// thread fills only its own rows of col and owns its columns of dW, summing over images in order — no
// partial copies of dW, no races, and the same result for any thread count.
#include <algorithm>
#include <vector>

#include "engine/cpu/conv_winograd.h"
#include "engine/cpu/dtype_support.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/scratch.h"
#include "engine/kernels/conv.h"

namespace vireo::cpu {
namespace {

using kernels::Conv2dGeometry;

// 1 MiB of f32: the column tile and the GEMM's packed panels stay within the 1 MiB L2 and the shared L3.
constexpr int64_t kColumnBudget = int64_t{1} << 18;

// Output rows per column tile so that rows·K·OW stays within the budget (at least one row), spread evenly
// over the tiles so that the last one is not a sliver that the GEMM runs slowly.
int64_t tile_rows(int64_t column_rows, const Conv2dGeometry& g) {
  const int64_t per_row = std::max<int64_t>(1, column_rows * g.out_width);
  const int64_t most = std::clamp<int64_t>(kColumnBudget / per_row, 1, std::max<int64_t>(1, g.out_height));
  const int64_t tiles = (g.out_height + most - 1) / most;
  return (g.out_height + tiles - 1) / std::max<int64_t>(tiles, 1);
}

bool is_pointwise(const Conv2dGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0;
}

// The output columns ow whose input column ow·sw + offset lies in [0, W): [lo, hi).
struct ColumnRange {
  int64_t lo, hi;
};
ColumnRange valid_columns(int64_t offset, int64_t stride, int64_t in_width, int64_t out_width) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t last = in_width - 1 - offset;  // ow·stride ≤ last
  int64_t hi = last < 0 ? 0 : last / stride + 1;
  lo = std::min(lo, out_width);
  hi = std::clamp(hi, lo, out_width);
  return {lo, hi};
}

// Fills rows [row_lo, row_hi) of one image's column matrix (row r = (c, i, j) with c counted over all of
// the image's channels) for output rows [oh0, oh1); col is [(row_hi − row_lo) × (oh1 − oh0)·OW].
template <class T>
void im2col(const Conv2dGeometry& g, const T* image, int64_t row_lo, int64_t row_hi, int64_t oh0, int64_t oh1,
            T* col) {
  const int64_t H = g.in_height, W = g.in_width, OW = g.out_width;
  const int64_t kernel_area = g.kernel_h * g.kernel_w;
  const int64_t cols = (oh1 - oh0) * OW;
  parallel_for(row_lo, row_hi, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t c = r / kernel_area, i = (r % kernel_area) / g.kernel_w, j = r % g.kernel_w;
      const T* plane = image + c * H * W;
      const int64_t offset_w = j * g.dilation_w - g.pad_w;
      const ColumnRange valid = valid_columns(offset_w, g.stride_w, W, OW);
      T* row = col + (r - row_lo) * cols;
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        T* out = row + (oh - oh0) * OW;
        const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
        if (ih < 0 || ih >= H) {
          std::fill(out, out + OW, T(0));
          continue;
        }
        const T* in = plane + ih * W;
        std::fill(out, out + valid.lo, T(0));
        if (g.stride_w == 1) {
          // A loop the compiler vectorizes rather than a memcpy call: rows are only OW elements long.
#pragma omp simd
          for (int64_t ow = valid.lo; ow < valid.hi; ++ow) out[ow] = in[ow + offset_w];
        } else {
          for (int64_t ow = valid.lo; ow < valid.hi; ++ow) out[ow] = in[ow * g.stride_w + offset_w];
        }
        std::fill(out + valid.hi, out + OW, T(0));
      }
    }
  });
}

// The adjoint of im2col for the channels [c_lo, c_hi) (rows [c_lo·kH·kW, c_hi·kH·kW) of col):
// image[c, ih, iw] += col[(c, i, j), (oh, ow)] wherever im2col read image[c, ih, iw]. Channels go to
// threads, so no two threads add into the same plane.
template <class T>
void col2im(const Conv2dGeometry& g, const T* col, int64_t c_lo, int64_t c_hi, int64_t oh0, int64_t oh1, T* image) {
  const int64_t H = g.in_height, W = g.in_width, OW = g.out_width;
  const int64_t kernel_area = g.kernel_h * g.kernel_w;
  const int64_t cols = (oh1 - oh0) * OW;
  parallel_for(c_lo, c_hi, std::max<int64_t>(1, 16384 / std::max<int64_t>(cols * kernel_area, 1)),
               [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      T* plane = image + c * H * W;
      for (int64_t i = 0; i < g.kernel_h; ++i)
        for (int64_t j = 0; j < g.kernel_w; ++j) {
          const T* row = col + ((c - c_lo) * kernel_area + i * g.kernel_w + j) * cols;
          const int64_t offset_w = j * g.dilation_w - g.pad_w;
          const ColumnRange valid = valid_columns(offset_w, g.stride_w, W, OW);
          for (int64_t oh = oh0; oh < oh1; ++oh) {
            const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dilation_h;
            if (ih < 0 || ih >= H) continue;
            const T* in = row + (oh - oh0) * OW;
            T* out = plane + ih * W;
            if (g.stride_w == 1) {
#pragma omp simd
              for (int64_t ow = valid.lo; ow < valid.hi; ++ow) out[ow + offset_w] += in[ow];
            } else {
              for (int64_t ow = valid.lo; ow < valid.hi; ++ow) out[ow * g.stride_w + offset_w] += in[ow];
            }
          }
        }
    }
  });
}

// Runs body(n) for every image: spread over threads when the batch covers them and there is enough work
// (multiply-adds per image) to pay for waking them, else in turn (and then the GEMMs and column loops
// inside use the threads).
constexpr int64_t kParallelWork = int64_t{1} << 18;

template <class Body>
void for_each_image(int64_t batch, int64_t work_per_image, Body&& body) {
  if (batch >= max_threads() && max_threads() > 1 && !in_parallel_region() && batch * work_per_image >= kParallelWork) {
    parallel_for(0, batch, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; ++n) body(n);
    });
  } else {
    for (int64_t n = 0; n < batch; ++n) body(n);
  }
}

// out[c, :] += bias[c] over planes of `plane` elements.
template <class T>
void add_bias(const T* bias, int64_t channels, int64_t plane, T* out) {
  for (int64_t c = 0; c < channels; ++c) {
    const T b = bias[c];
    T* row = out + c * plane;
#pragma omp simd
    for (int64_t p = 0; p < plane; ++p) row[p] += b;
  }
}

template <class T>
void forward_typed(const Conv2dGeometry& g, const Tensor& image, const Tensor& weight, const Tensor& bias,
                   const Tensor& response) {
  const T* x = image.data<T>();
  const T* w = weight.data<T>();
  const T* b = bias.defined() ? bias.data<T>() : nullptr;
  T* y = response.data<T>();
  if (winograd_applies(g)) return winograd_forward(g, x, w, b, y);
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t K = cin_g * g.kernel_h * g.kernel_w;
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  const bool pointwise = is_pointwise(g);
  const int64_t rows = tile_rows(K, g);

  for_each_image(g.batch, g.out_channels * out_plane * K, [&](int64_t n) {
    const T* xn = x + n * g.in_channels * in_plane;
    T* yn = y + n * g.out_channels * out_plane;
    if (pointwise) {
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm(false, false, cout_g, out_plane, cin_g, T(1), w + grp * cout_g * K, K, xn + grp * cin_g * in_plane,
             in_plane, T(0), yn + grp * cout_g * out_plane, out_plane);
    } else {
      T* col = thread_scratch<T>(K * rows * g.out_width);
      for (int64_t oh0 = 0; oh0 < g.out_height; oh0 += rows) {
        const int64_t oh1 = std::min(g.out_height, oh0 + rows), cols = (oh1 - oh0) * g.out_width;
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          im2col(g, xn, grp * K, (grp + 1) * K, oh0, oh1, col);
          gemm(false, false, cout_g, cols, K, T(1), w + grp * cout_g * K, K, col, cols, T(0),
               yn + grp * cout_g * out_plane + oh0 * g.out_width, out_plane);
        }
      }
    }
    if (b) add_bias(b, g.out_channels, out_plane, yn);
  });
}

template <class T>
void input_grad_typed(const Conv2dGeometry& g, const Tensor& response, const Tensor& weight, const Tensor& bias,
                      const Tensor& image) {
  const T* dy = response.data<T>();
  const T* w = weight.data<T>();
  const T* b = bias.defined() ? bias.data<T>() : nullptr;
  T* dx = image.data<T>();
  if (winograd_applies(g)) return winograd_input_grad(g, dy, w, b, dx);
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t K = cin_g * g.kernel_h * g.kernel_w;
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  const bool pointwise = is_pointwise(g);
  const int64_t rows = tile_rows(K, g);

  for_each_image(g.batch, g.out_channels * out_plane * K, [&](int64_t n) {
    const T* dyn = dy + n * g.out_channels * out_plane;
    T* dxn = dx + n * g.in_channels * in_plane;
    if (pointwise) {
      for (int64_t grp = 0; grp < g.groups; ++grp)
        gemm(true, false, cin_g, in_plane, cout_g, T(1), w + grp * cout_g * K, K, dyn + grp * cout_g * out_plane,
             out_plane, T(0), dxn + grp * cin_g * in_plane, in_plane);
    } else {
      std::fill(dxn, dxn + g.in_channels * in_plane, T(0));
      T* col = thread_scratch<T>(K * rows * g.out_width);
      for (int64_t oh0 = 0; oh0 < g.out_height; oh0 += rows) {
        const int64_t oh1 = std::min(g.out_height, oh0 + rows), cols = (oh1 - oh0) * g.out_width;
        for (int64_t grp = 0; grp < g.groups; ++grp) {
          gemm(true, false, K, cols, cout_g, T(1), w + grp * cout_g * K, K,
               dyn + grp * cout_g * out_plane + oh0 * g.out_width, out_plane, T(0), col, cols);
          col2im(g, col, grp * cin_g, (grp + 1) * cin_g, oh0, oh1, dxn);
        }
      }
    }
    if (b) add_bias(b, g.in_channels, in_plane, dxn);
  });
}

template <class T>
void weight_grad_typed(const Conv2dGeometry& g, const Tensor& image, const Tensor& response, const Tensor& weight) {
  const T* x = image.data<T>();
  const T* dy = response.data<T>();
  T* dw = weight.data<T>();
  if (winograd_applies(g)) return winograd_weight_grad(g, x, dy, dw);
  const int64_t cin_g = g.in_channels / g.groups, cout_g = g.out_channels / g.groups;
  const int64_t K = cin_g * g.kernel_h * g.kernel_w;
  const int64_t in_plane = g.in_height * g.in_width, out_plane = g.out_height * g.out_width;
  const bool pointwise = is_pointwise(g);
  if (g.batch == 0 || out_plane == 0) {
    std::fill(dw, dw + g.out_channels * K, T(0));
    return;
  }

  // Rows r = (c, i, j) over all groups: group grp owns [grp·K, (grp + 1)·K), and within it row a is
  // column a of that group's [C_out/groups × K] block of dW.
  // The tiles follow from K alone, not from a thread's share of rows, so the order in which each dW entry
  // is summed does not change with the thread count.
  const int64_t rows = tile_rows(K, g);
  const int64_t work_per_row = g.batch * cout_g * out_plane;
  parallel_for(0, g.groups * K, std::max<int64_t>(1, kParallelWork / std::max<int64_t>(1, work_per_row)),
               [&](int64_t row_lo, int64_t row_hi) {
    for (int64_t grp = row_lo / K; grp * K < row_hi; ++grp) {
      const int64_t a = std::max(row_lo, grp * K) - grp * K, z = std::min(row_hi, (grp + 1) * K) - grp * K;
      T* dw_block = dw + grp * cout_g * K + a;
      T* col = pointwise ? nullptr : thread_scratch<T>((z - a) * rows * g.out_width);
      for (int64_t n = 0; n < g.batch; ++n) {
        const T* xn = x + n * g.in_channels * in_plane;
        const T* dyn = dy + n * g.out_channels * out_plane + grp * cout_g * out_plane;
        if (pointwise) {
          gemm(false, true, cout_g, z - a, in_plane, T(1), dyn, out_plane, xn + (grp * K + a) * in_plane, in_plane,
               n == 0 ? T(0) : T(1), dw_block, K);
          continue;
        }
        for (int64_t oh0 = 0; oh0 < g.out_height; oh0 += rows) {
          const int64_t oh1 = std::min(g.out_height, oh0 + rows), cols = (oh1 - oh0) * g.out_width;
          im2col(g, xn, grp * K + a, grp * K + z, oh0, oh1, col);
          gemm(false, true, cout_g, z - a, cols, T(1), dyn + oh0 * g.out_width, out_plane, col, cols,
               n == 0 && oh0 == 0 ? T(0) : T(1), dw_block, K);
        }
      }
    }
  });
}

void conv2d_forward(const Conv2dGeometry& g, const Tensor& image, const Tensor& weight, const Tensor& bias,
                    const Tensor& response) {
  dispatch_floating(__func__, image.dtype(),
                    [&](auto tag) { forward_typed<decltype(tag)>(g, image, weight, bias, response); });
}

void conv2d_input_grad(const Conv2dGeometry& g, const Tensor& response, const Tensor& weight, const Tensor& bias,
                       const Tensor& image) {
  dispatch_floating(__func__, image.dtype(),
                    [&](auto tag) { input_grad_typed<decltype(tag)>(g, response, weight, bias, image); });
}

void conv2d_weight_grad(const Conv2dGeometry& g, const Tensor& image, const Tensor& response, const Tensor& weight) {
  dispatch_floating(__func__, image.dtype(),
                    [&](auto tag) { weight_grad_typed<decltype(tag)>(g, image, response, weight); });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::conv2d_forward, DeviceType::cpu, conv2d_forward);
VIREO_REGISTER_KERNEL(kernels::conv2d_input_grad, DeviceType::cpu, conv2d_input_grad);
VIREO_REGISTER_KERNEL(kernels::conv2d_weight_grad, DeviceType::cpu, conv2d_weight_grad);

}  // namespace vireo::cpu
