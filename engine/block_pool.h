// The caching allocator's bookkeeping, apart from any device: a GPU allocator must not call cudaMalloc in a
// training loop's steady state (cudaMalloc and cudaFree synchronize the device), so it takes memory in large
// segments once and carves blocks out of them. This file is that carving, written against a `SegmentSource`
// so it runs — and is tested — on any machine; engine/cuda/runtime.cpp gives it cudaMalloc and cudaFree.
//
// The rules (the ones PyTorch's CUDA allocator settled on, restated):
// - Requests are rounded up to 512 bytes, so every block is aligned for any vector load.
// - Small requests (≤ 1 MiB) come from 2 MiB segments; large ones from segments of 20 MiB (requests under
//   10 MiB) or of the request rounded up to 2 MiB. Small and large blocks live in separate pools so that
//   many small tensors do not fragment the big segments.
// - A request takes the smallest free block that fits (best fit). When the rest is worth keeping (more than
//   512 bytes in the small pool, more than 1 MiB in the large one) the block is split and the rest stays free.
// - A released block merges with free neighbours of its segment, so a segment whose blocks are all released
//   is one free block again; empty_cache() returns exactly those whole segments to the source.
// - When the source is out of memory, the pool returns its free segments and asks once more before failing.
// Blocks are reused in the order the host releases them: right for one stream per device, where the GPU
// runs kernels in launch order (a block released after a kernel was launched on it is only touched again by
// kernels launched later).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <unordered_map>

#include "engine/storage.h"

namespace vireo {

// Where segments come from: returns null when out of memory (never throws for that).
class SegmentSource {
 public:
  virtual ~SegmentSource() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* pointer) = 0;
  virtual std::string name() const = 0;  // "cuda:0": for error messages
};

class BlockPool {
 public:
  static constexpr size_t kRound = 512;
  static constexpr size_t kSmallRequest = size_t{1} << 20;    // ≤ 1 MiB: the small pool
  static constexpr size_t kSmallSegment = size_t{2} << 20;    // 2 MiB
  static constexpr size_t kLargeSegment = size_t{20} << 20;   // for requests under kMediumRequest
  static constexpr size_t kMediumRequest = size_t{10} << 20;  // 10 MiB
  static constexpr size_t kLargeRound = size_t{2} << 20;      // larger requests: rounded to 2 MiB

  explicit BlockPool(SegmentSource& source) : source_(source) {}
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Throws vireo::Error naming the device and the sizes when the source has no memory left even after the
  // cache is emptied.
  void* allocate(size_t bytes);
  // `pointer` must come from allocate() and not be released yet (anything else is refused with an Error).
  void release(void* pointer);

  MemoryStats stats() const { return stats_; }
  void reset_peak() { stats_.peak_bytes_in_use = stats_.bytes_in_use; }
  void empty_cache();
  size_t segment_count() const { return segments_; }
  size_t rounded_size(size_t bytes) const;  // what a request of `bytes` occupies

 private:
  struct Block {
    char* address = nullptr;
    size_t size = 0;
    bool small = false;
    bool free = true;
    Block* previous = nullptr;  // neighbours inside the same segment
    Block* next = nullptr;
  };
  struct BySizeThenAddress {
    bool operator()(const Block* a, const Block* b) const {
      return a->size != b->size ? a->size < b->size : a->address < b->address;
    }
  };
  using FreeSet = std::set<Block*, BySizeThenAddress>;

  FreeSet& pool_for(bool small) { return small ? free_small_ : free_large_; }
  Block* find_free(size_t size, bool small);
  Block* new_segment(size_t size, bool small);
  void release_free_segments();

  SegmentSource& source_;
  FreeSet free_small_, free_large_;
  std::unordered_map<void*, Block*> in_use_;
  MemoryStats stats_;
  size_t segments_ = 0;
  size_t reserved_ = 0;  // bytes held from the source
};

}  // namespace vireo
