// The caching allocator's bookkeeping (engine/block_pool.h), on a fake segment source that records every
// segment it hands out: best fit, splitting, merging of neighbours, the two pools, empty_cache, the retry after
// out-of-memory, and the refusal of a pointer it does not own. The CUDA allocator is this pool over cudaMalloc.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "engine/block_pool.h"
#include "engine/error.h"

namespace vireo {
namespace {

// Hands out real host memory (so addresses are distinct and ordered within a segment), up to a budget.
class FakeSegments final : public SegmentSource {
 public:
  explicit FakeSegments(size_t budget = size_t{1} << 40) : budget_(budget) {}
  ~FakeSegments() override {
    for (auto& [pointer, bytes] : live) std::free(pointer);
  }
  void* allocate(size_t bytes) override {
    ++requests;
    if (in_use_ + bytes > budget_) return nullptr;
    void* pointer = std::malloc(bytes);
    live[pointer] = bytes;
    in_use_ += bytes;
    return pointer;
  }
  void release(void* pointer) override {
    in_use_ -= live.at(pointer);
    live.erase(pointer);
    std::free(pointer);
    ++releases;
  }
  std::string name() const override { return "fake:0"; }

  std::map<void*, size_t> live;
  int requests = 0, releases = 0;

 private:
  size_t budget_;
  size_t in_use_ = 0;
};

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

TEST_CASE("block pool: small requests are rounded to 512 bytes and carved from one 2 MiB segment") {
  FakeSegments source;
  BlockPool pool(source);
  char* a = static_cast<char*>(pool.allocate(1));
  char* b = static_cast<char*>(pool.allocate(513));
  char* c = static_cast<char*>(pool.allocate(100 * KiB));
  CHECK(source.live.size() == 1);
  CHECK(source.live.begin()->second == BlockPool::kSmallSegment);
  // Consecutive blocks of the same segment: a takes 512 bytes, b 1024.
  CHECK(b - a == 512);
  CHECK(c - b == 1024);
  const MemoryStats stats = pool.stats();
  CHECK(stats.bytes_in_use == 512 + 1024 + 100 * KiB);
  CHECK(stats.bytes_cached == BlockPool::kSmallSegment - stats.bytes_in_use);
  CHECK(stats.system_allocations == 1);
  CHECK(stats.allocations == 3);
  pool.release(a);
  pool.release(b);
  pool.release(c);
}

TEST_CASE("block pool: a steady loop of the same requests stops asking the source after its first pass") {
  FakeSegments source;
  BlockPool pool(source);
  const std::vector<size_t> sizes = {4 * KiB, 3 * MiB, 300 * KiB, 12 * MiB, 7, 800 * KiB};
  for (int step = 0; step < 5; ++step) {
    std::vector<void*> live;
    for (size_t size : sizes) live.push_back(pool.allocate(size));
    for (void* pointer : live) pool.release(pointer);
    if (step == 0) REQUIRE(source.requests > 0);
  }
  const int after_first = source.requests;
  std::vector<void*> live;
  for (size_t size : sizes) live.push_back(pool.allocate(size));
  for (void* pointer : live) pool.release(pointer);
  CHECK(source.requests == after_first);
  CHECK(pool.stats().bytes_in_use == 0);
}

TEST_CASE("block pool: released neighbours merge so the whole segment is one block again") {
  FakeSegments source;
  BlockPool pool(source);
  void* a = pool.allocate(600 * KiB);
  void* b = pool.allocate(600 * KiB);
  void* c = pool.allocate(600 * KiB);
  REQUIRE(source.live.size() == 1);
  // Release the middle one last: it merges with both free neighbours.
  pool.release(a);
  pool.release(c);
  pool.release(b);
  // The largest small request (1 MiB) is bigger than any one 600 KiB block: it fits in the segment without a
  // new one only because the three blocks and the segment's tail merged.
  void* whole = pool.allocate(BlockPool::kSmallRequest);
  CHECK(source.live.size() == 1);
  CHECK(whole == a);
  pool.release(whole);
  pool.empty_cache();
  CHECK(source.live.empty());
  CHECK(pool.stats().bytes_cached == 0);
  CHECK(pool.segment_count() == 0);
}

TEST_CASE("block pool: best fit takes the smallest free block that holds the request") {
  FakeSegments source;
  BlockPool pool(source);
  // Three blocks with a 512-byte separator between them so they cannot merge when released.
  void* big = pool.allocate(64 * KiB);
  void* sep1 = pool.allocate(512);
  void* small = pool.allocate(8 * KiB);
  void* sep2 = pool.allocate(512);
  pool.release(big);
  pool.release(small);
  CHECK(pool.allocate(6 * KiB) == small);  // the 8 KiB hole, not the 64 KiB one
  CHECK(pool.allocate(40 * KiB) == big);
  (void)sep1;
  (void)sep2;
}

TEST_CASE("block pool: large requests use 20 MiB segments under 10 MiB and exact 2 MiB multiples above") {
  FakeSegments source;
  BlockPool pool(source);
  void* medium = pool.allocate(3 * MiB);
  CHECK(source.live.begin()->second == BlockPool::kLargeSegment);
  void* second = pool.allocate(5 * MiB);  // fits in the rest of the 20 MiB segment
  CHECK(source.live.size() == 1);
  void* huge = pool.allocate(33 * MiB + 1);
  CHECK(source.live.size() == 2);
  bool found = false;
  for (auto& [pointer, bytes] : source.live) found |= pointer == huge && bytes == 34 * MiB;
  CHECK(found);
  // Small requests never come out of a large segment.
  void* tiny = pool.allocate(100);
  CHECK(source.live.size() == 3);
  pool.release(medium);
  pool.release(second);
  pool.release(huge);
  pool.release(tiny);
  pool.empty_cache();
  CHECK(source.live.empty());
}

TEST_CASE("block pool: out of memory returns the cached segments and retries before failing with the sizes") {
  FakeSegments source(44 * MiB);
  BlockPool pool(source);
  void* a = pool.allocate(30 * MiB);  // a 30 MiB segment
  pool.release(a);                    // cached, not returned
  void* b = pool.allocate(40 * MiB);  // needs the cache emptied first: 30 + 40 > 44
  CHECK(b != nullptr);
  CHECK(source.releases == 1);
  try {
    pool.allocate(10 * MiB);
    FAIL("expected an out-of-memory error");
  } catch (const Error& error) {
    const std::string message = error.what();
    CHECK(message.find("out of memory on fake:0") != std::string::npos);
    CHECK(message.find(std::to_string(10 * MiB)) != std::string::npos);
  }
  pool.release(b);
}

TEST_CASE("block pool: releasing a pointer twice or one it never gave out is refused") {
  FakeSegments source;
  BlockPool pool(source);
  void* a = pool.allocate(1000);
  pool.release(a);
  CHECK_THROWS_WITH_AS(pool.release(a), doctest::Contains("not a live block"), Error);
  int local = 0;
  CHECK_THROWS_AS(pool.release(&local), Error);
}

TEST_CASE("block pool: the peak follows the high-water mark and reset_peak lowers it to what is in use") {
  FakeSegments source;
  BlockPool pool(source);
  void* a = pool.allocate(100 * KiB);
  void* b = pool.allocate(200 * KiB);
  pool.release(b);
  CHECK(pool.stats().peak_bytes_in_use == 300 * KiB);
  pool.reset_peak();
  CHECK(pool.stats().peak_bytes_in_use == 100 * KiB);
  pool.release(a);
}

}  // namespace
}  // namespace vireo
