// Neuron paths in a ViT (steering/neuron_path.h): class-token activations, the joint-influence scores by
// integrated gradients, the layer-progressive search and its baselines, ablation and enhancement hooks,
// and the JSON file.
#include "steering/neuron_path.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "steering/points.h"

namespace vireo::steering {

namespace {

// The module whose output holds block `layer`'s MLP hidden activations after the GELU.
std::string activation_point(int64_t layer) { return "blocks." + std::to_string(layer) + ".mlp.act"; }

// H, as the Block builds its MLP: int(D · mlp_ratio), truncating (timm).
int64_t hidden_width(const models::VisionTransformer& model) {
  return static_cast<int64_t>(static_cast<double>(model.width) * model.options.mlp_ratio);
}

void check_class_token(const models::VisionTransformer& model, const char* operation) {
  VIREO_CHECK(model.options.pooling == models::Pooling::cls, operation,
              ": neuron paths live at the class token, and this ViT pools by the mean of its tokens (no class token)");
}

void check_label(const models::VisionTransformer& model, int64_t label, const char* operation) {
  VIREO_CHECK(model.num_classes() > 0 && label >= 0 && label < model.num_classes(), operation, ": label ", label,
              " is not a class of a model with ", model.num_classes(), " classes");
}

// A hooked activation output [N, T, H] with its class-token row [N, H] replaced by `row`.
Tensor with_class_token(const Tensor& output, const Tensor& row, const std::string& point) {
  VIREO_CHECK(output.dim() == 3 && row.dim() == 2 && output.size(0) == row.size(0) && output.size(2) == row.size(1),
              "neuron path: the output of ", point, " is ", describe(output), ", expected [N, T, H] for a class-token row ",
              describe(row));
  return cat({row.unsqueeze(1), output.narrow(1, 1, output.size(1) - 1)}, 1);
}

// ones(H) with entry `unit` set to `value`, in the dtype and on the device of `like`.
Tensor one_hot_scale(int64_t units, int64_t unit, double value, const Tensor& like) {
  std::vector<double> scale(static_cast<size_t>(units), 1.0);
  scale[static_cast<size_t>(unit)] = value;
  return Tensor::from_vector(scale, {units}, {.dtype = like.dtype()}).to(like.device());
}

// A fresh leaf holding the values of `x`, recording gradients.
Tensor gradient_leaf(const Tensor& x) {
  Tensor leaf = x.detach().clone();
  leaf.requires_grad_();
  return leaf;
}

int64_t first_argmax(const std::vector<double>& values) {
  int64_t best = 0;
  for (size_t j = 1; j < values.size(); ++j)
    if (values[j] > values[static_cast<size_t>(best)]) best = static_cast<int64_t>(j);
  return best;
}

// The mean over images of each unit's activation: [N, H] -> H values.
std::vector<double> mean_activation(const Tensor& activations) { return activations.mean({0}).to_vector(); }

NeuronPath path_of(const std::string& method, int64_t label, std::vector<int64_t> neurons, std::vector<double> scores) {
  NeuronPath path;
  path.method = method;
  path.label = label;
  for (size_t layer = 0; layer < neurons.size(); ++layer) path.layers.push_back(static_cast<int64_t>(layer));
  path.neurons = std::move(neurons);
  path.scores = std::move(scores);
  return path;
}

// ---- the file ----

using json = nlohmann::ordered_json;  // keys in the order written: "class" first

json path_to_json(const NeuronPath& path) {
  json object = {{"class", path.label},   {"method", path.method}, {"layers", path.layers},
                 {"neurons", path.neurons}, {"scores", path.scores}};
  if (path.effect)
    object["effect"] = {{"images", path.effect->images},
                        {"label_probability", path.effect->clean_probability},
                        {"ablated_label_probability", path.effect->ablated_probability},
                        {"probability_drop", path.effect->ablation_drop()},
                        {"enhancement_factor", path.effect->enhancement_factor},
                        {"enhanced_label_probability", path.effect->enhanced_probability}};
  return object;
}

NeuronPath path_from_json(const json& object, const std::string& file) {
  NeuronPath path;
  path.label = object.at("class").get<int64_t>();
  path.method = object.at("method").get<std::string>();
  path.layers = object.at("layers").get<std::vector<int64_t>>();
  path.neurons = object.at("neurons").get<std::vector<int64_t>>();
  path.scores = object.at("scores").get<std::vector<double>>();
  VIREO_CHECK(path.layers.size() == path.neurons.size() && path.scores.size() == path.neurons.size(), file,
              ": a neuron path needs as many layers, neurons and scores, got ", path.layers.size(), ", ",
              path.neurons.size(), " and ", path.scores.size());
  if (object.contains("effect")) {
    const json& effect = object.at("effect");
    path.effect = PathEffect{.images = effect.at("images").get<int64_t>(),
                             .clean_probability = effect.at("label_probability").get<double>(),
                             .ablated_probability = effect.at("ablated_label_probability").get<double>(),
                             .enhancement_factor = effect.at("enhancement_factor").get<double>(),
                             .enhanced_probability = effect.at("enhanced_label_probability").get<double>()};
  }
  return path;
}

}  // namespace

void NeuronPathReport::save(const std::string& file) const {
  json document = path_to_json(path);
  document["settings"] = settings;
  document["baselines"] = json::array();
  for (const NeuronPath& baseline : baselines) document["baselines"].push_back(path_to_json(baseline));
  const std::string temporary = file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    out << document.dump(2) << "\n";
    if (!out.flush()) {
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
      fail("cannot write the neuron path file ", file, " (through ", temporary, ")");
    }
  }
  std::error_code failure;
  std::filesystem::rename(temporary, file, failure);
  VIREO_CHECK(!failure, "cannot write the neuron path file ", file, ": ", failure.message());
}

