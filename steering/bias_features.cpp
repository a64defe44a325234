// Diffusion bias features (steering/bias_features.h): the bottleneck recorder, the per-timestep probe,
// integrated gradients through the sparse autoencoder's decoder, locating each class's features, and the
// decode-only-the-change edit hooked into sampling.
#include "steering/bias_features.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "steering/points.h"
#include "training/eval/linear_probe.h"

namespace vireo::steering {

namespace {

// The timestep of a UNet call: the first entry of its second input t [N] (the samplers give every row the
// same t). −1 when the call has no timestep input.
int64_t timestep_of(const std::vector<Tensor>& inputs) {
  if (inputs.size() < 2 || !inputs[1].defined() || inputs[1].numel() == 0) return -1;
  return static_cast<int64_t>(inputs[1].reshape({-1}).narrow(0, 0, 1).item());
}

const std::string& metadata_entry(const io::SafetensorsFile& file, const std::string& path, const char* format,
                                  const char* key) {
  auto found = file.metadata.find(key);
  VIREO_CHECK(found != file.metadata.end(), path, ": not a Vireo ", format, " file (no '", key, "' in __metadata__)");
  return found->second;
}

void check_format(const io::SafetensorsFile& file, const std::string& path, const char* format) {
  const std::string& name = metadata_entry(file, path, format, "vireo.format");
  VIREO_CHECK(name == format, path, ": not a Vireo ", format, " file (vireo.format is '", name, "')");
}

const Tensor& tensor_entry(const io::SafetensorsFile& file, const std::string& path, const std::string& name) {
  auto found = file.tensors.find(name);
  VIREO_CHECK(found != file.tensors.end(), path, ": has no tensor '", name, "'");
  return found->second;
}

int64_t parse_integer(const std::string& text, const std::string& path, const char* key) {
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  fail(path, ": __metadata__ '", key, "' is '", text, "', not an integer");
}

// Gradient recording on for a scope (integrated gradients may be asked for from inside a NoGrad scope).
class GradientsOn {
 public:
  GradientsOn() : previous_(grad_enabled()) { set_grad_enabled(true); }
  ~GradientsOn() { set_grad_enabled(previous_); }
  GradientsOn(const GradientsOn&) = delete;
  GradientsOn& operator=(const GradientsOn&) = delete;

 private:
  bool previous_;
};

}  // namespace

// ---- 1. recording ----

BottleneckRecorder::BottleneckRecorder(nn::Module& model, const std::string& point) {
  model.find(point);  // the point exists, or an Error naming it
  hooks_.push_back(model.register_forward_pre_hook([this](const std::vector<Tensor>& inputs) {
    timestep_ = timestep_of(inputs);
  }));
  hooks_.push_back(model.register_forward_hook(point, [this](const Tensor& output) {
    blocks_[timestep_].push_back(output.detach().to(DType::f32).contiguous());
  }));
}

BottleneckRecorder::~BottleneckRecorder() { remove(); }

void BottleneckRecorder::remove() {
  for (nn::HookHandle& hook : hooks_) hook.remove();
  hooks_.clear();
}

std::map<int64_t, Tensor> BottleneckRecorder::activations() const {
  std::map<int64_t, Tensor> result;
  for (const auto& [t, blocks] : blocks_) result[t] = blocks.size() == 1 ? blocks[0] : cat(blocks, 0);
  return result;
}

void RecordedActivations::save(const std::string& path) const {
  VIREO_CHECK(!activations.empty() && labels.defined(), "RecordedActivations::save: nothing recorded (", path, ")");
  StateDict tensors{{"labels", labels.to(DType::i64)}};
  for (const auto& [t, h] : activations) tensors["activations/" + std::to_string(t)] = h.to(DType::f32);
  io::SafetensorsMetadata metadata(notes.begin(), notes.end());
  metadata["vireo.format"] = "bottleneck_activations";
  metadata["classes"] = std::to_string(classes);
  io::save_safetensors(path, tensors, metadata);
}

RecordedActivations RecordedActivations::load(const std::string& path) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  check_format(file, path, "bottleneck_activations");
  RecordedActivations recorded;
  recorded.classes = parse_integer(metadata_entry(file, path, "bottleneck_activations", "classes"), path, "classes");
  recorded.labels = tensor_entry(file, path, "labels");
  VIREO_CHECK(recorded.labels.dim() == 1, path, ": 'labels' must be [N], got ", describe(recorded.labels));
  const std::string prefix = "activations/";
  for (const auto& [name, tensor] : file.tensors) {
    if (name.rfind(prefix, 0) != 0) continue;
    const int64_t t = parse_integer(name.substr(prefix.size()), path, name.c_str());
    VIREO_CHECK(tensor.dim() == 4 && tensor.size(0) == recorded.labels.size(0), path, ": '", name, "' is ",
                describe(tensor), " but there are ", recorded.labels.size(0), " labels");
    recorded.activations[t] = tensor;
  }
  VIREO_CHECK(!recorded.activations.empty(), path, ": holds no 'activations/<t>' tensors");
  for (const auto& [key, value] : file.metadata)
    if (key != "vireo.format" && key != "classes") recorded.notes[key] = value;
  return recorded;
}

