// CPU sort and topk. Each row is copied into a buffer of (value, index) pairs, ordered, and written back.
//
// NaNs are first moved, in index order, to the end of the buffer where they belong (the back when
// ascending or taking the smallest, the front otherwise), so the comparisons on the rest are plain `<`.
// Equal values are ordered by index: with that tie-break the order is total, so std::sort gives exactly
// the stable order (and partial_sort / nth_element a deterministic selection). f32 sorts, the common case,
// use packed keys and a radix sort instead (below).
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "engine/cpu/dtype_support.h"
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

// f32 rows take a faster road: each element becomes one 64-bit word, (order key << 32) | index, where the
// order key is the float's bits mapped so that unsigned comparison follows the float order (flip all bits
// of negatives, set the sign bit of positives), NaN made the largest and −0 equal to +0 (torch treats
// them as equal). Descending order complements the key, not the index. Sorting the words by their key
// half with a stable LSD radix sort (8 bits per pass, passes where every key shares the byte skipped)
// yields the stable order; the values are then read back from the input through the indices.
inline uint32_t order_key(float v, bool descending) {
  v = v != v ? std::numeric_limits<float>::quiet_NaN() : (v == 0.0f ? 0.0f : v);
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const uint32_t key = bits & 0x80000000u ? ~bits : bits | 0x80000000u;
  return descending ? ~key : key;
}

void radix_sort_by_key(std::vector<uint64_t>& words, std::vector<uint64_t>& scratch) {
  const size_t n = words.size();
  scratch.resize(n);
  uint32_t counts[4][256] = {};
  for (uint64_t w : words)
    for (int pass = 0; pass < 4; ++pass) ++counts[pass][(w >> (32 + 8 * pass)) & 0xff];
  for (int pass = 0; pass < 4; ++pass) {
    uint32_t* count = counts[pass];
    if (count[(words[0] >> (32 + 8 * pass)) & 0xff] == n) continue;  // every key has this byte
    uint32_t offset = 0;
    for (int digit = 0; digit < 256; ++digit) {
      const uint32_t c = count[digit];
      count[digit] = offset;
      offset += c;
    }
    for (uint64_t w : words) scratch[count[(w >> (32 + 8 * pass)) & 0xff]++] = w;
    words.swap(scratch);
  }
}

void sort_rows_f32(const float* xp, int64_t outer, int64_t extent, int64_t inner, bool descending_order, float* vp,
                   int64_t* ip) {
  for_each_row(outer, extent, inner, [=](int64_t lo, int64_t hi) {
    // Sizes as locals: read through the closure, every i64 index store could alias them and the loops
    // would reload them on each iteration (a 2x slowdown).
    const int64_t n = extent, stride = inner;
    const bool descending = descending_order;
    std::vector<uint64_t> words(n), scratch;
    for (int64_t k = lo; k < hi; ++k) {
      const int64_t base = (k / stride) * n * stride + k % stride;
      const float* x = xp + base;
      uint64_t* w = words.data();
      for (int64_t r = 0; r < n; ++r)
        w[r] = static_cast<uint64_t>(order_key(x[r * stride], descending)) << 32 | static_cast<uint64_t>(r);
      // Below a few hundred elements the radix passes' fixed cost (histograms of 256) outweighs a sort.
      if (n >= 256) radix_sort_by_key(words, scratch);
      else std::sort(words.begin(), words.end());
      w = words.data();
      float* v = vp + base;
      int64_t* idx = ip + base;
      for (int64_t r = 0; r < n; ++r) {
        const int64_t source = static_cast<int64_t>(w[r] & 0xffffffffu);
        v[r * stride] = x[source * stride];
        idx[r * stride] = source;
      }
    }
  });
}

template <class T>
void sort_typed(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool descending_order,
                const Tensor& values, const Tensor& indices) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* vp = static_cast<T*>(values.raw_data());
  int64_t* ip = indices.data<int64_t>();
  if constexpr (std::is_same_v<T, float>) {
    if (extent > 0 && extent <= (int64_t{1} << 32)) return sort_rows_f32(xp, outer, extent, inner, descending_order, vp, ip);
  }
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
    default: refuse_dtype("sort", x.dtype());
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
    default: refuse_dtype("topk", x.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::sort, DeviceType::cpu, sort);
VIREO_REGISTER_KERNEL(kernels::topk, DeviceType::cpu, topk);

}  // namespace vireo::cpu
