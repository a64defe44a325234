// The pinned staging ring's bookkeeping (engine/staging_ring.h).
#include "engine/staging_ring.h"

#include <algorithm>

#include "engine/error.h"

namespace vireo {
namespace {

size_t round_up_to_power_of_two(size_t bytes) {
  size_t capacity = 1;
  while (capacity < bytes) capacity <<= 1;
  return capacity;
}

}  // namespace

StagingRing::~StagingRing() {
  while (!buffers_.empty()) free_buffer(buffers_.size() - 1);
}

size_t StagingRing::pinned_bytes() const {
  size_t total = 0;
  for (const Buffer& buffer : buffers_) total += buffer.capacity;
  return total;
}

void StagingRing::free_buffer(size_t index) {
  Buffer& buffer = buffers_[index];
  backend_.wait(buffer.fence);
  backend_.destroy_fence(buffer.fence);
  backend_.free_pinned(buffer.data);
  buffers_.erase(buffers_.begin() + static_cast<std::ptrdiff_t>(index));
}

void* StagingRing::acquire(size_t bytes) {
  if (bytes > limit_) return nullptr;
  // The smallest idle buffer that fits.
  Buffer* best = nullptr;
  for (Buffer& buffer : buffers_)
    if (!buffer.held && buffer.capacity >= bytes && backend_.has_passed(buffer.fence) &&
        (!best || buffer.capacity < best->capacity))
      best = &buffer;
  if (best) {
    best->held = true;
    return best->data;
  }
  // A new buffer, once there is room under the limit: waiting for a fitting buffer's copy, or giving back
  // buffers too small to serve, until there is.
  const size_t capacity = std::min(std::max(round_up_to_power_of_two(bytes), kMinBuffer), limit_);
  while (pinned_bytes() + capacity > limit_) {
    Buffer* oldest_fitting = nullptr;
    size_t oldest_other = buffers_.size();
    for (size_t i = 0; i < buffers_.size(); ++i) {
      Buffer& buffer = buffers_[i];
      if (buffer.held) continue;
      if (buffer.capacity >= bytes) {
        if (!oldest_fitting || buffer.queued < oldest_fitting->queued) oldest_fitting = &buffer;
      } else if (oldest_other == buffers_.size() || buffer.queued < buffers_[oldest_other].queued) {
        oldest_other = i;
      }
    }
    if (oldest_fitting) {
      backend_.wait(oldest_fitting->fence);
      ++waits_;
      oldest_fitting->held = true;
      return oldest_fitting->data;
    }
    if (oldest_other == buffers_.size()) return nullptr;  // every buffer is held: nothing to wait for
    free_buffer(oldest_other);
  }
  void* data = backend_.allocate_pinned(capacity);
  if (!data) return nullptr;
  buffers_.push_back({.data = data, .capacity = capacity, .fence = backend_.create_fence(), .queued = 0, .held = true});
  return data;
}

void StagingRing::release(void* data) {
  const auto found = std::find_if(buffers_.begin(), buffers_.end(), [&](const Buffer& b) { return b.data == data; });
  VIREO_CHECK(found != buffers_.end() && found->held, "StagingRing::release: ", data,
              " is not a buffer this ring handed out");
  backend_.record(found->fence);
  found->queued = ++releases_;
  found->held = false;
}

}  // namespace vireo
