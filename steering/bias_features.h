// Diffusion bias features (METHODS.md §2): steering what a diffusion UNet generates through sparse
// features of its bottleneck h (the middle block's output, "h-space", [B, C, H, W]).
//
//   1. record     run the sampler with a hook on the bottleneck: h at every denoising step (recorder below)
//   2. dictionary a convolutional top-k sparse autoencoder on those h (steering/sparse_autoencoder.h)
//   3. probe      per timestep t, a linear classifier of the attribute (the class, or a class group, of the
//                 finished image) on flattened h:  logits_t(h) = W_t · vec(h) + b_t
//   4. locate     integrated gradients of the probe's probability through the decoder, per SAE feature:
//                   IG_c(z) = Σ_{i<M} ∇_z p_c(Dec(z·i/M)) ⊙ z/M        (baseline z = 0, M steps)
//                 summed over the samples of class c, the positions and the timesteps of a window; the
//                 top-N features of each class are its bias features
//   5. edit       while sampling, at the bottleneck:  z = Enc(h),  z′ = r ⊙ z + s  (r, s per sample and
//                 feature: 1 and 0 except on the features edited),  h ← h + Dec(z′) − Dec(z)
//                 where Dec(z′) − Dec(z) = W_dec (z′ − z): only the change is decoded, so with no edit
//                 (z′ = z) the change is exactly 0 and the UNet computes what it computed before
//   6. balance    per sample, draw a class with the requested proportions and scale that class's features
//                 by r (> 1): the mix of generated classes moves toward the proportions asked for
//
// Choices where METHODS.md leaves room: IG accumulates, for class c, over the samples the labels put in c
// (the features that make the probe say c where it is right); the probe of a timestep that was not
// recorded is that of the nearest recorded one; the edit applies only at timesteps in [first, last].
//
// Files: the probe and the located features are safetensors with "vireo.format" = "timestep_probe" /
// "bias_features" in "__metadata__" (formats at their save()), written atomically.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/hooks.h"
#include "engine/nn/module.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "steering/intervention.h"
#include "steering/sparse_autoencoder.h"

namespace vireo::steering {

// The bottleneck of models::UNet: the output of its second middle residual block.
inline constexpr const char* kUNetBottleneck = "middle_block2";

// Records the output of `point` at every call of `model` (a UNet called as model({x_t, t[, labels]})),
// filed under the call's timestep t (its second input; one timestep per call, as the samplers call it).
// Batches of one timestep are concatenated in the order they came: the sampler's chunks of the N samples.
class BottleneckRecorder {
 public:
  BottleneckRecorder(nn::Module& model, const std::string& point = kUNetBottleneck);
  ~BottleneckRecorder();
  BottleneckRecorder(const BottleneckRecorder&) = delete;
  BottleneckRecorder& operator=(const BottleneckRecorder&) = delete;

  void remove();  // unhooks; what was recorded stays readable
  // Timestep -> [N, C, H, W] (f32, detached), timesteps increasing.
  std::map<int64_t, Tensor> activations() const;

 private:
  int64_t timestep_ = -1;
  std::map<int64_t, std::vector<Tensor>> blocks_;
  std::vector<nn::HookHandle> hooks_;
};

// What one recording run yields, kept in a file between the steps: the bottleneck per timestep, the
// attribute label of every sample, the number of attribute classes, and free-form notes (where it came
// from). File: tensors "activations/<t>" [N, C, H, W] f32 and "labels" [N] i64; __metadata__
// "vireo.format" = "bottleneck_activations", "classes", plus the notes. Written atomically.
struct RecordedActivations {
  std::map<int64_t, Tensor> activations;
  Tensor labels;
  int64_t classes = 0;
  std::map<std::string, std::string> notes;

  void save(const std::string& path) const;
  static RecordedActivations load(const std::string& path);
};

// The linear attribute classifier per timestep (step 3), the standardization of its training folded in:
// logits_t(h) = W_t · vec(h) + b_t, W_t [K, C·H·W], b_t [K].
struct TimestepProbe {
  std::vector<int64_t> timesteps;      // increasing
  std::vector<Tensor> weights, biases;  // one per timestep
  std::vector<double> accuracy;         // held-out top-1 per timestep (training top-1 when too few samples)
  int64_t classes = 0;

  int64_t nearest(int64_t t) const;                     // index of the recorded timestep nearest t
  Tensor logits(int64_t t, const Tensor& h) const;      // h [B, C, H, W] -> [B, K], differentiable in h

