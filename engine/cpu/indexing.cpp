// CPU kernels for index_select / index_add, gather / scatter_add and one_hot.
//
// Index checks ride along inside the parallel loops: an out-of-range index is clamped to 0 (so nothing
// is read or written out of bounds) and raises a flag; after the loop, a serial scan finds the first bad
// index for the message. An exception cannot leave an OpenMP region, hence the flag.
#include <atomic>
#include <cstring>
#include <vector>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/indexing.h"

namespace vireo::cpu {
namespace {

template <class F>
void visit_dtype(const char* op, DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i64: return f(int64_t{});
    default: refuse_dtype(op, dtype);
  }
}

inline bool out_of_range(int64_t k, int64_t extent) { return static_cast<uint64_t>(k) >= static_cast<uint64_t>(extent); }

[[noreturn]] void fail_index(const char* op, const int64_t* index, int64_t n, int64_t dim, int64_t extent) {
  for (int64_t i = 0; i < n; ++i)
    if (out_of_range(index[i], extent))
      fail(op, ": index ", index[i], " is out of range for dimension ", dim, " of extent ", extent);
  fail(op, ": an index is out of range for dimension ", dim, " of extent ", extent);
}

// A view's layout around dimension `dim`: element (o, j, i) of its [outer, extent, inner] reading sits at
// outer_offsets[o] + j·dim_stride + inner_offsets[i]. Tables, because the views the front ends pass (a
// tensor narrowed to the index's extents) generally cannot merge their outer or inner dimensions into one
// stride; their sizes are outer + inner, far below the element count.
struct AxisLayout {
  int64_t outer = 1, extent = 1, inner = 1, dim_stride = 0;
  std::vector<int64_t> outer_offsets{0}, inner_offsets{0};
  bool inner_unit = true;  // inner_offsets[i] == i: the inner loop runs over contiguous memory

  AxisLayout(const Shape& shape, const Shape& strides, int64_t dim) {
    auto expand = [&](std::vector<int64_t>& table, int64_t d) {
      std::vector<int64_t> next;
      next.reserve(table.size() * shape[d]);
      for (int64_t base : table)
        for (int64_t k = 0; k < shape[d]; ++k) next.push_back(base + k * strides[d]);
      table = std::move(next);
    };
    for (int64_t d = 0; d < dim; ++d) expand(outer_offsets, d);
    for (int64_t d = dim + 1; d < static_cast<int64_t>(shape.size()); ++d) expand(inner_offsets, d);
    outer = static_cast<int64_t>(outer_offsets.size());
    inner = static_cast<int64_t>(inner_offsets.size());
    extent = shape.empty() ? 1 : shape[dim];
    dim_stride = shape.empty() ? 0 : strides[dim];
    for (int64_t i = 0; i < inner; ++i) inner_unit = inner_unit && inner_offsets[i] == i;
  }
};

// ---- index_select / index_add ----

template <class T>
void index_select_typed(const Tensor& x, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
                        const Tensor& out) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  const int64_t* ip = index.data<int64_t>();
  const int64_t n = index.numel();
  // The index list is short next to the data: check it up front.
  for (int64_t j = 0; j < n; ++j)
    if (out_of_range(ip[j], extent)) fail_index("index_select", ip, n, dim, extent);
  if (inner == 1) {
    parallel_for(0, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
      for (int64_t o = lo; o < hi; ++o) {
        const T* row = xp + o * extent;
        T* dst = op + o * n;
        for (int64_t j = 0; j < n; ++j) dst[j] = row[ip[j]];
      }
    });
    return;
  }
  // Whole rows of `inner` elements move at once.
  parallel_for(0, outer * n, std::max<int64_t>(1, 16384 / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t o = r / n, j = r % n;
      std::memcpy(op + r * inner, xp + (o * extent + ip[j]) * inner, inner * sizeof(T));
    }
  });
}

