// Running mean and variance (Welford 1962) and the merge of two partial results (Chan, Golub & LeVeque
// 1979), the statistics of the CUDA batch, layer and group norm kernels.
//
// Each thread folds its share of the elements into one WelfordStats; partial results are then merged
// pairwise (warp shuffles, then shared memory, then across blocks in a fixed order), so the result depends
// only on the shapes and the launch geometry, never on timing. The merge
//   n = n_a + n_b,  δ = mean_b − mean_a,  mean = mean_a + δ·n_b/n,  M2 = M2_a + M2_b + δ²·n_a·n_b/n
// is exact in real arithmetic and, unlike Σx² − n·mean², never cancels catastrophically. Statistics are
// kept in double whatever the tensor's dtype (the CPU adds its partial sums in double too).
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/cuda/common.h"

namespace vireo::cuda {

struct WelfordStats {
  double count = 0.0;
  double mean = 0.0;
  double m2 = 0.0;  // Σ (x − mean)²

  VIREO_HOST_DEVICE void add(double x) {
    count += 1.0;
    const double delta = x - mean;
    mean += delta / count;
    m2 += delta * (x - mean);
  }
  // The biased variance (divided by n), as normalization uses; 0 for an empty set.
  VIREO_HOST_DEVICE double variance() const { return count > 0.0 ? m2 / count : 0.0; }
};

VIREO_HOST_DEVICE inline WelfordStats welford_merge(const WelfordStats& a, const WelfordStats& b) {
  if (a.count == 0.0) return b;
  if (b.count == 0.0) return a;
  WelfordStats merged;
  merged.count = a.count + b.count;
  const double delta = b.mean - a.mean, weight_b = b.count / merged.count;
  merged.mean = a.mean + delta * weight_b;
  merged.m2 = a.m2 + b.m2 + delta * delta * a.count * weight_b;
  return merged;
}

// Threads per block of the statistics kernels. A batch-norm channel's N·M values are cut into chunks of at
// least kMinChunk values, at most kMaxChunks of them (one block each).
constexpr int kNormThreads = 256;
constexpr int64_t kMinChunk = 4096;
constexpr int64_t kMaxChunks = 64;
VIREO_HOST_DEVICE inline int64_t chunks_for(int64_t count) {
  const int64_t chunks = (count + kMinChunk - 1) / kMinChunk;
  return chunks < 1 ? 1 : chunks > kMaxChunks ? kMaxChunks : chunks;
}

// Chunk k of `chunks` near-equal chunks of [0, count): the split the batch-norm kernels use for a channel's
// values, a function of the count alone (so the merge order, and the result, are too).
struct ChunkRange {
  int64_t begin, end;
};
VIREO_HOST_DEVICE inline ChunkRange chunk_range(int64_t count, int64_t chunks, int64_t k) {
  const int64_t size = (count + chunks - 1) / chunks;
  const int64_t begin = k * size < count ? k * size : count, end = begin + size < count ? begin + size : count;
  return {begin, end};
}

// 1/√(var + eps), in double as the CPU computes it.
VIREO_HOST_DEVICE inline double inverse_std(double variance, double eps) { return 1.0 / sqrt(variance + eps); }

}  // namespace vireo::cuda
