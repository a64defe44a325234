// CUDA sort and topk along the middle axis of a contiguous [outer, extent, inner] block
// (engine/kernels/sort.h). Each row (o, i) becomes one segment of (order key, index) pairs
// (engine/cuda/sort_keys.h: unsigned keys whose order is the promised order, NaN largest, ties equal), CUB's
// segmented stable sort orders every segment at once, and the values are read back from the input through
// the sorted indices (so a NaN keeps its bits). A stable sort of keys that start in index order is exactly
// the contract's stable sort, descending included (the key is complemented, not the index).
//
// topk sorts the whole row the same way (largest: descending) and keeps the first k: best first, equal
// values in index order, as the CPU's partial_sort with its index tie-break. Unsorted topk returns the same
// k elements in increasing index order: the k chosen indices are sorted once more, per row. A full sort
// costs O(n log n) where a selection would do, and is simple and exact; the rows here are short.
#include <cub/device/device_segmented_sort.cuh>

#include <type_traits>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/reduce.cuh"
#include "engine/cuda/sort_keys.h"
#include "engine/kernels/sort.h"

namespace vireo::cuda {
namespace {

// The key type of each value type: u32 for f32 and the 16-bit floats, u64 for f64 and i64.
template <class T> struct SortKey { using type = uint32_t; };
template <> struct SortKey<double> { using type = uint64_t; };
template <> struct SortKey<int64_t> { using type = uint64_t; };
template <class T>
using KeyOf = typename SortKey<T>::type;

// The key of one stored value: f16/bf16 through f32.
template <class T>
__device__ __forceinline__ KeyOf<T> key_of(T value, bool descending) {
  if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>) return order_key(load(value), descending);
  else return order_key(value, descending);
}

// Row (o, i) is segment o·inner + i; its element r goes to position segment·extent + r.
template <class T, class Key>
__global__ void pack_rows(const T* __restrict__ x, Key* __restrict__ keys, int64_t* __restrict__ positions,
                          int64_t outer, int64_t extent, int64_t inner, bool descending) {
  const int64_t total = outer * extent * inner;
  for (int64_t e = global_thread(); e < total; e += grid_threads()) {
    const int64_t i = e % inner, r = (e / inner) % extent, o = e / (inner * extent);
    const int64_t at = (o * inner + i) * extent + r;
    keys[at] = key_of(x[e], descending);
    positions[at] = r;
  }
}

// offsets[s] = s·length for s = 0 … segments (segment s is [offsets[s], offsets[s + 1])).
__global__ void segment_offsets(int64_t* __restrict__ offsets, int64_t segments, int64_t length) {
  for (int64_t s = global_thread(); s <= segments; s += grid_threads()) offsets[s] = s * length;
}

// values[o, r, i] = x[o, source, i] and indices[o, r, i] = source for r < count, with source the r-th
// position of segment o·inner + i (segments `stride` apart).
template <class T>
__global__ void unpack_rows(const T* __restrict__ x, const int64_t* __restrict__ positions, int64_t stride,
                            T* __restrict__ values, int64_t* __restrict__ indices, int64_t outer, int64_t extent,
                            int64_t inner, int64_t count) {
  const int64_t total = outer * count * inner;
  for (int64_t e = global_thread(); e < total; e += grid_threads()) {
    const int64_t i = e % inner, r = (e / inner) % count, o = e / (inner * count);
    const int64_t source = positions[(o * inner + i) * stride + r];
    values[e] = x[(o * extent + source) * inner + i];
    indices[e] = source;
  }
}

// The first `count` positions of each segment (segments `stride` apart) as u64 keys, for sorting by index.
__global__ void take_leading(const int64_t* __restrict__ positions, int64_t stride, uint64_t* __restrict__ out,
                             int64_t segments, int64_t count) {
  for (int64_t e = global_thread(); e < segments * count; e += grid_threads())
    out[e] = static_cast<uint64_t>(positions[(e / count) * stride + e % count]);
}

// Sorts each segment of (key, position) pairs stably by key; returns the sorted positions' buffer.
template <class Key>
void segmented_stable_sort(const Key* keys_in, Key* keys_out, const int64_t* positions_in, int64_t* positions_out,
                           int64_t items, int64_t segments, const int64_t* offsets) {
  size_t temp_bytes = 0;
  VIREO_CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairs(nullptr, temp_bytes, keys_in, keys_out, positions_in,
                                                             positions_out, items, segments, offsets, offsets + 1,
                                                             stream()));
  DeviceBuffer temp(std::max<size_t>(temp_bytes, 1));
  VIREO_CUDA_CHECK(cub::DeviceSegmentedSort::StableSortPairs(temp.data(), temp_bytes, keys_in, keys_out, positions_in,
                                                             positions_out, items, segments, offsets, offsets + 1,
                                                             stream()));
}

