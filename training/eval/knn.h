// Weighted k-nearest-neighbour classification on frozen features, the SSL monitor of Wu et al. 2018
// (InstDisc) as DINO (Caron et al. 2021) runs it:
//
//   f̂ = f / ‖f‖₂ for every train and test feature
//   s_j = ⟨f̂_test, f̂_train_j⟩                       cosine similarity to each training example
//   N_k = the k training examples with the largest s_j
//   score(c) = Σ_{j ∈ N_k, y_j = c} exp(s_j / T)    (weighted; 1 per neighbour when unweighted)
//   prediction = argmax_c score(c); top-5 = the 5 classes of largest score
//
// Defaults k = 20, T = 0.07 (METHODS.md). The test set is processed `chunk_size` rows at a time, so memory
// stays at chunk_size × N_train similarities whatever the test set's size.
//
// Ties, deterministically: among training examples of equal similarity the one with the lower index is a
// neighbour first, and among classes of equal score the lower class index ranks first (the engine's topk
// breaks ties by index).
#pragma once

#include <cstdint>
#include <optional>

#include "engine/tensor.h"

namespace vireo::eval {

struct KnnOptions {
  int64_t k = 20;             // neighbours (clamped to the number of training examples)
  double temperature = 0.07;  // T of the exp(s/T) weights
  bool weighted = true;       // false: every neighbour casts one vote
  int64_t chunk_size = 256;   // test rows per similarity block
  int64_t num_classes = 0;    // 0: 1 + the largest label seen in either set
};

struct KnnResult {
  double top1 = 0.0;                // fraction of test examples whose top prediction is their label
  std::optional<double> top5;       // the same for the 5 best classes; only with at least 5 classes
  Tensor predictions;               // [N_test] i64
  // [N_test, C] f32: score(c) of every test example, each row scaled by the constant exp(−s_max/T)
  // (s_max its nearest neighbour's similarity) so that exp cannot overflow at a small T; the ranking of
  // classes is that of the formula above.
  Tensor class_scores;
};

// train_features [N, D], train_labels [N] i64, test_features [M, D], test_labels [M] i64.
KnnResult knn_classify(const Tensor& train_features, const Tensor& train_labels, const Tensor& test_features,
                       const Tensor& test_labels, const KnnOptions& options = {});

}  // namespace vireo::eval