// ---- 3. the probe ----

int64_t TimestepProbe::nearest(int64_t t) const {
  VIREO_CHECK(!timesteps.empty(), "TimestepProbe: holds no timesteps");
  size_t best = 0;
  for (size_t i = 1; i < timesteps.size(); ++i)
    if (std::llabs(timesteps[i] - t) < std::llabs(timesteps[best] - t)) best = i;
  return static_cast<int64_t>(best);
}

Tensor TimestepProbe::logits(int64_t t, const Tensor& h) const {
  const size_t index = static_cast<size_t>(nearest(t));
  const Tensor& weight = weights[index];
  VIREO_CHECK(h.defined() && h.dim() == 4 && h.numel() / h.size(0) == weight.size(1), "TimestepProbe: expects h [B, C, H, W] with C·H·W = ",
              weight.size(1), ", got ", h.defined() ? describe(h) : "an undefined tensor");
  return linear(h.flatten(1), weight.to(h.dtype()), biases[index].to(h.dtype()));
}

TimestepProbe train_timestep_probe(const std::map<int64_t, Tensor>& activations, const Tensor& labels,
                                   int64_t classes, const TimestepProbeOptions& options) {
  VIREO_CHECK(!activations.empty(), "train_timestep_probe: no recorded activations");
  VIREO_CHECK(labels.defined() && labels.dim() == 1, "train_timestep_probe: labels must be [N], got ",
              labels.defined() ? describe(labels) : "an undefined tensor");
  VIREO_CHECK(classes >= 2, "train_timestep_probe: needs at least 2 classes, got ", classes);
  VIREO_CHECK(options.held_out >= 0.0 && options.held_out < 1.0, "train_timestep_probe: held_out must lie in [0, 1), got ",
              options.held_out);
  const int64_t count = labels.size(0);
  const int64_t held_out = static_cast<int64_t>(std::floor(options.held_out * static_cast<double>(count)));
  // Too few samples to keep some out: train and measure on all of them.
  const bool split = held_out >= 1 && count - held_out >= 2;
  const int64_t train_count = split ? count - held_out : count;
  const Tensor label_ids = labels.to(DType::i64);

  TimestepProbe probe;
  probe.classes = classes;
  for (const auto& [t, h] : activations) {
    VIREO_CHECK(h.dim() == 4 && h.size(0) == count, "train_timestep_probe: activations at t = ", t, " are ",
                describe(h), " but there are ", count, " labels");
    const Tensor features = h.detach().to(DType::f32).flatten(1);
    const Tensor train_features = features.narrow(0, 0, train_count), train_labels = label_ids.narrow(0, 0, train_count);
    const Tensor test_features = split ? features.narrow(0, train_count, held_out) : train_features;
    const Tensor test_labels = split ? label_ids.narrow(0, train_count, held_out) : train_labels;
    const eval::LinearProbeResult result =
        eval::linear_probe(train_features, train_labels, test_features, test_labels,
                           {.epochs = options.epochs, .batch_size = 64, .optimizer = eval::ProbeOptimizer::adam,
                            .lr = options.learning_rate, .standardize = true, .seed = options.seed,
                            .num_classes = classes});
    // Fold the standardization into the layer: W((x − μ)/σ) + b = (W/σ)x + (b − (W/σ)μ).
    NoGrad no_grad;
    const Tensor weight = result.classifier->weight.detach() / result.feature_std.unsqueeze(0);
    const Tensor bias = result.classifier->bias.detach() - matmul(weight, result.feature_mean.unsqueeze(1)).squeeze(1);
    probe.timesteps.push_back(t);
    probe.weights.push_back(weight.contiguous());
    probe.biases.push_back(bias.contiguous());
    probe.accuracy.push_back(result.test_top1);
  }
  return probe;
}

