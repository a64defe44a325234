// SyntheticDataset: images made up from a seed, for tests and smoke runs that must not need files. Each
// class is a sinusoidal grating at its own orientation and frequency; every example is its class's
// grating plus independent gaussian noise, clamped to [0, 1]. The classes are therefore learnable (even
// linearly separable at low noise) and every example is a pure function of (seed, index).
//
//   template_k(y, x, c) = ½ + 0.4 · sin(2π f_k (x cos θ_k + y sin θ_k) / W + φ_c),
//   θ_k = π k / K, f_k = 1 + (k mod 3), φ_c = 2π c / 3
//   image = clamp(template_label + noise · N(0, 1), 0, 1),   label ~ U{0 … K−1}
#pragma once

#include "training/data/dataset.h"

namespace vireo::data {

struct SyntheticOptions {
  int64_t size = 1000;
  int64_t num_classes = 10;
  int64_t channels = 1, height = 28, width = 28;
  double noise = 0.1;
  uint64_t seed = 0;
};

class SyntheticDataset final : public Dataset {
 public:
  explicit SyntheticDataset(SyntheticOptions options);
  int64_t size() const override { return options_.size; }
  Example get(int64_t index) const override;
  int64_t num_classes() const override { return options_.num_classes; }

 private:
  SyntheticOptions options_;
};

}  // namespace vireo::data
