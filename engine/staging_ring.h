// Pinned staging for host → device copies, apart from any device (as engine/block_pool.h is for the caching
// allocator): the bookkeeping of a few page-locked host buffers through which a GPU backend sends batches,
// written against a `StagingBackend` so it runs — and is tested — on any machine. engine/cuda/copy.cu gives
// it cudaHostAlloc and CUDA events.
//
// Why: a copy from ordinary (pageable) host memory cannot be handed to the GPU's copy engine as it is; the
// driver stages it through pinned memory of its own and may wait for the stream's queued work before it
// does. A copy from pinned memory is queued and returns at once. So each host → device transfer is copied
// (by the host, at memcpy speed) into a pinned buffer of this ring, queued from there, and a fence is
// recorded behind it; the caller's source is free to change as soon as transfer() returns, and the batch
// travels while the GPU still works on the previous step.
//
// The rules:
// - acquire(bytes) returns a buffer of at least `bytes` whose last copy has passed its fence: the smallest
//   such buffer that fits. Without one, a new buffer is taken — its capacity `bytes` rounded up to a power
//   of two, at least kMinBuffer — while all buffers together stay within `capacity_limit`. Past that, it
//   waits for the fence of the buffer that fits and was queued longest ago, freeing smaller idle buffers
//   first if none fits.
// - A request larger than the whole limit gets no buffer (null): the caller copies from pageable memory.
// - release(buffer) records the fence behind the copy just queued from it.
// - The destructor waits for every fence and frees every buffer.
// One ring per device and stream; not thread-safe (the backend holds a lock around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vireo {

class StagingBackend {
 public:
  virtual ~StagingBackend() = default;
  virtual void* allocate_pinned(size_t bytes) = 0;  // null when pinned memory is not to be had
  virtual void free_pinned(void* pointer) = 0;
  virtual void* create_fence() = 0;
  virtual void destroy_fence(void* fence) = 0;
  virtual void record(void* fence) = 0;      // behind the work queued so far on the stream
  virtual bool has_passed(void* fence) = 0;  // true also for a fence never recorded
  virtual void wait(void* fence) = 0;
};

class StagingRing {
 public:
  static constexpr size_t kMinBuffer = size_t{1} << 20;           // 1 MiB
  static constexpr size_t kDefaultLimit = size_t{256} << 20;      // 256 MiB of pinned memory at most

  explicit StagingRing(StagingBackend& backend, size_t capacity_limit = kDefaultLimit)
      : backend_(backend), limit_(capacity_limit) {}
  ~StagingRing();
  StagingRing(const StagingRing&) = delete;
  StagingRing& operator=(const StagingRing&) = delete;

  // A pinned buffer of at least `bytes` that no queued copy reads any more, or null (see above).
  void* acquire(size_t bytes);
  // After the copy out of `buffer` (from acquire) was queued: records its fence.
  void release(void* buffer);

  size_t buffer_count() const { return buffers_.size(); }
  size_t pinned_bytes() const;
  int64_t waits() const { return waits_; }  // how often acquire had to wait for a fence

 private:
  struct Buffer {
    void* data = nullptr;
    size_t capacity = 0;
    void* fence = nullptr;
    uint64_t queued = 0;  // when its last copy was queued (release order); 0: never
    bool held = false;    // between acquire and release
  };
  void free_buffer(size_t index);

  StagingBackend& backend_;
  size_t limit_;
  std::vector<Buffer> buffers_;
  uint64_t releases_ = 0;
  int64_t waits_ = 0;
};

}  // namespace vireo