NeuronPathReport NeuronPathReport::load(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  VIREO_CHECK(in.good(), "cannot read the neuron path file ", file);
  NeuronPathReport report;
  try {
    const json document = json::parse(in);
    report.path = path_from_json(document, file);
    if (document.contains("settings")) report.settings = document.at("settings").get<std::map<std::string, std::string>>();
    if (document.contains("baselines"))
      for (const json& baseline : document.at("baselines")) report.baselines.push_back(path_from_json(baseline, file));
  } catch (const json::exception& error) {
    fail(file, ": not a neuron path file (", error.what(), ")");
  }
  return report;
}

std::vector<Tensor> class_token_activations(models::VisionTransformer& model, const Tensor& images) {
  check_class_token(model, "class_token_activations");
  EvalMode eval_mode(model);
  NoGrad no_grad;
  std::vector<Tensor> activations(static_cast<size_t>(model.depth));
  {
    ScopedHooks hooks;
    for (int64_t layer = 0; layer < model.depth; ++layer)
      hooks.add(model.register_forward_hook(activation_point(layer), [&activations, layer](const Tensor& output) {
        activations[static_cast<size_t>(layer)] = output.select(1, 0).clone();
      }));
    model(images);
  }
  return activations;
}

std::vector<double> joint_influence_scores(models::VisionTransformer& model, const Tensor& images, int64_t label,
                                           const std::vector<Tensor>& activations,
                                           const std::vector<int64_t>& chosen, int64_t steps) {
  check_class_token(model, "joint_influence_scores");
  check_label(model, label, "joint_influence_scores");
  const int64_t layer = static_cast<int64_t>(chosen.size());
  const int64_t units = hidden_width(model);
  VIREO_CHECK(steps > 0, "joint_influence_scores: steps must be positive, got ", steps);
  VIREO_CHECK(layer < model.depth, "joint_influence_scores: ", layer, " neurons chosen leave no block to score in a ",
              model.depth, "-block ViT");
  VIREO_CHECK(static_cast<int64_t>(activations.size()) == model.depth,
              "joint_influence_scores: expects one activation table per block (", model.depth, "), got ",
              activations.size());
  for (int64_t k = 0; k < layer; ++k)
    VIREO_CHECK(chosen[k] >= 0 && chosen[k] < units, "joint_influence_scores: neuron ", chosen[k], " of block ", k,
                " is not one of its ", units, " MLP units");

  EvalMode eval_mode(model);
  FrozenParameters frozen(model);
  // Σ_i g_k(i) for the replaced blocks k = 0 … layer, each [N, H].
  std::vector<Tensor> gradient_sums(static_cast<size_t>(layer + 1));
  for (int64_t step = 0; step < steps; ++step) {
    const double fraction = static_cast<double>(step) / static_cast<double>(steps);
    // v_k = b_k + (a_k − b_k)·i/m: for k < layer only n_k moves (from 0); for `layer` the whole vector.
    std::vector<Tensor> replaced(static_cast<size_t>(layer + 1));
    for (int64_t k = 0; k < layer; ++k) {
      NoGrad no_grad;
      const Tensor& clean = activations[k];
      replaced[k] = gradient_leaf(clean * one_hot_scale(units, chosen[k], fraction, clean));
    }
    {
      NoGrad no_grad;
      replaced[layer] = gradient_leaf(activations[layer] * fraction);
    }
    Tensor probability;
    {
      ScopedHooks hooks;
      for (int64_t k = 0; k <= layer; ++k)
        hooks.add(model.register_forward_hook(activation_point(k), [&replaced, k](const Tensor& output) {
          return with_class_token(output, replaced[k], activation_point(k));
        }));
      // The images are independent, so the gradient of the summed probabilities with respect to image b's
      // vectors is the gradient of p_y(b) alone.
      probability = softmax(model(images), 1).select(1, label).sum();
    }
    probability.backward();
    NoGrad no_grad;
    for (int64_t k = 0; k <= layer; ++k) {
      const Tensor gradient = replaced[k].grad();
      gradient_sums[k] = gradient_sums[k].defined() ? gradient_sums[k] + gradient : gradient.clone();
    }
  }

  // Per image b: JA_b(j) = [G_l(b, j) + Σ_k G_k(b, n_k)] · [a_l(b, j) + Σ_k a_k(b, n_k)] / m; then the mean.
  const int64_t count = images.size(0);
  const std::vector<double> layer_gradients = gradient_sums[layer].to_vector();
  const std::vector<double> layer_activations = activations[layer].to_vector();
  std::vector<double> path_gradient(static_cast<size_t>(count), 0.0), path_activation(static_cast<size_t>(count), 0.0);
  for (int64_t k = 0; k < layer; ++k) {
    const std::vector<double> gradients = gradient_sums[k].select(1, chosen[k]).to_vector();
    const std::vector<double> values = activations[k].select(1, chosen[k]).to_vector();
    for (int64_t b = 0; b < count; ++b) {
      path_gradient[b] += gradients[b];
      path_activation[b] += values[b];
    }
  }
  std::vector<double> scores(static_cast<size_t>(units), 0.0);
  for (int64_t b = 0; b < count; ++b)
    for (int64_t j = 0; j < units; ++j)
      scores[j] += (layer_gradients[b * units + j] + path_gradient[b]) *
                   (layer_activations[b * units + j] + path_activation[b]) / static_cast<double>(steps);
  for (double& score : scores) score /= static_cast<double>(count);
  return scores;
}