void TimestepProbe::save(const std::string& path) const {
  StateDict tensors;
  for (size_t i = 0; i < timesteps.size(); ++i) {
    tensors["weight/" + std::to_string(timesteps[i])] = weights[i].to(DType::f32);
    tensors["bias/" + std::to_string(timesteps[i])] = biases[i].to(DType::f32);
  }
  io::save_safetensors(path, tensors,
                       {{"vireo.format", "timestep_probe"},
                        {"timesteps", nlohmann::json(timesteps).dump()},
                        {"accuracy", nlohmann::json(accuracy).dump()},
                        {"classes", std::to_string(classes)}});
}

TimestepProbe TimestepProbe::load(const std::string& path) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  check_format(file, path, "timestep_probe");
  TimestepProbe probe;
  try {
    probe.timesteps = nlohmann::json::parse(metadata_entry(file, path, "timestep_probe", "timesteps")).get<std::vector<int64_t>>();
    probe.accuracy = nlohmann::json::parse(metadata_entry(file, path, "timestep_probe", "accuracy")).get<std::vector<double>>();
  } catch (const nlohmann::json::exception& error) {
    fail(path, ": malformed timestep_probe metadata (", error.what(), ")");
  }
  probe.classes = parse_integer(metadata_entry(file, path, "timestep_probe", "classes"), path, "classes");
  VIREO_CHECK(!probe.timesteps.empty() && probe.accuracy.size() == probe.timesteps.size(), path,
              ": __metadata__ 'timesteps' and 'accuracy' must be non-empty lists of one length");
  for (int64_t t : probe.timesteps) {
    const Tensor& weight = tensor_entry(file, path, "weight/" + std::to_string(t));
    const Tensor& bias = tensor_entry(file, path, "bias/" + std::to_string(t));
    VIREO_CHECK(weight.dim() == 2 && weight.size(0) == probe.classes && bias.dim() == 1 && bias.size(0) == probe.classes,
                path, ": probe at t = ", t, " has weight ", describe(weight), " and bias ", describe(bias), " for ",
                probe.classes, " classes");
    probe.weights.push_back(weight);
    probe.biases.push_back(bias);
  }
  return probe;
}

// ---- 4. attribution and locating ----

