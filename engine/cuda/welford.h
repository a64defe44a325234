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

// 1/√(var + eps), in double as the CPU computes it.
VIREO_HOST_DEVICE inline double inverse_std(double variance, double eps) { return 1.0 / sqrt(variance + eps); }

}  // namespace vireo::cuda