NeuronPath find_neuron_path(models::VisionTransformer& model, const Tensor& images, int64_t label, int64_t steps) {
  const std::vector<Tensor> activations = class_token_activations(model, images);
  std::vector<int64_t> neurons;
  std::vector<double> chosen_scores;
  for (int64_t layer = 0; layer < model.depth; ++layer) {
    const std::vector<double> scores = joint_influence_scores(model, images, label, activations, neurons, steps);
    const int64_t best = first_argmax(scores);
    neurons.push_back(best);
    chosen_scores.push_back(scores[best]);
  }
  return path_of("joint_influence", label, std::move(neurons), std::move(chosen_scores));
}

NeuronPath argmax_neuron_path(models::VisionTransformer& model, const Tensor& images, int64_t label) {
  check_label(model, label, "argmax_neuron_path");
  std::vector<int64_t> neurons;
  std::vector<double> scores;
  for (const Tensor& activations : class_token_activations(model, images)) {
    const std::vector<double> means = mean_activation(activations);
    neurons.push_back(first_argmax(means));
    scores.push_back(means[neurons.back()]);
  }
  return path_of("argmax", label, std::move(neurons), std::move(scores));
}

NeuronPath random_neuron_path(models::VisionTransformer& model, const Tensor& images, int64_t label, uint64_t seed) {
  check_label(model, label, "random_neuron_path");
  Generator generator(seed);
  const std::vector<double> drawn = randint(0, hidden_width(model), {model.depth}, {.dtype = DType::i64}, &generator).to_vector();
  const std::vector<Tensor> activations = class_token_activations(model, images);
  std::vector<int64_t> neurons;
  std::vector<double> scores;
  for (int64_t layer = 0; layer < model.depth; ++layer) {
    neurons.push_back(static_cast<int64_t>(drawn[layer]));
    scores.push_back(mean_activation(activations[layer])[neurons.back()]);
  }
  return path_of("random", label, std::move(neurons), std::move(scores));
}