void index_select(const Tensor& x, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
                  const Tensor& out) {
  visit_dtype(__func__, x.dtype(),
              [&](auto tag) { index_select_typed<decltype(tag)>(x, dim, outer, extent, inner, index, out); });
}

// Work split for accumulating kernels: tasks are (outer position, block of inner positions); each task owns
// its output positions and adds its sources in increasing j, so the sums do not depend on the thread count.
constexpr int64_t kInnerBlock = 512;

template <class T>
void index_add_typed(const Tensor& out, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
                     const Tensor& src) {
  T* op = static_cast<T*>(out.raw_data());
  const T* sp = static_cast<const T*>(src.raw_data());
  const int64_t* ip = index.data<int64_t>();
  const int64_t n = index.numel();
  for (int64_t j = 0; j < n; ++j)
    if (out_of_range(ip[j], extent)) fail_index("index_add", ip, n, dim, extent);
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
  parallel_for(0, outer * blocks, std::max<int64_t>(1, 16384 / std::max<int64_t>(n * std::min(inner, kInnerBlock), 1)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t task = lo; task < hi; ++task) {
                   const int64_t o = task / blocks, i0 = (task % blocks) * kInnerBlock;
                   const int64_t i1 = std::min(inner, i0 + kInnerBlock);
                   for (int64_t j = 0; j < n; ++j) {
                     T* dst = op + (o * extent + ip[j]) * inner;
                     const T* s = sp + (o * n + j) * inner;
#pragma omp simd
                     for (int64_t i = i0; i < i1; ++i) dst[i] += s[i];
                   }
                 }
               });
}

void index_add(const Tensor& out, int64_t dim, int64_t outer, int64_t extent, int64_t inner, const Tensor& index,
               const Tensor& src) {
  visit_dtype(__func__, out.dtype(),
              [&](auto tag) { index_add_typed<decltype(tag)>(out, dim, outer, extent, inner, index, src); });
}

// ---- gather / scatter_add ----

template <class T>
void gather_typed(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const AxisLayout xl(x.shape(), x.strides(), dim);
  const T* xp = static_cast<const T*>(x.raw_data());
  T* op = static_cast<T*>(out.raw_data());
  const int64_t* ip = index.data<int64_t>();
  const int64_t n = index.shape()[dim], inner = xl.inner, extent = xl.extent, ds = xl.dim_stride;
  std::atomic<bool> bad{false};
  if (inner == 1) {
    // Gathering along the last dimension: the loop runs along j (vector gathers).
    parallel_for(0, xl.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
      bool any_bad = false;
      for (int64_t o = lo; o < hi; ++o) {
        const T* base = xp + xl.outer_offsets[o];
        const int64_t* k = ip + o * n;
        T* dst = op + o * n;
        for (int64_t j = 0; j < n; ++j) {
          const bool b = out_of_range(k[j], extent);
          any_bad |= b;
          dst[j] = base[(b ? 0 : k[j]) * ds];
        }
      }
      if (any_bad) bad.store(true, std::memory_order_relaxed);
    });
    if (bad.load()) fail_index("gather", ip, index.numel(), dim, extent);
    return;
  }
  parallel_for(0, xl.outer * n, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
    bool row_bad = false;
    for (int64_t r = lo; r < hi; ++r) {
      const T* base = xp + xl.outer_offsets[r / n];
      const int64_t* k = ip + r * inner;
      T* dst = op + r * inner;
      if (xl.inner_unit) {
        for (int64_t i = 0; i < inner; ++i) {
          const bool b = out_of_range(k[i], extent);
          row_bad |= b;
          dst[i] = base[(b ? 0 : k[i]) * ds + i];
        }
      } else {
        for (int64_t i = 0; i < inner; ++i) {
          const bool b = out_of_range(k[i], extent);
          row_bad |= b;
          dst[i] = base[(b ? 0 : k[i]) * ds + xl.inner_offsets[i]];
        }
      }
    }
    if (row_bad) bad.store(true, std::memory_order_relaxed);
  });
  if (bad.load()) fail_index("gather", ip, index.numel(), dim, extent);
}

