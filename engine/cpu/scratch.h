// Per-thread scratch buffers for the CPU kernels: each calling thread owns one buffer per (type, slot),
// kept across calls and grown when a call needs more, so the steady state neither allocates nor zeroes.
// The contents are uninitialized. A kernel that needs several buffers at once takes them from different
// slots (a second call with the same slot returns the same memory).
//
//   float* column = thread_scratch<float>(rows * columns);        // slot 0
//   float* panel = thread_scratch<float, 1>(k * n);               // another buffer, alive alongside
#pragma once

#include <cstdint>
#include <vector>

namespace vireo::cpu {

template <class T, int Slot = 0>
T* thread_scratch(int64_t elements) {
  thread_local std::vector<T> buffer;
  if (static_cast<int64_t>(buffer.size()) < elements) buffer.resize(static_cast<size_t>(elements));
  return buffer.data();
}

}  // namespace vireo::cpu