// Sorts every row of x by key (descending or not) and returns the device buffer of sorted positions
// (segment s at s·extent), with the pieces it needs kept alive in `storage`.
template <class T>
const int64_t* sorted_positions(const T* x, int64_t outer, int64_t extent, int64_t inner, bool descending,
                                DeviceBuffer& storage) {
  using Key = KeyOf<T>;
  const int64_t segments = outer * inner, items = segments * extent;
  const size_t key_bytes = sizeof(Key) * items, position_bytes = sizeof(int64_t) * items;
  storage = DeviceBuffer(2 * key_bytes + 2 * position_bytes + sizeof(int64_t) * (segments + 1));
  char* base = storage.as<char>();
  int64_t* positions_in = reinterpret_cast<int64_t*>(base);
  int64_t* positions_out = reinterpret_cast<int64_t*>(base + position_bytes);
  int64_t* offsets = reinterpret_cast<int64_t*>(base + 2 * position_bytes);
  Key* keys_in = reinterpret_cast<Key*>(base + 2 * position_bytes + sizeof(int64_t) * (segments + 1));
  Key* keys_out = keys_in + items;
  pack_rows<T, Key><<<blocks_for(items), kThreads, 0, stream()>>>(x, keys_in, positions_in, outer, extent, inner,
                                                                  descending);
  VIREO_CUDA_CHECK_LAUNCH();
  segment_offsets<<<blocks_for(segments + 1), kThreads, 0, stream()>>>(offsets, segments, extent);
  VIREO_CUDA_CHECK_LAUNCH();
  segmented_stable_sort(keys_in, keys_out, positions_in, positions_out, items, segments, offsets);
  return positions_out;
}

void sort(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool descending, const Tensor& values,
          const Tensor& indices) {
  dispatch_floating_or_i64("sort", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = outer * extent * inner;
    if (total == 0) return;
    const T* xp = static_cast<const T*>(x.raw_data());
    DeviceBuffer storage;
    const int64_t* positions = sorted_positions(xp, outer, extent, inner, descending, storage);
    unpack_rows<T><<<blocks_for(total), kThreads, 0, stream()>>>(xp, positions, extent, static_cast<T*>(values.raw_data()),
                                                                static_cast<int64_t*>(indices.raw_data()), outer,
                                                                extent, inner, extent);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void topk(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, int64_t k, bool largest, bool sorted,
          const Tensor& values, const Tensor& indices) {
  dispatch_floating_or_i64("topk", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t segments = outer * inner, total = segments * k;
    if (total == 0) return;
    const T* xp = static_cast<const T*>(x.raw_data());
    T* vp = static_cast<T*>(values.raw_data());
    int64_t* ip = static_cast<int64_t*>(indices.raw_data());
    DeviceBuffer storage;
    const int64_t* positions = sorted_positions(xp, outer, extent, inner, largest, storage);
    if (sorted) {
      unpack_rows<T><<<blocks_for(total), kThreads, 0, stream()>>>(xp, positions, extent, vp, ip, outer, extent, inner, k);
      VIREO_CUDA_CHECK_LAUNCH();
      return;
    }
    // The k chosen positions of each row, sorted by position.
    DeviceBuffer chosen(2 * sizeof(uint64_t) * total + 2 * sizeof(int64_t) * total + sizeof(int64_t) * (segments + 1));
    uint64_t* chosen_in = chosen.as<uint64_t>();
    uint64_t* chosen_out = chosen_in + total;
    int64_t* dummy_in = reinterpret_cast<int64_t*>(chosen_out + total);
    int64_t* dummy_out = dummy_in + total;
    int64_t* offsets = dummy_out + total;
    take_leading<<<blocks_for(total), kThreads, 0, stream()>>>(positions, extent, chosen_in, segments, k);
    VIREO_CUDA_CHECK_LAUNCH();
    segment_offsets<<<blocks_for(segments + 1), kThreads, 0, stream()>>>(offsets, segments, k);
    VIREO_CUDA_CHECK_LAUNCH();
    VIREO_CUDA_CHECK(cudaMemsetAsync(dummy_in, 0, sizeof(int64_t) * total, stream()));
    segmented_stable_sort(chosen_in, chosen_out, dummy_in, dummy_out, total, segments, offsets);
    // Positions are non-negative, so their u64 keys read back as the same i64 values.
    unpack_rows<T><<<blocks_for(total), kThreads, 0, stream()>>>(xp, reinterpret_cast<const int64_t*>(chosen_out), k, vp,
                                                                ip, outer, extent, inner, k);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::sort, DeviceType::cuda, sort);
VIREO_REGISTER_KERNEL(kernels::topk, DeviceType::cuda, topk);

}  // namespace vireo::cuda