Tensor integrated_gradients(SparseAutoencoder& autoencoder, const BottleneckClassifier& classifier, const Tensor& codes,
                            int64_t target_class, int64_t steps) {
  VIREO_CHECK(steps >= 1, "integrated_gradients: steps must be at least 1, got ", steps);
  VIREO_CHECK(codes.defined() && codes.dim() == 4 && codes.size(1) == autoencoder.features,
              "integrated_gradients: expects codes [B, ", autoencoder.features, ", H, W], got ",
              codes.defined() ? describe(codes) : "an undefined tensor");
  FrozenParameters frozen(autoencoder);
  GradientsOn gradients_on;
  const Tensor end = codes.detach();
  Tensor gradient_sum = zeros_like(end);
  for (int64_t i = 0; i < steps; ++i) {
    // The point z·i/M of the straight path from the baseline 0 to z, as a leaf that takes a gradient.
    Tensor point = (end * (static_cast<double>(i) / static_cast<double>(steps))).detach();
    point.requires_grad_();
    const Tensor logits = classifier(autoencoder.decode(point));
    VIREO_CHECK(logits.dim() == 2 && target_class >= 0 && target_class < logits.size(1),
                "integrated_gradients: class ", target_class, " is not a column of the classifier's logits ",
                describe(logits));
    // Samples are independent: the gradient of the summed probabilities is each sample's own gradient.
    softmax(logits, 1).select(1, target_class).sum().backward();
    gradient_sum = gradient_sum + point.grad();
  }
  return gradient_sum * end / static_cast<double>(steps);
}

BiasFeatures locate_bias_features(SparseAutoencoder& autoencoder, const TimestepProbe& probe,
                                  const std::map<int64_t, Tensor>& activations, const Tensor& labels,
                                  const LocateOptions& options) {
  VIREO_CHECK(options.top >= 1 && options.first_timestep <= options.last_timestep,
              "locate_bias_features: needs top >= 1 and first_timestep <= last_timestep, got top ", options.top, ", [",
              options.first_timestep, ", ", options.last_timestep, "]");
  const int64_t classes = probe.classes;
  const std::vector<double> label_values = labels.to_vector();
  std::vector<Tensor> totals(static_cast<size_t>(classes), zeros({autoencoder.features}));
  int64_t timesteps_used = 0;
  for (const auto& [t, h] : activations) {
    if (t < options.first_timestep || t > options.last_timestep) continue;
    VIREO_CHECK(h.size(0) == static_cast<int64_t>(label_values.size()), "locate_bias_features: activations at t = ", t,
                " are ", describe(h), " but there are ", label_values.size(), " labels");
    ++timesteps_used;
    Tensor codes;
    {
      NoGrad no_grad;
      codes = autoencoder.encode(h.to(DType::f32));
    }
    const int64_t t_now = t;
    const BottleneckClassifier classifier = [&probe, t_now](const Tensor& bottleneck) { return probe.logits(t_now, bottleneck); };
    for (int64_t c = 0; c < classes; ++c) {
      std::vector<double> rows;
      for (size_t i = 0; i < label_values.size(); ++i)
        if (static_cast<int64_t>(label_values[i]) == c) rows.push_back(static_cast<double>(i));
      if (rows.empty()) continue;
      const Tensor selected = index_select(codes, 0, Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}, {.dtype = DType::i64}));
      const Tensor attribution = integrated_gradients(autoencoder, classifier, selected, c, options.steps);
      totals[static_cast<size_t>(c)] = totals[static_cast<size_t>(c)] + attribution.sum({0, 2, 3}).detach();
    }
  }
  VIREO_CHECK(timesteps_used > 0, "locate_bias_features: no recorded timestep lies in [", options.first_timestep, ", ",
              options.last_timestep, "]");

  BiasFeatures located;
  located.dictionary_size = autoencoder.features;
  located.first_timestep = std::max(options.first_timestep, activations.begin()->first);
  located.last_timestep = std::min(options.last_timestep, activations.rbegin()->first);
  const int64_t top = std::min(options.top, autoencoder.features);
  for (int64_t c = 0; c < classes; ++c) {
    const std::vector<double> scores = totals[static_cast<size_t>(c)].to_vector();
    std::vector<int64_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return scores[a] > scores[b]; });
    order.resize(static_cast<size_t>(top));
    std::vector<double> best;
    for (int64_t feature : order) best.push_back(scores[static_cast<size_t>(feature)]);
    located.features.push_back(order);
    located.scores.push_back(best);
  }
  return located;
}

