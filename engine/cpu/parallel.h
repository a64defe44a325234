// OpenMP helpers shared by the CPU kernels. Work is split into contiguous ranges, one per thread, and
// only when there is enough of it to pay for waking the threads.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace vireo::cpu {

inline int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// Calls body(lo, hi) over [begin, end) split into one contiguous range per thread. `grain` is the least
// amount of work (in iterations) worth a thread of its own.
template <class Body>
void parallel_for(int64_t begin, int64_t end, int64_t grain, Body&& body) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int64_t threads = std::min<int64_t>(max_threads(), std::max<int64_t>(1, n / std::max<int64_t>(grain, 1)));
  if (threads <= 1 || in_parallel_region()) {
    body(begin, end);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(threads))
  {
#ifdef _OPENMP
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int64_t t = 0, nt = 1;
#endif
    const int64_t lo = begin + n * t / nt, hi = begin + n * (t + 1) / nt;
    if (lo < hi) body(lo, hi);
  }
}

}  // namespace vireo::cpu
