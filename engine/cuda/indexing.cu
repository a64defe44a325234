// CUDA kernels that move values by i64 indices (engine/kernels/indexing.h): index_select and index_add over
// [outer, extent, inner] blocks, gather and scatter_add along one axis of strided views, and one_hot.
//
// Accumulation without atomics, in the CPU's order: index_add gives one thread each (outer, inner) position
// and scatter_add one thread each line along `dim` (engine/cuda/axis_lines.h); each adds its sources in
// increasing j. No two threads write one element, and duplicates add up in the same order as on the CPU.
//
// Indices are checked where they are read: a bad one is skipped (nothing is read or written out of
// bounds) and its position reported (engine/cuda/index_check.cuh); the host then fails naming the op, the
// index and the extent, as the CPU does.
#include <type_traits>

#include "engine/cuda/axis_lines.h"
#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/index_check.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/kernels/indexing.h"

namespace vireo::cuda {
namespace {

// Fails with the CPU's message when a kernel reported a bad index.
void throw_if_bad(const IndexCheck& check, const char* op, const int64_t* index, int64_t dim, int64_t extent) {
  const int64_t bad = check.first_bad_position();
  if (bad >= 0)
    fail(op, ": index ", IndexCheck::read_index(index, bad), " is out of range for dimension ", dim, " of extent ", extent);
}

// ---- index_select / index_add ----

// Checks every index once (for launches where the main kernel has no element to visit).
__global__ void check_indices_kernel(const int64_t* __restrict__ index, int64_t n, int64_t extent,
                                     unsigned long long* bad) {
  for (int64_t j = global_thread(); j < n; j += grid_threads())
    if (index_out_of_range(index[j], extent)) report_bad_index(bad, j);
}


// out[o, j, i] = x[o, index[j], i], one thread per output element.
template <class T>
__global__ void index_select_kernel(const T* __restrict__ x, const int64_t* __restrict__ index, T* __restrict__ out,
                                    int64_t outer, int64_t extent, int64_t inner, int64_t n,
                                    unsigned long long* bad) {
  const int64_t total = outer * n * inner;
  for (int64_t e = global_thread(); e < total; e += grid_threads()) {
    const int64_t i = e % inner, j = (e / inner) % n, o = e / (inner * n);
    const int64_t k = index[j];
    if (index_out_of_range(k, extent)) {
      report_bad_index(bad, j);
      continue;
    }
    out[e] = x[(o * extent + k) * inner + i];
  }
}

void index_select(const Tensor& x, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
                  const Tensor& out) {
  dispatch_floating_or_i64("index_select", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = index.numel(), total = outer * n * inner;
    if (n == 0) return;
    const IndexCheck check;
    const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
    if (total == 0) {  // nothing to copy (outer or inner is 0), but the indices are still checked
      check_indices_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(ip, n, extent, check.slot());
    } else {
      index_select_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
          static_cast<const T*>(x.raw_data()), ip, static_cast<T*>(out.raw_data()), outer, extent, inner, n,
          check.slot());
    }
    VIREO_CUDA_CHECK_LAUNCH();
    throw_if_bad(check, "index_select", ip, dim, extent);
  });
}

// Thread (o, i) adds src[o, j, i] into out[o, index[j], i] for j = 0, 1, … in order.
template <class T>
__global__ void index_add_kernel(T* __restrict__ out, const T* __restrict__ src, const int64_t* __restrict__ index,
                                 int64_t outer, int64_t extent, int64_t inner, int64_t n, unsigned long long* bad) {
  for (int64_t t = global_thread(); t < outer * inner; t += grid_threads()) {
    const int64_t o = t / inner, i = t % inner;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t k = index[j];
      if (index_out_of_range(k, extent)) {
        report_bad_index(bad, j);
        continue;
      }
      T& dst = out[(o * extent + k) * inner + i];
      dst = store<T>(load(dst) + load(src[(o * n + j) * inner + i]));
    }
  }
}

void index_add(const Tensor& out, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
               const Tensor& src) {
  dispatch_floating_or_i64("index_add", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = index.numel();
    if (n == 0) return;
    const IndexCheck check;
    const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
    if (outer * inner == 0) {
      check_indices_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(ip, n, extent, check.slot());
    } else {
      index_add_kernel<T><<<blocks_for(outer * inner), kThreads, 0, stream()>>>(
          static_cast<T*>(out.raw_data()), static_cast<const T*>(src.raw_data()), ip, outer, extent, inner, n,
          check.slot());
    }
    VIREO_CUDA_CHECK_LAUNCH();
    throw_if_bad(check, "index_add", ip, dim, extent);
  });
}

// ---- gather / scatter_add ----

