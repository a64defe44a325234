// What `vireo sample CHECKPOINT` computes: images drawn from a DDPM run's checkpoint — its model (or EMA
// model) rebuilt from the recipe stored in the checkpoint — by DDPM ancestral sampling over all T steps or
// by DDIM over S ≤ T steps, and, given a supervised classifier's checkpoint, how many of them it
// recognises:
//
//   recognisable_fraction = #{samples with max softmax(classifier(x)) > 0.5} / N
//   class_counts[k]       = #{samples whose most probable class is k}   (summing to N)
//   frechet_distance      = the Fréchet distance (training/eval/frechet.h) between the classifier's pooled
//                           features of the samples and of its dataset's first M test images (when asked)
//
// The samples' image size is the DDPM dataset's (its first test image after the test pipeline); the
// classifier sees the samples mapped back to [0, 1], (x + 1)/2, through its own recipe's test pipeline
// (its normalize, …), and must take images of that size and channel count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "training/recipe.h"

namespace vireo::training {

enum class Sampler { ddpm, ddim };

struct SamplingRequest {
  std::string checkpoint;        // a DDPM run's checkpoint.safetensors
  int64_t num = 64;              // N
  Sampler sampler = Sampler::ddim;
  int64_t steps = 50;            // DDIM's S (DDPM walks all T)
  double eta = 0.0;              // DDIM's η
  uint64_t seed = 0;             // x_T and every z come from a generator seeded with it
  int64_t class_label = -1;      // a class-conditional model: every sample of this class; −1: 0, 1, …, K−1, 0, …
  bool use_ema = true;           // sample the EMA model when the checkpoint holds one
  bool require_ema = false;      // refuse a checkpoint without an EMA model (an explicit --ema)
  int64_t batch_size = 100;      // images through a model at once
  std::string classifier;        // a classification run's checkpoint; "" : none
  int64_t frechet_images = 0;    // M > 0 (with a classifier): also the Fréchet distance to M test images
  // Called with the loaded model (eval mode) just before sampling: steering attaches its hooks here. The
  // model is discarded after sampling, hooks and all.
  std::function<void(nn::Module& model)> prepare_model = {};
};

struct SamplingResult {
  Recipe recipe;                 // the DDPM run's stored recipe
  Tensor samples;                // [N, C, H, W] f32 in [−1, 1]
  int64_t steps = 0;             // the denoising steps taken (T for DDPM)
  int64_t num_classes = 0;       // of the conditional model (0: unconditional)
  bool used_ema = false;
  double seconds = 0.0;          // the sampling's wall time
  bool classified = false;       // a classifier was given
  double recognisable_fraction = 0.0;
  std::vector<int64_t> class_counts;
  std::vector<int64_t> predicted_classes;  // per sample, the classifier's most probable class
  double frechet_distance = -1.0;          // −1 unless frechet_images > 0
};

// Checks everything it can before sampling — the checkpoint is a DDPM run's, steps in [1, T], the class
// label, the classifier's task and input size — and throws vireo::Error naming the path or option.
SamplingResult sample_checkpoint(const SamplingRequest& request);

}  // namespace vireo::training