  // Tensors "weight/<t>", "bias/<t>" (f32); __metadata__ "vireo.format" = "timestep_probe", "timesteps"
  // and "accuracy" (JSON lists), "classes".
  void save(const std::string& path) const;
  static TimestepProbe load(const std::string& path);
};

struct TimestepProbeOptions {
  int64_t epochs = 60;
  double learning_rate = 1e-3;   // Adam on standardized features (training/eval/linear_probe.h)
  double held_out = 0.25;        // the fraction of samples kept out to measure accuracy (the last ones)
  uint64_t seed = 0;
};

// Trains one probe per recorded timestep: activations[t] [N, C, H, W], labels [N] i64 in [0, classes).
TimestepProbe train_timestep_probe(const std::map<int64_t, Tensor>& activations, const Tensor& labels,
                                   int64_t classes, const TimestepProbeOptions& options = {});

// A differentiable function of the bottleneck: h [B, C, H, W] -> logits [B, K].
using BottleneckClassifier = std::function<Tensor(const Tensor& h)>;

// IG_c(z) above for codes z [B, F, H, W]: the per-element attributions [B, F, H, W] of class c's softmax
// probability under `classifier`, through the autoencoder's decoder, over `steps` = M points 0, 1/M, …,
// (M−1)/M of the straight path from 0 to z. Their total approximates p_c(Dec(z)) − p_c(Dec(0)) (exactly,
// as M grows: the completeness of integrated gradients).
Tensor integrated_gradients(SparseAutoencoder& autoencoder, const BottleneckClassifier& classifier, const Tensor& codes,
                            int64_t target_class, int64_t steps);

// The located features (step 4): per class, the top-N features by attribution, best first.
struct BiasFeatures {
  std::vector<std::vector<int64_t>> features;  // [class][rank] feature index
  std::vector<std::vector<double>> scores;     // [class][rank] the summed attribution
  int64_t dictionary_size = 0;                  // F of the autoencoder they index
  int64_t first_timestep = 0, last_timestep = 0;  // the window they were located over

  int64_t classes() const { return static_cast<int64_t>(features.size()); }
  // Tensors "features" [K, N] i64 and "scores" [K, N] f32; __metadata__ "vireo.format" = "bias_features",
  // "dictionary_size", "first_timestep", "last_timestep".
  void save(const std::string& path) const;
  static BiasFeatures load(const std::string& path);
};

struct LocateOptions {
  int64_t top = 10;          // N features per class
  int64_t steps = 16;        // M of integrated gradients
  int64_t first_timestep = 0;  // the window of timesteps accumulated over
  int64_t last_timestep = std::numeric_limits<int64_t>::max();
};

// Step 4 over recorded activations (timestep -> [N, C, H, W]) and the samples' labels [N] i64.
BiasFeatures locate_bias_features(SparseAutoencoder& autoencoder, const TimestepProbe& probe,
                                  const std::map<int64_t, Tensor>& activations, const Tensor& labels,
                                  const LocateOptions& options = {});

// The per-sample edit of step 5: z′ = scale ⊙ z + shift, scale and shift [N, F] (one row per sample).
struct FeatureEdit {
  Tensor scale, shift;
  int64_t first_timestep = 0, last_timestep = std::numeric_limits<int64_t>::max();
};

// Scale 1 and shift 0 everywhere except, for each sample i with choices[i] = c ≥ 0, on class c's bias
// features: scale `scale`, shift `shift` (choices[i] = −1: the sample is not edited).
FeatureEdit class_feature_edit(const BiasFeatures& located, const std::vector<int64_t>& choices, double scale,
                               double shift = 0.0);

// Step 6's draw: N classes, class c with probability proportions[c] (non-negative, summing to 1 within
// 1e-6), from `generator`.
std::vector<int64_t> draw_classes(const std::vector<double>& proportions, int64_t count, Generator& generator);

// The edit h ← h + W_dec (z′ − z) of one bottleneck batch, `edit` rows [first_row, first_row + B).
Tensor edit_bottleneck(SparseAutoencoder& autoencoder, const Tensor& h, const FeatureEdit& edit, int64_t first_row);

// Hooks the edit into a UNet at `point` for the samples of one sampling run: the N rows of `edit` are the
// N samples, which the sampler passes through the model in order at every step, in chunks of any size
// (the hook keeps count, wrapping at N). Timesteps outside the edit's window pass untouched. detach()
// removes every hook (the model is exactly as before).
AttachedIntervention attach_feature_edit(nn::Module& model, std::shared_ptr<SparseAutoencoder> autoencoder,
                                         FeatureEdit edit, const std::string& point = kUNetBottleneck);

}  // namespace vireo::steering
