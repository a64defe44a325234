// CPU sort and topk. Each row is copied into a buffer of (value, index) pairs, ordered, and written back.
//
// NaNs are first moved, in index order, to the end of the buffer where they belong (the back when
// ascending or taking the smallest, the front otherwise), so the comparisons on the rest are plain `<`.
// Equal values are ordered by index: with that tie-break the order is total, so std::sort gives exactly
// the stable order (and partial_sort / nth_element a deterministic selection).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "engine/cpu/parallel.h"
#include "engine/kernels/sort.h"

namespace vireo::cpu {
namespace {

template <class T>
struct Entry {
  T value;
  int64_t index;
};

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

template <class T>
bool ascending(const Entry<T>& a, const Entry<T>& b) {
  return a.value < b.value || (a.value == b.value && a.index < b.index);
}
template <class T>
bool descending(const Entry<T>& a, const Entry<T>& b) {
  return a.value > b.value || (a.value == b.value && a.index < b.index);
}
template <class T>
bool by_index(const Entry<T>& a, const Entry<T>& b) {
  return a.index < b.index;
}

// Fills `row` with row (o, i) of x and moves its NaNs to the front (nan_first) or back, keeping index
// order. Returns the range of non-NaN entries.
template <class T>
std::pair<Entry<T>*, Entry<T>*> load_row(std::vector<Entry<T>>& row, const T* x, int64_t extent, int64_t inner,
                                         bool nan_first) {
  row.resize(extent);
  bool any_nan = false;
  for (int64_t r = 0; r < extent; ++r) {
    row[r] = {x[r * inner], r};
    any_nan = any_nan || is_nan(row[r].value);
  }
  Entry<T>* begin = row.data();
  Entry<T>* end = row.data() + extent;
  if (!any_nan) return {begin, end};
  if (nan_first) {
    Entry<T>* split = std::stable_partition(begin, end, [](const Entry<T>& e) { return is_nan(e.value); });
    return {split, end};
  }
  Entry<T>* split = std::stable_partition(begin, end, [](const Entry<T>& e) { return !is_nan(e.value); });
  return {begin, split};
}

template <class T>
void store_row(const Entry<T>* row, int64_t count, int64_t inner, T* values, int64_t* indices) {
  for (int64_t r = 0; r < count; ++r) {
    values[r * inner] = row[r].value;
    indices[r * inner] = row[r].index;
  }
}

// Rows are (o, i) pairs; each thread keeps one buffer for all of its rows.
template <class Body>
void for_each_row(int64_t outer, int64_t extent, int64_t inner, Body&& body) {
  const int64_t work = std::max<int64_t>(extent, 1) * 8;  // a rough cost of one row, n·log n-ish
  parallel_for(0, outer * inner, std::max<int64_t>(1, 65536 / work), [&](int64_t lo, int64_t hi) { body(lo, hi); });
}

template <class T>
void sort_typed(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool descending_order,
                const Tensor& values, const Tensor& indices) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* vp = static_cast<T*>(values.raw_data());
  int64_t* ip = indices.data<int64_t>();
  for_each_row(outer, extent, inner, [&](int64_t lo, int64_t hi) {
    std::vector<Entry<T>> row;
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t o = k / inner, i = k % inner, base = o * extent * inner + i;
      auto [begin, end] = load_row(row, xp + base, extent, inner, descending_order);
      if (descending_order) std::sort(begin, end, descending<T>);
      else std::sort(begin, end, ascending<T>);
      store_row(row.data(), extent, inner, vp + base, ip + base);
    }
  });
}

void sort(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool descending_order, const Tensor& values,
          const Tensor& indices) {
  switch (x.dtype()) {
    case DType::f32: return sort_typed<float>(x, outer, extent, inner, descending_order, values, indices);
    case DType::f64: return sort_typed<double>(x, outer, extent, inner, descending_order, values, indices);
    case DType::i64: return sort_typed<int64_t>(x, outer, extent, inner, descending_order, values, indices);
  }
}

// The k best of a row: the NaN stretch (when NaNs rank first) is taken in index order, and the rest of
// the k come from the non-NaN range by partial_sort (sorted) or nth_element (unsorted, then put in index
// order). When NaNs rank last they only fill what the non-NaN entries cannot.
template <class T>
void topk_typed(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, int64_t k, bool largest, bool sorted,
                const Tensor& values, const Tensor& indices) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* vp = static_cast<T*>(values.raw_data());
  int64_t* ip = indices.data<int64_t>();
  if (k == 0) return;
  const auto better = largest ? descending<T> : ascending<T>;
  for_each_row(outer, extent, inner, [&](int64_t lo, int64_t hi) {
    std::vector<Entry<T>> row;
    for (int64_t q = lo; q < hi; ++q) {
      const int64_t o = q / inner, i = q % inner;
      auto [begin, end] = load_row(row, xp + o * extent * inner + i, extent, inner, largest);
      Entry<T>* first = row.data();
      Entry<T>* chosen_end = first + k;  // the k best are [first, chosen_end) once ordered
      if (chosen_end > begin) {  // some come from the non-NaN range [begin, end)
        Entry<T>* middle = std::min(chosen_end, end);
        if (sorted) std::partial_sort(begin, middle, end, better);
        else if (middle < end) std::nth_element(begin, middle - 1, end, better);
      }
      if (!sorted) std::sort(first, chosen_end, by_index<T>);
      store_row(first, k, inner, vp + o * k * inner + i, ip + o * k * inner + i);
    }
  });
}

void topk(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, int64_t k, bool largest, bool sorted,
          const Tensor& values, const Tensor& indices) {
  switch (x.dtype()) {
    case DType::f32: return topk_typed<float>(x, outer, extent, inner, k, largest, sorted, values, indices);
    case DType::f64: return topk_typed<double>(x, outer, extent, inner, k, largest, sorted, values, indices);
    case DType::i64: return topk_typed<int64_t>(x, outer, extent, inner, k, largest, sorted, values, indices);
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::sort, DeviceType::cpu, sort);
VIREO_REGISTER_KERNEL(kernels::topk, DeviceType::cpu, topk);

}  // namespace vireo::cpu
