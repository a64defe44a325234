// Storage: one allocation shared by every view of it, plus the version counter that autograd uses to
// notice a saved tensor being modified in place. Memory comes from a per-device caching pool so a training
// loop whose shapes repeat allocates nothing new after its first step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/device.h"

namespace vireo {

struct MemoryStats {
  size_t bytes_in_use = 0;       // held by live storages
  size_t peak_bytes_in_use = 0;  // high-water mark of bytes_in_use since the last reset
  size_t bytes_cached = 0;       // freed blocks kept for reuse
  size_t allocations = 0;        // requests served (from the cache or the system)
  size_t system_allocations = 0; // requests that had to go to the system allocator
};

// A device allocator. The CPU one is a caching pool keyed by rounded block size.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* pointer, size_t bytes) = 0;
  virtual MemoryStats stats() const = 0;
  virtual void reset_peak() = 0;
  virtual void empty_cache() = 0;  // returns cached blocks to the system
};

Allocator& allocator_for(Device device);
// Lets a backend (CUDA) install its allocator; the CPU one is built in.
void set_allocator(DeviceType type, Allocator* allocator);

class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  uint64_t version_ = 0;
};

}  // namespace vireo
