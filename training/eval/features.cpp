// Feature extraction over a loader or an in-memory set (training/eval/features.h).
#include "training/eval/features.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/backbone.h"

namespace vireo::eval {

namespace {

// Puts every module of a model in eval mode for its lifetime, then gives each module back the mode it had
// (a model may mix modes on purpose, e.g. frozen batch norms in a training model).
class EvalModeScope {
 public:
  explicit EvalModeScope(nn::Module& model) {
    for (auto& module : model.modules()) modes_.emplace_back(module, module->is_training());
    model.eval();
  }
  ~EvalModeScope() {
    // Preorder: a parent's train() recurses into its children, which are then set to their own mode.
    for (auto& [module, training] : modes_) module->train(training);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  std::vector<std::pair<std::shared_ptr<nn::Module>, bool>> modes_;
};

// Reads one batch's features from the model as the options say; owns the forward hook of
// FeatureSource::module and removes it when destroyed.
class FeatureReader {
 public:
  FeatureReader(nn::Module& model, const FeatureOptions& options) : model_(model), options_(options) {
    if (options.source == FeatureSource::backbone) {
      backbone_ = dynamic_cast<models::Backbone*>(&model);
      VIREO_CHECK(backbone_ != nullptr, "extract_features: FeatureSource::backbone needs a models::Backbone ",
                  "(ResNet, ViT), got a ", model.type_name());
    } else if (options.source == FeatureSource::module) {
      VIREO_CHECK(!options.module_path.empty(), "extract_features: FeatureSource::module needs a module_path ",
                  "(the submodule whose output to read, e.g. \"avgpool\")");
      hook_ = model.register_forward_hook(options.module_path, [this](const Tensor& output) {
        captured_ = output;
        ++captures_;
      });
    } else {
      VIREO_CHECK(options.module_path.empty(), "extract_features: module_path '", options.module_path,
                  "' is only read with FeatureSource::module");
    }
  }
  ~FeatureReader() { hook_.remove(); }
  FeatureReader(const FeatureReader&) = delete;
  FeatureReader& operator=(const FeatureReader&) = delete;

  // [B, C, H, W] -> [B, D]
  Tensor read(const Tensor& images) {
    Tensor features;
    switch (options_.source) {
      case FeatureSource::output: features = model_(images); break;
      case FeatureSource::backbone: features = backbone_->forward_features(images); break;
      case FeatureSource::module:
        captures_ = 0;
        captured_ = Tensor();
        model_(images);
        VIREO_CHECK(captures_ == 1, "extract_features: module '", options_.module_path, "' ran ", captures_,
                    " times in one forward pass; its features need exactly one output");
        features = captured_;
        break;
    }
    VIREO_CHECK(features.defined() && features.dim() >= 1 && features.size(0) == images.size(0),
                "extract_features: the features of a batch of ", images.size(0), " images must be [",
                images.size(0), ", ...], got ", features.defined() ? describe(features) : std::string("nothing"));
    return features.detach().flatten(1).to(DType::f32).contiguous();
  }

 private:
  nn::Module& model_;
  const FeatureOptions& options_;
  models::Backbone* backbone_ = nullptr;
  nn::HookHandle hook_;
  Tensor captured_;
  int64_t captures_ = 0;
};

FeatureSet concatenate(std::vector<Tensor>& features, std::vector<Tensor>& labels) {
  VIREO_CHECK(!features.empty(), "extract_features: the evaluation set is empty");
  return {cat(features, 0), cat(labels, 0).to(DType::i64)};
}

}  // namespace

FeatureSet extract_features(nn::Module& model, data::DataLoader& loader, const FeatureOptions& options) {
  VIREO_CHECK(options.view >= 0 && options.view < loader.num_views(), "extract_features: view ", options.view,
              " is out of range: the loader has ", loader.num_views(), " view(s)");
  EvalModeScope eval_mode(model);
  NoGrad no_grad;
  FeatureReader reader(model, options);
  std::vector<Tensor> features, labels;
  loader.seek({0, 0});
  for (int64_t b = 0; b < loader.batches_per_epoch(); ++b) {
    const data::Batch batch = loader.next();
    // The model may be on a GPU; the features come back to the host, where kNN and the probe run.
    features.push_back(reader.read(batch.views[static_cast<size_t>(options.view)].to(model.device())).to(Device::cpu()));
    labels.push_back(batch.labels);
  }
  return concatenate(features, labels);
}

FeatureSet extract_features(nn::Module& model, std::shared_ptr<const data::Dataset> dataset,
                            const data::Pipeline& pipeline, data::LoaderOptions loader_options,
                            const FeatureOptions& options) {
  VIREO_CHECK(dataset != nullptr, "extract_features: the dataset is null");
  loader_options.shuffle = false;
  loader_options.drop_last = false;
  data::DataLoader loader(std::move(dataset), {pipeline}, loader_options);
  return extract_features(model, loader, options);
}

FeatureSet extract_features(nn::Module& model, const Tensor& images, const Tensor& labels, int64_t batch_size,
                            const FeatureOptions& options) {
  VIREO_CHECK(images.defined() && images.dim() >= 1, "extract_features: expects images [N, ...], got ",
              images.defined() ? describe(images) : std::string("an undefined tensor"));
  VIREO_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == images.size(0),
              "extract_features: labels must be [", images.size(0), "] (one per image), got ",
              labels.defined() ? describe(labels) : std::string("an undefined tensor"));
  VIREO_CHECK(batch_size >= 1, "extract_features: batch_size must be >= 1, got ", batch_size);
  EvalModeScope eval_mode(model);
  NoGrad no_grad;
  FeatureReader reader(model, options);
  std::vector<Tensor> features, batch_labels;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const int64_t count = std::min(batch_size, images.size(0) - start);
    features.push_back(reader.read(images.narrow(0, start, count)));
    batch_labels.push_back(labels.narrow(0, start, count));
  }
  return concatenate(features, batch_labels);
}

}  // namespace vireo::eval