// out[p] = x[p with coordinate dim replaced by index[p]]: operand 0 of `calc` is x with stride 0 along dim
// (its coordinate comes from the index instead), over index's (= out's) shape.
template <class T>
__global__ void gather_kernel(const T* __restrict__ x, const int64_t* __restrict__ index, T* __restrict__ out,
                              int64_t total, OffsetCalculator<1> calc, int64_t x_dim_stride, int64_t extent,
                              unsigned long long* bad) {
  for (int64_t p = global_thread(); p < total; p += grid_threads()) {
    const int64_t k = index[p];
    if (index_out_of_range(k, extent)) {
      report_bad_index(bad, p);
      continue;
    }
    int64_t offset[1];
    calc.offsets(p, offset);
    out[p] = x[offset[0] + k * x_dim_stride];
  }
}

void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  dispatch_floating_or_i64("gather", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = index.numel();
    if (total == 0) return;
    const int64_t extent = x.dim() == 0 ? 1 : x.shape()[dim];
    const int64_t x_dim_stride = x.dim() == 0 ? 0 : x.strides()[dim];
    Shape strides = x.strides();
    if (!strides.empty()) strides[dim] = 0;
    const auto calc = make_offset_calculator<1>(index.shape(), {&strides});
    const IndexCheck check;
    const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
    gather_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(static_cast<const T*>(x.raw_data()), ip,
                                                                  static_cast<T*>(out.raw_data()), total, calc,
                                                                  x_dim_stride, extent, check.slot());
    VIREO_CUDA_CHECK_LAUNCH();
    throw_if_bad(check, "gather", ip, dim, extent);
  });
}

// One thread per line along dim of index's shape (operands: 0 index, 1 src, 2 out): for j in order,
// out[line, index[line, j]] += src[line, j].
template <class T>
__global__ void scatter_add_kernel(T* __restrict__ out, const T* __restrict__ src, const int64_t* __restrict__ index,
                                   AxisLines<3> axis, int64_t extent, unsigned long long* bad) {
  for (int64_t line = global_thread(); line < axis.count; line += grid_threads()) {
    int64_t base[3];
    axis.line_offsets(line, base);
    for (int64_t j = 0; j < axis.length; ++j) {
      const int64_t at = base[0] + j * axis.dim_strides[0];
      const int64_t k = index[at];
      if (index_out_of_range(k, extent)) {
        report_bad_index(bad, at);  // index is contiguous: `at` is its position
        continue;
      }
      T& dst = out[base[2] + k * axis.dim_strides[2]];
      dst = store<T>(load(dst) + load(src[base[1] + j * axis.dim_strides[1]]));
    }
  }
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  dispatch_floating_or_i64("scatter_add", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (index.numel() == 0) return;
    const int64_t extent = out.dim() == 0 ? 1 : out.shape()[dim];
    const auto axis = make_axis_lines<3>(index.shape(), {&index.strides(), &src.strides(), &out.strides()}, dim);
    const IndexCheck check;
    const int64_t* ip = static_cast<const int64_t*>(index.raw_data());
    scatter_add_kernel<T><<<blocks_for(axis.count), kThreads, 0, stream()>>>(
        static_cast<T*>(out.raw_data()), static_cast<const T*>(src.raw_data()), ip, axis, extent, check.slot());
    VIREO_CUDA_CHECK_LAUNCH();
    throw_if_bad(check, "scatter_add", ip, dim, extent);
  });
}

// ---- one_hot ----

template <class T>
__global__ void one_hot_kernel(const int64_t* __restrict__ labels, T* __restrict__ out, int64_t n, int64_t classes,
                               unsigned long long* bad) {
  for (int64_t e = global_thread(); e < n * classes; e += grid_threads()) {
    const int64_t p = e / classes, c = e % classes, label = labels[p];
    if (c == 0 && index_out_of_range(label, classes)) report_bad_index(bad, p);
    out[e] = store<T>(static_cast<Compute<T>>(label == c ? 1 : 0));
  }
}

void one_hot(const Tensor& labels, const Tensor& out) {
  dispatch_floating_or_i64("one_hot", out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = labels.numel(), classes = out.shape().back();
    if (n == 0) return;
    const IndexCheck check;
    const int64_t* lp = static_cast<const int64_t*>(labels.raw_data());
    if (classes == 0) {
      check_indices_kernel<<<blocks_for(n), kThreads, 0, stream()>>>(lp, n, classes, check.slot());
    } else {
      one_hot_kernel<T><<<blocks_for(n * classes), kThreads, 0, stream()>>>(lp, static_cast<T*>(out.raw_data()), n,
                                                                           classes, check.slot());
    }
    VIREO_CUDA_CHECK_LAUNCH();
    const int64_t bad = check.first_bad_position();
    if (bad >= 0)
      fail("one_hot: class index ", IndexCheck::read_index(lp, bad), " is out of range for ", classes, " classes");
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::index_select, DeviceType::cuda, index_select);
VIREO_REGISTER_KERNEL(kernels::index_add, DeviceType::cuda, index_add);
VIREO_REGISTER_KERNEL(kernels::gather, DeviceType::cuda, gather);
VIREO_REGISTER_KERNEL(kernels::scatter_add, DeviceType::cuda, scatter_add);
VIREO_REGISTER_KERNEL(kernels::one_hot, DeviceType::cuda, one_hot);

}  // namespace vireo::cuda
