// Supervised classification: the model maps images [N, C, H, W] to logits [N, K] and is trained with
// cross-entropy against the labels, optionally label-smoothed (Szegedy et al. 2016):
//
//   loss = −(1/N) Σ_n Σ_k q_nk · log softmax(z_n)_k,   q_nk = (1 − ε)·[k = y_n] + ε/K
//
// and evaluated by top-1 accuracy on the test split: the fraction of test images whose largest logit is
// their label.
#pragma once

#include <cstdint>
#include <memory>

#include "training/data/dataset.h"
#include "training/data/transforms.h"
#include "training/task.h"

namespace vireo::training {

struct AccuracyCount {
  int64_t correct = 0, total = 0;
  double fraction() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

// Top-1 accuracy of `model` over `dataset` with `pipeline` applied to every image, in batches of
// `batch_size` built by `workers` loader threads. The model runs in eval mode without gradients; its
// previous mode is restored afterwards.
AccuracyCount top1_accuracy(nn::Module& model, std::shared_ptr<const data::Dataset> dataset,
                            const data::Pipeline& pipeline, int64_t batch_size, int64_t workers);

struct ClassificationOptions {
  double label_smoothing = 0.0;
  int64_t eval_batch_size = 500;
  int64_t eval_workers = 2;
  int64_t num_classes = 0;  // the dataset's; the model's head must match
};

class ClassificationTask final : public TrainingTask {
 public:
  ClassificationTask(std::shared_ptr<const data::Dataset> test_set, data::Pipeline test_pipeline,
                     ClassificationOptions options);
  void check_model(nn::Module& model) const override;
  Tensor loss(nn::Module& model, const data::Batch& batch) override;
  // "test_top1"
  void evaluate(nn::Module& model, const std::string& prefix, Metrics& metrics) override;

 private:
  std::shared_ptr<const data::Dataset> test_set_;
  data::Pipeline test_pipeline_;
  ClassificationOptions options_;
};

}  // namespace vireo::training