void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  visit_dtype(__func__, x.dtype(), [&](auto tag) { gather_typed<decltype(tag)>(x, dim, index, out); });
}

template <class T>
void scatter_add_typed(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  const AxisLayout ol(out.shape(), out.strides(), dim);
  const AxisLayout sl(src.shape(), src.strides(), dim);
  T* op = static_cast<T*>(out.raw_data());
  const T* sp = static_cast<const T*>(src.raw_data());
  const int64_t* ip = index.data<int64_t>();
  const int64_t n = index.shape()[dim], inner = ol.inner, extent = ol.extent;
  const int64_t ods = ol.dim_stride, sds = sl.dim_stride;
  const bool unit = ol.inner_unit && sl.inner_unit;
  const int64_t blocks = (inner + kInnerBlock - 1) / kInnerBlock;
  std::atomic<bool> bad{false};
  parallel_for(0, ol.outer * blocks, std::max<int64_t>(1, 16384 / std::max<int64_t>(n * std::min(inner, kInnerBlock), 1)),
               [&](int64_t lo, int64_t hi) {
                 bool task_bad = false;
                 for (int64_t task = lo; task < hi; ++task) {
                   const int64_t o = task / blocks, i0 = (task % blocks) * kInnerBlock;
                   const int64_t i1 = std::min(inner, i0 + kInnerBlock);
                   T* obase = op + ol.outer_offsets[o];
                   const T* sbase = sp + sl.outer_offsets[o];
                   for (int64_t j = 0; j < n; ++j) {
                     const int64_t* k = ip + (o * n + j) * inner;
                     const T* s = sbase + j * sds;
                     for (int64_t i = i0; i < i1; ++i) {
                       if (out_of_range(k[i], extent)) {
                         task_bad = true;
                         continue;
                       }
                       if (unit) obase[k[i] * ods + i] += s[i];
                       else obase[k[i] * ods + ol.inner_offsets[i]] += s[sl.inner_offsets[i]];
                     }
                   }
                 }
                 if (task_bad) bad.store(true, std::memory_order_relaxed);
               });
  if (bad.load()) fail_index("scatter_add", ip, index.numel(), dim, extent);
}

void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  visit_dtype(__func__, out.dtype(), [&](auto tag) { scatter_add_typed<decltype(tag)>(out, dim, index, src); });
}

// ---- one_hot ----

template <class T>
void one_hot_typed(const Tensor& labels, const Tensor& out) {
  const int64_t* lp = labels.data<int64_t>();
  T* op = static_cast<T*>(out.raw_data());
  const int64_t n = labels.numel(), classes = out.shape().back();
  for (int64_t j = 0; j < n; ++j)
    if (out_of_range(lp[j], classes))
      fail("one_hot: class index ", lp[j], " is out of range for ", classes, " classes");
  parallel_for(0, n, std::max<int64_t>(1, 16384 / std::max<int64_t>(classes, 1)), [&](int64_t lo, int64_t hi) {
    std::fill(op + lo * classes, op + hi * classes, T(0));
    for (int64_t j = lo; j < hi; ++j) op[j * classes + lp[j]] = T(1);
  });
}

void one_hot(const Tensor& labels, const Tensor& out) {
  visit_dtype(__func__, out.dtype(), [&](auto tag) { one_hot_typed<decltype(tag)>(labels, out); });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::index_select, DeviceType::cpu, index_select);
VIREO_REGISTER_KERNEL(kernels::index_add, DeviceType::cpu, index_add);
VIREO_REGISTER_KERNEL(kernels::gather, DeviceType::cpu, gather);
VIREO_REGISTER_KERNEL(kernels::scatter_add, DeviceType::cpu, scatter_add);
VIREO_REGISTER_KERNEL(kernels::one_hot, DeviceType::cpu, one_hot);

}  // namespace vireo::cpu
