// Supervised classification: cross-entropy training and top-1 test accuracy.
#include "training/classification.h"

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/backbone.h"

namespace vireo::training {

AccuracyCount top1_accuracy(nn::Module& model, std::shared_ptr<const data::Dataset> dataset,
                            const data::Pipeline& pipeline, int64_t batch_size, int64_t workers) {
  const bool was_training = model.is_training();
  model.eval();
  NoGrad no_grad;
  data::DataLoader loader(std::move(dataset), {pipeline},
                          {.batch_size = batch_size, .shuffle = false, .drop_last = false, .workers = workers});
  AccuracyCount count;
  for (data::Batch& batch : loader.epoch(0)) {
    const Tensor predicted = argmax(model(batch.views[0].to(model.device())), 1).to(Device::cpu());
    count.correct += static_cast<int64_t>(sum(eq(predicted, batch.labels)).item());
    count.total += batch.size();
  }
  model.train(was_training);
  return count;
}

ClassificationTask::ClassificationTask(std::shared_ptr<const data::Dataset> test_set, data::Pipeline test_pipeline,
                                       ClassificationOptions options)
    : test_set_(std::move(test_set)), test_pipeline_(std::move(test_pipeline)), options_(options) {}

void ClassificationTask::check_model(nn::Module& model) const {
  const auto* backbone = dynamic_cast<const models::Backbone*>(&model);
  if (!backbone) fail("model.name: a ", model.type_name(), " is not an image classifier (use a ResNet or a ViT)");
  if (backbone->num_classes() != options_.num_classes)
    fail("model.num_classes: the model has ", backbone->num_classes(), " outputs but the dataset ",
         options_.num_classes, " classes");
}

Tensor ClassificationTask::loss(nn::Module& model, const data::Batch& batch) {
  return cross_entropy(model(batch.views[0]), batch.labels, {.label_smoothing = options_.label_smoothing});
}

void ClassificationTask::evaluate(nn::Module& model, const std::string& prefix, Metrics& metrics) {
  const AccuracyCount count =
      top1_accuracy(model, test_set_, test_pipeline_, options_.eval_batch_size, options_.eval_workers);
  metrics.emplace_back(prefix + "test_top1", count.fraction());
}

}  // namespace vireo::training
