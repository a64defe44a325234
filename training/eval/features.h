// Feature extraction: a model run over a whole evaluation set, in eval mode and without gradients,
// collecting one feature vector and one label per example — the input of kNN evaluation, linear probes and
// test accuracy (a classifier's logits are its "features").
//
// Where the features come from:
//   FeatureSource::output     the model's output, (*model)(images)
//   FeatureSource::backbone   models::Backbone::forward_features(images): the pooled pre-logits vector
//   FeatureSource::module     the output of the submodule at a dotted path ("avgpool", "blocks.11"), read by
//                             a forward hook that is removed afterwards (also when an error escapes)
// Each is flattened to [B, D] per batch (an [B, 512, 1, 1] avgpool output becomes [B, 512]).
//
// The model's train/eval mode is restored afterwards, module by module.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "training/data/loader.h"

namespace vireo::eval {

enum class FeatureSource { output, backbone, module };

struct FeatureOptions {
  FeatureSource source = FeatureSource::output;
  std::string module_path = {};  // FeatureSource::module only: the submodule whose output is read
  int64_t view = 0;              // which of the loader's views is fed to the model
};

// N examples: features [N, D] f32 and labels [N] i64, in the order the examples were seen.
struct FeatureSet {
  Tensor features;
  Tensor labels;
  int64_t size() const { return features.defined() ? features.size(0) : 0; }
};

// One pass over epoch 0 of `loader`: the loader is moved to its start (seek({0, 0})) and every batch of that
// epoch is read, so an evaluation loader (shuffle off, no random transforms) gives the same set every
// time. The loader is left at the start of epoch 1.
FeatureSet extract_features(nn::Module& model, data::DataLoader& loader, const FeatureOptions& options = {});

// The same over a dataset, examples 0 … N−1 in order, each through `pipeline` (say, Normalize), batched and
// loaded as `loader_options` say (batch_size, workers; shuffle and drop_last are turned off).
FeatureSet extract_features(nn::Module& model, std::shared_ptr<const data::Dataset> dataset,
                            const data::Pipeline& pipeline, data::LoaderOptions loader_options,
                            const FeatureOptions& options = {});

// The same over images already in memory, [N, C, H, W] with labels [N] i64, fed `batch_size` at a time.
FeatureSet extract_features(nn::Module& model, const Tensor& images, const Tensor& labels, int64_t batch_size,
                            const FeatureOptions& options = {});

}  // namespace vireo::eval
