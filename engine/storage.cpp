#include "engine/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace vireo {
namespace {

// Blocks are rounded up so that shapes which differ slightly still share cached blocks, and aligned to
// 64 bytes (one cache line, one AVX-512 register) so kernels may use aligned loads on fresh tensors.
size_t round_block(size_t bytes) {
  constexpr size_t kSmall = 64, kPage = 4096;
  if (bytes == 0) return kSmall;
  if (bytes <= kPage) return (bytes + kSmall - 1) / kSmall * kSmall;
  return (bytes + kPage - 1) / kPage * kPage;
}

class CachingCpuAllocator final : public Allocator {
 public:
  ~CachingCpuAllocator() override { empty_cache(); }

  void* allocate(size_t bytes) override {
    const size_t block = round_block(bytes);
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    void* pointer = nullptr;
    if (auto it = cache_.find(block); it != cache_.end() && !it->second.empty()) {
      pointer = it->second.back();
      it->second.pop_back();
      stats_.bytes_cached -= block;
    } else {
      pointer = std::aligned_alloc(64, block);
      if (!pointer) {
        // Free what the cache holds and try once more before giving up.
        release_cache_locked();
        pointer = std::aligned_alloc(64, block);
      }
      if (!pointer) fail("out of memory: could not allocate ", bytes, " bytes on cpu");
      ++stats_.system_allocations;
    }
    stats_.bytes_in_use += block;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return pointer;
  }

  void release(void* pointer, size_t bytes) override {
    const size_t block = round_block(bytes);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= block;
    stats_.bytes_cached += block;
    cache_[block].push_back(pointer);
  }

  MemoryStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }
  void reset_peak() override {
    std::lock_guard lock(mutex_);
    stats_.peak_bytes_in_use = stats_.bytes_in_use;
  }
  void empty_cache() override {
    std::lock_guard lock(mutex_);
    release_cache_locked();
  }

 private:
  void release_cache_locked() {
    for (auto& [block, pointers] : cache_)
      for (void* pointer : pointers) std::free(pointer);
    cache_.clear();
    stats_.bytes_cached = 0;
  }

  mutable std::mutex mutex_;
  std::map<size_t, std::vector<void*>> cache_;
  MemoryStats stats_;
};

Allocator* g_allocators[kDeviceTypeCount] = {};

}  // namespace

Allocator& allocator_for(Device device) {
  if (device.is_cpu()) {
    static CachingCpuAllocator* cpu = new CachingCpuAllocator();  // never destroyed: outlives static tensors
    return *cpu;
  }
  Allocator* allocator = g_allocators[static_cast<int>(device.type)];
  if (!allocator) fail("no allocator for device ", device, ": this build has no backend for it");
  return *allocator;
}

void set_allocator(DeviceType type, Allocator* allocator) { g_allocators[static_cast<int>(type)] = allocator; }

namespace {
// A GPU storage first makes sure its device is the one this process uses (the CUDA allocator serves one
// device and does not see the index), refusing an unusable GPU with the reason.
Allocator& checked_allocator(Device device) {
  if (device.is_cuda()) cuda::require_cuda(device.index);
  return allocator_for(device);
}
}  // namespace

Storage::Storage(size_t bytes, Device device)
    : data_(checked_allocator(device).allocate(bytes)), bytes_(bytes), device_(device) {}

Storage::~Storage() { allocator_for(device_).release(data_, bytes_); }

}  // namespace vireo
