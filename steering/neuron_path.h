// Neuron paths in a Vision Transformer: one MLP neuron per block, found layer by layer by their *joint*
// influence on the label probability (after "Discovering Influential Neuron Path in Vision Transformers").
//
// Units: the hidden activations of each block's MLP after the GELU (the module "blocks.l.mlp.act"), at the
// class token only: a_l ∈ R^H for block l (H = D·mlp_ratio). Target: p_y, the softmax probability of the
// label y. A path is n_0, …, n_{L−1}, one neuron per block.
//
// Joint influence (integrated gradients over the path so far). With n_0 … n_{l−1} chosen, the class-token
// vectors of blocks 0 … l are *replaced* by interpolations from a baseline b_k to the clean a_k,
//
//   v_k(i) = b_k + (a_k − b_k)·i/m,   i = 0 … m−1   (m = 20 steps, one forward and backward pass each)
//   b_k    = a_k with only n_k zeroed   (k < l)          b_l = 0   (every candidate j of layer l at once)
//
// and g_k(i) = ∂p_y/∂v_k at step i. The score of candidate j of layer l is
//
//   JA(j) = [Σ_i (g_{l,j}(i) + Σ_{k<l} g_{k,n_k}(i))] · [a_{l,j}/m + Σ_{k<l} a_{k,n_k}/m]
//
// and the layer-progressive search picks n_l = argmax_j JA(j) (the lowest index among ties), then goes on
// to layer l + 1. Over several images of the class, JA is computed per image and averaged.
//
// Baselines: the activation-argmax path (per block the neuron with the largest mean class-token activation)
// and random paths (one uniform neuron per block, from a seeded generator).
//
// Ablation and enhancement multiply the path's neurons, at the class token only, by a factor (0: ablation;
// > 1: enhancement) through forward hooks on "blocks.l.mlp.act"; detaching removes them, and the model
// computes exactly what it did before. The property the method promises: ablating the found path lowers the
// label probability more than ablating the argmax path or random paths of the same length.
//
// File format: JSON, written atomically —
//   {"class": y, "method": "joint_influence", "layers": [0, 1, …], "neurons": [n_0, …], "scores": [JA, …],
//    "settings": {…}, "effect": {…}, "baselines": [{"method": "argmax", …}, {"method": "random", …}, …]}
// where "effect" (when measured) holds the mean label probability of the evaluation images clean, with the
// path ablated and with it enhanced.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "models/vit.h"
#include "steering/intervention.h"

namespace vireo::steering {

// The mean label probability over some images, clean, with a path's neurons set to 0 and with them scaled
// by `enhancement_factor`.
struct PathEffect {
  int64_t images = 0;
  double clean_probability = 0.0;
  double ablated_probability = 0.0;
  double enhancement_factor = 2.0;
  double enhanced_probability = 0.0;

  double ablation_drop() const { return clean_probability - ablated_probability; }
};

struct NeuronPath {
  std::string method;            // "joint_influence", "argmax" or "random"
  int64_t label = 0;             // the class y whose probability the path carries
  std::vector<int64_t> layers;   // block indices, 0 … L−1
  std::vector<int64_t> neurons;  // the neuron of each of those blocks
  // joint_influence: JA(n_l) when n_l was chosen; argmax and random: the mean activation of n_l.
  std::vector<double> scores;
  std::optional<PathEffect> effect = std::nullopt;
};

// A found path with the baselines it is compared with and the settings of the search, as in the file.
struct NeuronPathReport {
  NeuronPath path;
  std::vector<NeuronPath> baselines = {};
  std::map<std::string, std::string> settings = {};

  void save(const std::string& file) const;  // atomic; an Error naming the file when it cannot be written
  static NeuronPathReport load(const std::string& file);  // an Error naming the file when it is not one
};

// The clean class-token MLP activations of `images`, one [N, H] tensor per block (in the images' dtype).
// The model must pool by its class token.
std::vector<Tensor> class_token_activations(models::VisionTransformer& model, const Tensor& images);

// JA(j) for every candidate j of block `chosen.size()`, given the neurons already chosen in the blocks
// before it, averaged over `images` ([H] values). `activations` are class_token_activations(model, images).
std::vector<double> joint_influence_scores(models::VisionTransformer& model, const Tensor& images, int64_t label,
                                           const std::vector<Tensor>& activations,
                                           const std::vector<int64_t>& chosen, int64_t steps = 20);

// The layer-progressive search: n_l = argmax_j JA(j) for l = 0 … L−1.
NeuronPath find_neuron_path(models::VisionTransformer& model, const Tensor& images, int64_t label,
                            int64_t steps = 20);
// Per block the neuron with the largest mean class-token activation over `images`.
NeuronPath argmax_neuron_path(models::VisionTransformer& model, const Tensor& images, int64_t label);
// One uniformly drawn neuron per block; scores are their mean activations over `images`.
NeuronPath random_neuron_path(models::VisionTransformer& model, const Tensor& images, int64_t label,
                              uint64_t seed);

// Multiplies the path's neurons at the class token by `factor` (0 ablates) until detached.
AttachedIntervention attach_neuron_path(models::VisionTransformer& model, const NeuronPath& path, double factor);

// The mean softmax probability of `label` over `images` (eval mode, no gradient).
double mean_label_probability(nn::Module& model, const Tensor& images, int64_t label);
// The label probability of `images` clean, with the path ablated and with it scaled by enhancement_factor.
PathEffect measure_path_effect(models::VisionTransformer& model, const NeuronPath& path, const Tensor& images,
                               double enhancement_factor = 2.0);

}  // namespace vireo::steering