AttachedIntervention attach_neuron_path(models::VisionTransformer& model, const NeuronPath& path, double factor) {
  check_class_token(model, "attach_neuron_path");
  VIREO_CHECK(path.layers.size() == path.neurons.size(), "attach_neuron_path: ", path.layers.size(), " layers but ",
              path.neurons.size(), " neurons");
  const int64_t units = hidden_width(model);
  std::vector<nn::HookHandle> hooks;
  for (size_t i = 0; i < path.layers.size(); ++i) {
    const int64_t layer = path.layers[i], neuron = path.neurons[i];
    VIREO_CHECK(layer >= 0 && layer < model.depth, "attach_neuron_path: layer ", layer, " is not a block of a ",
                model.depth, "-block ViT");
    VIREO_CHECK(neuron >= 0 && neuron < units, "attach_neuron_path: neuron ", neuron, " of block ", layer,
                " is not one of its ", units, " MLP units");
    hooks.push_back(model.register_forward_hook(activation_point(layer), [layer, neuron, units, factor](const Tensor& output) {
      const std::string point = activation_point(layer);
      VIREO_CHECK(output.dim() == 3 && output.size(2) == units, "attach_neuron_path: the output of ", point, " is ",
                  describe(output), ", expected [N, T, ", units, "]");
      // Only (class token, neuron) changes; every other element is multiplied by exactly 1 or not touched.
      return with_class_token(output, output.select(1, 0) * one_hot_scale(units, neuron, factor, output), point);
    }));
  }
  return AttachedIntervention(std::move(hooks));
}

double mean_label_probability(nn::Module& model, const Tensor& images, int64_t label) {
  EvalMode eval_mode(model);
  NoGrad no_grad;
  const Tensor logits = model(images);
  VIREO_CHECK(logits.dim() == 2 && label >= 0 && label < logits.size(1), "mean_label_probability: label ", label,
              " is not a class of logits ", describe(logits));
  return softmax(logits, 1).select(1, label).mean().item();
}

PathEffect measure_path_effect(models::VisionTransformer& model, const NeuronPath& path, const Tensor& images,
                               double enhancement_factor) {
  // Each measurement under its own attachment, detached however the measurement ends.
  const auto probability_with = [&](double factor) {
    AttachedIntervention attached = attach_neuron_path(model, path, factor);
    try {
      const double probability = mean_label_probability(model, images, path.label);
      attached.detach();
      return probability;
    } catch (...) {
      attached.detach();
      throw;
    }
  };
  PathEffect effect{.images = images.size(0), .enhancement_factor = enhancement_factor};
  effect.clean_probability = mean_label_probability(model, images, path.label);
  effect.ablated_probability = probability_with(0.0);
  effect.enhanced_probability = probability_with(enhancement_factor);
  return effect;
}

}  // namespace vireo::steering