void BiasFeatures::save(const std::string& path) const {
  VIREO_CHECK(!features.empty(), "BiasFeatures::save: no classes to save (", path, ")");
  const int64_t top = static_cast<int64_t>(features[0].size());
  std::vector<double> indices, values;
  for (size_t c = 0; c < features.size(); ++c) {
    VIREO_CHECK(static_cast<int64_t>(features[c].size()) == top && scores[c].size() == features[c].size(),
                "BiasFeatures::save: every class needs the same number of features and scores (", path, ")");
    indices.insert(indices.end(), features[c].begin(), features[c].end());
    values.insert(values.end(), scores[c].begin(), scores[c].end());
  }
  StateDict tensors{{"features", Tensor::from_vector(indices, {classes(), top}, {.dtype = DType::i64})},
                    {"scores", Tensor::from_vector(values, {classes(), top})}};
  io::save_safetensors(path, tensors,
                       {{"vireo.format", "bias_features"},
                        {"dictionary_size", std::to_string(dictionary_size)},
                        {"first_timestep", std::to_string(first_timestep)},
                        {"last_timestep", std::to_string(last_timestep)}});
}

BiasFeatures BiasFeatures::load(const std::string& path) {
  const io::SafetensorsFile file = io::load_safetensors(path);
  check_format(file, path, "bias_features");
  BiasFeatures located;
  auto integer = [&](const char* key) {
    return parse_integer(metadata_entry(file, path, "bias_features", key), path, key);
  };
  located.dictionary_size = integer("dictionary_size");
  located.first_timestep = integer("first_timestep");
  located.last_timestep = integer("last_timestep");
  const Tensor& indices = tensor_entry(file, path, "features");
  const Tensor& scores = tensor_entry(file, path, "scores");
  VIREO_CHECK(indices.dim() == 2 && scores.shape() == indices.shape(), path, ": 'features' ", describe(indices),
              " and 'scores' ", describe(scores), " must be [classes, N] of one shape");
  const std::vector<double> index_values = indices.to_vector(), score_values = scores.to_vector();
  const int64_t top = indices.size(1);
  for (int64_t c = 0; c < indices.size(0); ++c) {
    std::vector<int64_t> class_features;
    for (int64_t r = 0; r < top; ++r) {
      const double feature = index_values[static_cast<size_t>(c * top + r)];
      VIREO_CHECK(feature >= 0 && feature < static_cast<double>(located.dictionary_size), path, ": feature index ",
                  feature, " lies outside the dictionary of ", located.dictionary_size);
      class_features.push_back(static_cast<int64_t>(feature));
    }
    located.features.push_back(class_features);
    located.scores.emplace_back(score_values.begin() + c * top, score_values.begin() + (c + 1) * top);
  }
  return located;
}

// ---- 5. and 6. editing and balancing ----

FeatureEdit class_feature_edit(const BiasFeatures& located, const std::vector<int64_t>& choices, double scale,
                               double shift) {
  VIREO_CHECK(std::isfinite(scale) && std::isfinite(shift), "class_feature_edit: scale ", scale, " and shift ", shift,
              " must be finite");
  const int64_t count = static_cast<int64_t>(choices.size()), features = located.dictionary_size;
  std::vector<double> scales(static_cast<size_t>(count * features), 1.0), shifts(scales.size(), 0.0);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t c = choices[static_cast<size_t>(i)];
    if (c < 0) continue;
    VIREO_CHECK(c < located.classes(), "class_feature_edit: sample ", i, " chose class ", c, " but features were located for ",
                located.classes(), " classes");
    for (int64_t feature : located.features[static_cast<size_t>(c)]) {
      scales[static_cast<size_t>(i * features + feature)] = scale;
      shifts[static_cast<size_t>(i * features + feature)] = shift;
    }
  }
  return {Tensor::from_vector(scales, {count, features}), Tensor::from_vector(shifts, {count, features}),
          located.first_timestep, located.last_timestep};
}

