#include "engine/block_pool.h"

#include "engine/error.h"

namespace vireo {

size_t BlockPool::rounded_size(size_t bytes) const {
  if (bytes == 0) return kRound;
  return (bytes + kRound - 1) / kRound * kRound;
}

BlockPool::~BlockPool() {
  // Live blocks at exit belong to tensors that outlive the pool (statics); their segments are left to the
  // process's end. Free segments go back.
  release_free_segments();
}

BlockPool::Block* BlockPool::find_free(size_t size, bool small) {
  FreeSet& pool = pool_for(small);
  Block key;
  key.size = size;
  key.address = nullptr;
  auto it = pool.lower_bound(&key);
  if (it == pool.end()) return nullptr;
  Block* block = *it;
  pool.erase(it);
  return block;
}

BlockPool::Block* BlockPool::new_segment(size_t size, bool small) {
  size_t segment = small ? kSmallSegment
                   : size < kMediumRequest ? kLargeSegment
                                           : (size + kLargeRound - 1) / kLargeRound * kLargeRound;
  void* memory = source_.allocate(segment);
  if (!memory) {
    // Out of memory: give the cached segments back and ask once more.
    release_free_segments();
    memory = source_.allocate(segment);
  }
  if (!memory)
    fail("out of memory on ", source_.name(), ": could not allocate a segment of ", segment, " bytes for a request of ",
         size, " bytes (", stats_.bytes_in_use, " bytes in use by tensors, ", reserved_,
         " reserved; free tensors or lower the batch size)");
  ++segments_;
  ++stats_.system_allocations;
  reserved_ += segment;
  Block* block = new Block;
  block->address = static_cast<char*>(memory);
  block->size = segment;
  block->small = small;
  return block;
}

void* BlockPool::allocate(size_t bytes) {
  const size_t size = rounded_size(bytes);
  const bool small = size <= kSmallRequest;
  Block* block = find_free(size, small);
  if (!block) block = new_segment(size, small);
  // Split off the rest when it is worth keeping as a block of its own.
  const size_t rest = block->size - size;
  if (rest > (small ? kRound : kSmallRequest)) {
    Block* tail = new Block;
    tail->address = block->address + size;
    tail->size = rest;
    tail->small = small;
    tail->previous = block;
    tail->next = block->next;
    if (block->next) block->next->previous = tail;
    block->next = tail;
    block->size = size;
    pool_for(small).insert(tail);
  }
  block->free = false;
  in_use_.emplace(block->address, block);
  ++stats_.allocations;
  stats_.bytes_in_use += block->size;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  stats_.bytes_cached = reserved_ - stats_.bytes_in_use;
  return block->address;
}

void BlockPool::release(void* pointer) {
  auto it = in_use_.find(pointer);
  VIREO_CHECK(it != in_use_.end(), "release on ", source_.name(), ": ", pointer,
              " is not a live block of this allocator (released twice, or never allocated here)");
  Block* block = it->second;
  in_use_.erase(it);
  stats_.bytes_in_use -= block->size;
  block->free = true;
  FreeSet& pool = pool_for(block->small);
  // Merge with free neighbours: the block absorbs the next one, the previous one absorbs the block.
  if (Block* next = block->next; next && next->free) {
    pool.erase(next);
    block->size += next->size;
    block->next = next->next;
    if (next->next) next->next->previous = block;
    delete next;
  }
  if (Block* previous = block->previous; previous && previous->free) {
    pool.erase(previous);
    previous->size += block->size;
    previous->next = block->next;
    if (block->next) block->next->previous = previous;
    delete block;
    block = previous;
  }
  pool.insert(block);
  stats_.bytes_cached = reserved_ - stats_.bytes_in_use;
}

void BlockPool::release_free_segments() {
  for (FreeSet* pool : {&free_small_, &free_large_}) {
    for (auto it = pool->begin(); it != pool->end();) {
      Block* block = *it;
      if (block->previous || block->next) {  // part of a segment still in use
        ++it;
        continue;
      }
      source_.release(block->address);
      reserved_ -= block->size;
      --segments_;
      it = pool->erase(it);
      delete block;
    }
  }
  stats_.bytes_cached = reserved_ - stats_.bytes_in_use;
}

void BlockPool::empty_cache() { release_free_segments(); }

}  // namespace vireo
