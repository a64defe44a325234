// The pinned staging ring's bookkeeping (engine/staging_ring.h) on a fake backend whose "GPU" finishes a
// queued copy only when the test says so: reuse of a finished buffer, growth while copies are in flight, the
// wait for the oldest fitting buffer at the limit, giving back small idle buffers for a larger request, the
// fallback (null) when nothing can serve, and the destructor waiting for every fence before freeing.
#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "engine/error.h"
#include "engine/staging_ring.h"

namespace vireo {
namespace {

// Fences are counters: record() gives a fence the next ticket; the "GPU" has finished every ticket up to
// `finished`. wait() finishes the fence's ticket (and all before it), as a stream does.
class FakeStaging final : public StagingBackend {
 public:
  ~FakeStaging() override {
    for (void* pointer : live) std::free(pointer);
  }
  void* allocate_pinned(size_t bytes) override {
    if (refuse) return nullptr;
    void* pointer = std::malloc(bytes);
    live.insert(pointer);
    allocated += bytes;
    return pointer;
  }
  void free_pinned(void* pointer) override {
    REQUIRE(live.count(pointer) == 1);
    live.erase(pointer);
    std::free(pointer);
    ++frees;
  }
  void* create_fence() override {
    void* fence = reinterpret_cast<void*>(++fences_made);
    tickets[fence] = 0;
    return fence;
  }
  void destroy_fence(void* fence) override {
    CHECK(has_passed(fence));  // never destroyed while its copy is in flight
    tickets.erase(fence);
  }
  void record(void* fence) override { tickets.at(fence) = ++last_ticket; }
  bool has_passed(void* fence) override { return tickets.at(fence) <= finished; }
  void wait(void* fence) override {
    ++waits;
    finished = std::max(finished, tickets.at(fence));
  }
  void finish_all() { finished = last_ticket; }

  std::set<void*> live;
  std::map<void*, uint64_t> tickets;
  uint64_t fences_made = 0, last_ticket = 0, finished = 0;
  size_t allocated = 0;
  int frees = 0, waits = 0;
  bool refuse = false;
};

constexpr size_t kMiB = size_t{1} << 20;

TEST_CASE("staging ring: a finished buffer is reused and busy ones make the ring grow") {
  FakeStaging backend;
  StagingRing ring(backend, 64 * kMiB);
  void* first = ring.acquire(3 * kMiB);
  REQUIRE(first != nullptr);
  CHECK(backend.allocated == 4 * kMiB);  // rounded up to a power of two
  ring.release(first);
  // Its copy is still in flight: a second request gets a new buffer.
  void* second = ring.acquire(3 * kMiB);
  CHECK(second != first);
  ring.release(second);
  CHECK(ring.buffer_count() == 2);
  // Once the GPU has finished, the smallest idle buffer that fits comes back, without a new allocation.
  backend.finish_all();
  void* small = ring.acquire(100);
  CHECK((small == first || small == second));
  ring.release(small);
  CHECK(ring.buffer_count() == 2);
  CHECK(ring.waits() == 0);
  // A tiny request on an empty ring still gets kMinBuffer.
  FakeStaging other;
  StagingRing tiny(other, 64 * kMiB);
  tiny.release(tiny.acquire(10));
  CHECK(other.allocated == StagingRing::kMinBuffer);
}

TEST_CASE("staging ring: at the limit it waits for the oldest fitting copy and gives back small idle buffers") {
  FakeStaging backend;
  StagingRing ring(backend, 8 * kMiB);
  void* a = ring.acquire(4 * kMiB);
  ring.release(a);
  void* b = ring.acquire(4 * kMiB);
  ring.release(b);
  CHECK(ring.pinned_bytes() == 8 * kMiB);
  // Both copies in flight and no room: the one queued first is waited for and handed out.
  void* c = ring.acquire(4 * kMiB);
  CHECK(c == a);
  CHECK(ring.waits() == 1);
  CHECK(backend.finished == 1);  // only a's copy had to finish
  ring.release(c);
  CHECK(ring.buffer_count() == 2);

  // Small buffers that cannot serve a large request are given back (after their copies) to make room.
  FakeStaging small_backend;
  StagingRing small_ring(small_backend, 4 * kMiB);
  void* s1 = small_ring.acquire(kMiB);
  small_ring.release(s1);
  void* s2 = small_ring.acquire(kMiB);
  small_ring.release(s2);
  void* large = small_ring.acquire(3 * kMiB);
  REQUIRE(large != nullptr);
  // The 4 MiB it needs fits beside neither 1 MiB buffer: both are given back, oldest first, each after its copy.
  CHECK(small_ring.buffer_count() == 1);
  CHECK(small_backend.frees == 2);
  CHECK(small_backend.finished == 2);
  CHECK(small_ring.pinned_bytes() == 4 * kMiB);
  small_ring.release(large);
}

TEST_CASE("staging ring: null when nothing can serve and a buffer it did not hand out is refused") {
  FakeStaging backend;
  StagingRing ring(backend, 8 * kMiB);
  CHECK(ring.acquire(9 * kMiB) == nullptr);  // larger than the whole limit
  void* held = ring.acquire(8 * kMiB);
  REQUIRE(held != nullptr);
  CHECK(ring.acquire(kMiB) == nullptr);  // the only buffer is held by the caller: nothing to wait for
  ring.release(held);
  FakeStaging refusing;  // no pinned memory to be had
  refusing.refuse = true;
  StagingRing empty(refusing, 8 * kMiB);
  CHECK(empty.acquire(kMiB) == nullptr);
  int on_stack = 0;
  CHECK_THROWS_WITH_AS(ring.release(&on_stack), doctest::Contains("not a buffer this ring handed out"), Error);
  CHECK_THROWS_WITH_AS(ring.release(held), doctest::Contains("not a buffer this ring handed out"), Error);  // twice
}

TEST_CASE("staging ring: the destructor waits for every copy in flight before freeing") {
  FakeStaging backend;
  {
    StagingRing ring(backend, 64 * kMiB);
    for (int i = 0; i < 3; ++i) ring.release(ring.acquire(2 * kMiB));
    CHECK(ring.buffer_count() == 3);
    CHECK(backend.finished == 0);
  }
  CHECK(backend.finished == 3);  // destroy_fence checks that each copy had passed
  CHECK(backend.frees == 3);
  CHECK(backend.live.empty());
}

}  // namespace
}  // namespace vireo
