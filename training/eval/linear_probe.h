// Linear probe: how linearly decodable the classes are from frozen features. A single Linear layer is
// trained on them with cross-entropy and its top-1 accuracy reported on the training and the test set —
// the standard evaluation of self-supervised representations (METHODS.md).
//
//   x̃ = (x − μ_train) / σ_train           (optional standardization, statistics of the training set only)
//   logits = W x̃ + b,  W ~ N(0, 0.01²), b = 0   (DINO's initialization of its linear classifier)
//   L = cross_entropy(logits, y) over mini-batches of a fresh random order each epoch
//   lr(s) = lr · (1 + cos(π s / S))/2        cosine decay over the S training samples of the whole run
//   SGD with momentum, or Adam; weight decay on W and b
//
// Everything random (the initialization, the order of every epoch) comes from one Generator seeded with
// `seed`: the same features and options give the same probe.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/nn/linear.h"
#include "engine/tensor.h"

namespace vireo::eval {

enum class ProbeOptimizer { sgd, adam };

struct LinearProbeOptions {
  int64_t epochs = 100;
  int64_t batch_size = 256;
  ProbeOptimizer optimizer = ProbeOptimizer::sgd;
  double lr = 0.1;             // the peak learning rate (0.1 suits SGD on standardized features; Adam ~1e-3)
  double momentum = 0.9;       // SGD only
  double weight_decay = 0.0;
  bool standardize = true;     // z-score each feature dimension with the training set's mean and std
  uint64_t seed = 0;
  int64_t num_classes = 0;     // 0: 1 + the largest label seen in either set
};

struct LinearProbeResult {
  double train_top1 = 0.0;            // accuracy of the trained probe on the training features
  double test_top1 = 0.0;             // … and on the test features
  std::vector<double> epoch_losses;   // the mean training loss of each epoch
  std::shared_ptr<nn::Linear> classifier;
  Tensor feature_mean, feature_std;   // [D] the standardization applied before the classifier (undefined
                                      // without standardize)
};

// train_features [N, D], train_labels [N] i64, test_features [M, D], test_labels [M] i64.
LinearProbeResult linear_probe(const Tensor& train_features, const Tensor& train_labels,
                               const Tensor& test_features, const Tensor& test_labels,
                               const LinearProbeOptions& options = {});

}  // namespace vireo::eval