std::vector<int64_t> draw_classes(const std::vector<double>& proportions, int64_t count, Generator& generator) {
  VIREO_CHECK(!proportions.empty(), "draw_classes: no proportions");
  double total = 0.0;
  for (double p : proportions) {
    VIREO_CHECK(std::isfinite(p) && p >= 0.0, "draw_classes: proportions must be non-negative, got ", p);
    total += p;
  }
  VIREO_CHECK(std::abs(total - 1.0) <= 1e-6, "draw_classes: proportions must sum to 1, they sum to ", total);
  const std::vector<double> uniform = rand({count}, {.dtype = DType::f64}, &generator).to_vector();
  std::vector<int64_t> classes;
  for (double u : uniform) {
    // The first class whose cumulative proportion exceeds u (the last one absorbs rounding).
    int64_t chosen = static_cast<int64_t>(proportions.size()) - 1;
    double cumulative = 0.0;
    for (size_t c = 0; c < proportions.size(); ++c) {
      cumulative += proportions[c];
      if (u < cumulative) {
        chosen = static_cast<int64_t>(c);
        break;
      }
    }
    classes.push_back(chosen);
  }
  return classes;
}

Tensor edit_bottleneck(SparseAutoencoder& autoencoder, const Tensor& h, const FeatureEdit& edit, int64_t first_row) {
  const int64_t batch = h.size(0);
  VIREO_CHECK(edit.scale.dim() == 2 && edit.scale.size(1) == autoencoder.features && edit.shift.shape() == edit.scale.shape(),
              "edit_bottleneck: scale ", describe(edit.scale), " and shift ", describe(edit.shift), " must be [N, ",
              autoencoder.features, "]");
  VIREO_CHECK(first_row >= 0 && first_row + batch <= edit.scale.size(0), "edit_bottleneck: rows [", first_row, ", ",
              first_row + batch, ") of a bottleneck batch ", describe(h), " lie outside the edit's ", edit.scale.size(0),
              " samples");
  auto rows = [&](const Tensor& table) {
    return table.narrow(0, first_row, batch).to(h.dtype()).to(h.device()).reshape({batch, autoencoder.features, 1, 1});
  };
  const Tensor codes = autoencoder.encode(h);
  const Tensor edited = codes * rows(edit.scale) + rows(edit.shift);
  // h + Dec(z′) − Dec(z) = h + W_dec (z′ − z): exactly h when z′ = z.
  return h + autoencoder.decode_change(edited - codes);
}

AttachedIntervention attach_feature_edit(nn::Module& model, std::shared_ptr<SparseAutoencoder> autoencoder,
                                         FeatureEdit edit, const std::string& point) {
  VIREO_CHECK(autoencoder != nullptr, "attach_feature_edit: no sparse autoencoder");
  model.find(point);
  // What the two hooks share: the timestep of the current call and the row of the edit its batch starts at.
  struct Progress {
    int64_t timestep = -1;
    int64_t next_row = 0;
  };
  auto progress = std::make_shared<Progress>();
  std::vector<nn::HookHandle> hooks;
  hooks.push_back(model.register_forward_pre_hook([progress](const std::vector<Tensor>& inputs) {
    progress->timestep = timestep_of(inputs);
  }));
  hooks.push_back(model.register_forward_hook(
      point, [progress, autoencoder, edit = std::move(edit)](const Tensor& output) -> Tensor {
        const int64_t first_row = progress->next_row, samples = edit.scale.size(0);
        progress->next_row = (first_row + output.size(0)) % samples;
        if (progress->timestep < edit.first_timestep || progress->timestep > edit.last_timestep) return Tensor();
        return edit_bottleneck(*autoencoder, output, edit, first_row);
      }));
  return AttachedIntervention(std::move(hooks));
}

}  // namespace vireo::steering
