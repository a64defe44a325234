// Reading a Recipe from a ConfigTree: one function per section, each key read once with its default and
// checked where it is read, so that an error names the key and the line it came from.
#include "training/recipe.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "engine/error.h"
#include "training/dist/communicator.h"
#include "training/ema_scaling.h"
#include "training/recipe_builders.h"
#include "training/task_registry.h"

namespace vireo::training {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string text;
  for (const auto& item : items) text += (text.empty() ? "" : ", ") + item;
  return text;
}

// Levenshtein distance, for suggestions.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean width?)" for a near miss (fewer than 3 edits, as check_all_used suggests), else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  size_t best = 3;
  std::string suggestion;
  for (const auto& candidate : candidates) {
    const size_t distance = edit_distance(word, candidate);
    if (distance < best) {
      best = distance;
      suggestion = candidate;
    }
  }
  return suggestion.empty() ? "" : " (did you mean " + suggestion + "?)";
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// ---- checked reads ----

int64_t read_positive(const ConfigSection& section, const std::string& key, int64_t fallback) {
  const int64_t value = section.get(key, fallback);
  if (value <= 0) section.fail_at(key, "must be greater than 0, got " + std::to_string(value));
  return value;
}

int64_t read_non_negative(const ConfigSection& section, const std::string& key, int64_t fallback) {
  const int64_t value = section.get(key, fallback);
  if (value < 0) section.fail_at(key, "must be 0 or more, got " + std::to_string(value));
  return value;
}

double read_positive(const ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.get(key, fallback);
  if (!(value > 0.0) || !std::isfinite(value))
    section.fail_at(key, "must be a finite number greater than 0, got " + number_text(value));
  return value;
}

double read_non_negative(const ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.get(key, fallback);
  if (!(value >= 0.0) || !std::isfinite(value))
    section.fail_at(key, "must be a finite number of 0 or more, got " + number_text(value));
  return value;
}

// A number in [low, high) — momenta, smoothing, betas.
double read_fraction(const ConfigSection& section, const std::string& key, double fallback, double low = 0.0,
                     double high = 1.0) {
  const double value = section.get(key, fallback);
  if (!(value >= low && value < high))
    section.fail_at(key, "must lie in [" + number_text(low) + ", " + number_text(high) + "), got " + number_text(value));
  return value;
}

// ---- scalars of the model section, typed as YAML would type them ----

bool looks_like_integer(const std::string& text) {
  size_t start = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (start == text.size()) return false;
  for (size_t i = start; i < text.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(text[i])) && text[i] != '_') return false;
  return true;
}

bool looks_like_number(const std::string& text) {
  std::string clean;
  for (char c : text)
    if (c != '_') clean += c;
  if (clean.empty()) return false;
  char* end = nullptr;
  std::strtod(clean.c_str(), &end);
  return end == clean.c_str() + clean.size();
}

bool looks_like_boolean(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* word : {"true", "false", "yes", "no", "on", "off"})
    if (lower == word) return true;
  return false;
}

// ---- sections ----

RunRecipe read_run(const ConfigSection& run, const std::string& default_run_name) {
  RunRecipe out;
  out.dir = run.get("dir", "runs/" + default_run_name);
  if (out.dir.empty()) run.fail_at("dir", "must name a folder");
  const int64_t seed = read_non_negative(run, "seed", int64_t{0});
  out.seed = static_cast<uint64_t>(seed);
  out.threads = read_non_negative(run, "threads", int64_t{0});
  out.log_every = read_positive(run, "log_every", int64_t{50});
  out.checkpoint_every = read_non_negative(run, "checkpoint_every", int64_t{0});
  out.resume = run.get("resume", false);
  out.stop_after_steps = read_non_negative(run, "stop_after_steps", int64_t{0});
  const std::string device = run.get("device", std::string("cpu"));
  try {
    out.device = Device::parse(device);
  } catch (const Error&) {
    run.fail_at("device", "unknown device '" + device + "': expected cpu, cuda or cuda:N");
  }
  const std::string autocast = run.get("autocast", std::string("none"));
  // f16 trains with the dynamic loss scaler (engine/optim/grad_scaler.h); bf16 needs none.
  if (autocast == "bf16") out.autocast = DType::bf16;
  else if (autocast == "f16") out.autocast = DType::f16;
  else if (autocast != "none")
    run.fail_at("autocast", "unknown autocast '" + autocast + "': expected bf16, f16 or none");
  if (out.autocast && !out.device.is_cuda())
    run.fail_at("autocast", "autocast " + autocast + " needs run.device: cuda (the CPU kernels compute in f32)");
  return out;
}

std::vector<data::TransformSpec> read_transforms(const ConfigSection& data, const std::string& key) {
  std::vector<data::TransformSpec> specs;
  for (const ConfigSection& step : data.section_list(key)) {
    data::TransformSpec spec;
    spec.name = step.require_string("name");
    const std::vector<std::string> known = data::transform_names();
    if (std::find(known.begin(), known.end(), spec.name) == known.end())
      step.fail_at("name", "unknown transform '" + spec.name + "'" + did_you_mean(spec.name, known) +
                               "; known transforms: " + joined(known));
    for (const std::string& option : step.keys()) {
      if (option == "name") continue;
      spec.options[option] = step.get(option, std::vector<double>{});
    }
    // Built once here so that a bad option is refused with its line now, not in a loader thread later.
    try {
      data::make_transform(spec.name, spec.options);
    } catch (const Error& error) {
      const std::string message = error.what();
      std::string culprit = "name";
      for (const auto& [option, values] : spec.options)
        if (message.find("'" + option + "'") != std::string::npos) culprit = option;
      step.fail_at(culprit, message);
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

DataRecipe read_data(const ConfigSection& data) {
  DataRecipe out;
  out.dataset = data.choice("dataset", out.dataset, dataset_names());
  out.root = data.get("root", std::string());
  out.batch_size = read_positive(data, "batch_size", out.batch_size);
  out.workers = read_non_negative(data, "workers", out.workers);
  out.drop_last = data.get("drop_last", out.drop_last);
  out.train_subset = read_non_negative(data, "train_subset", out.train_subset);
  out.test_subset = read_non_negative(data, "test_subset", out.test_subset);
  out.train_transforms = read_transforms(data, "train_transforms");
  out.test_transforms = read_transforms(data, "test_transforms");
  for (const ConfigSection& view : data.section_list("views")) {
    // The transforms key of each view, read as train_transforms is.
    const std::vector<data::TransformSpec> transforms = read_transforms(view, "transforms");
    out.views.push_back(transforms);
  }
  if (!out.views.empty() && !out.train_transforms.empty())
    data.fail_at("views", "and data.train_transforms both set: with views, each view lists its own transforms");
  if (out.dataset == "synthetic") {
    const ConfigSection synthetic = data.section("synthetic");
    SyntheticRecipe& s = out.synthetic;
    s.train_size = read_positive(synthetic, "train_size", s.train_size);
    s.test_size = read_positive(synthetic, "test_size", s.test_size);
    s.num_classes = read_positive(synthetic, "num_classes", s.num_classes);
    s.channels = read_positive(synthetic, "channels", s.channels);
    s.height = read_positive(synthetic, "height", s.height);
    s.width = read_positive(synthetic, "width", s.width);
    s.noise = read_non_negative(synthetic, "noise", s.noise);
  }
  if (out.dataset == "image_folder") {
    const ConfigSection folder = data.section("image_folder");
    ImageFolderRecipe& f = out.image_folder;
    f.channels = folder.get("channels", f.channels);
    if (f.channels != 1 && f.channels != 3) folder.fail_at("channels", "must be 1 or 3, got " + std::to_string(f.channels));
    f.resize = folder.get("resize", f.resize);
    if (f.resize.size() > 2) folder.fail_at("resize", "takes one number (a square) or two (height, width)");
    for (int64_t side : f.resize)
      if (side <= 0) folder.fail_at("resize", "sizes must be greater than 0");
    if (out.root.empty()) data.fail_at("root", "is required for an image_folder dataset (a folder holding train/ and test/)");
  }
  return out;
}

// The class count and channels of the datasets that have fixed ones; the model's defaults.
int64_t dataset_classes(const DataRecipe& data) {
  if (data.dataset == "cifar100") return 100;
  if (data.dataset == "synthetic") return data.synthetic.num_classes;
  if (data.dataset == "image_folder") return 0;  // known only once the folder is listed
  return 10;
}
int64_t dataset_channels(const DataRecipe& data) {
  if (data.dataset == "cifar10" || data.dataset == "cifar100") return 3;
  if (data.dataset == "synthetic") return data.synthetic.channels;
  if (data.dataset == "image_folder") return data.image_folder.channels;
  return 1;
}

ModelRecipe read_model(const ConfigSection& model, const std::shared_ptr<ConfigNode>& node, const DataRecipe& data,
                       const std::string& task) {
  ModelRecipe out;
  const std::vector<std::string> names = models::model_names();
  out.name = model.require_string("name");
  out.name_origin = model.origin_of("name");
  if (std::find(names.begin(), names.end(), out.name) == names.end())
    model.fail_at("name", "unknown model '" + out.name + "'" + did_you_mean(out.name, names) + "; known models: " +
                              joined(names));
  const std::vector<std::string> valid = models::model_option_names(out.name);

  for (const std::string& key : model.keys()) {
    if (key == "name") continue;
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) continue;  // left for check_all_used
    const std::shared_ptr<ConfigNode> value = node->find(key);
    out.origins[key] = value->origin;
    switch (value->kind) {
      case ConfigNode::Kind::null: model.fail_at(key, "has no value");
      case ConfigNode::Kind::map: model.fail_at(key, "expected a value, got a map");
      case ConfigNode::Kind::list: out.options[key] = model.get(key, std::vector<int64_t>{}); break;
      case ConfigNode::Kind::scalar:
        if (value->quoted) out.options[key] = model.get(key, std::string());
        else if (looks_like_integer(value->scalar)) out.options[key] = model.get(key, int64_t{0});
        else if (looks_like_number(value->scalar)) out.options[key] = model.get(key, 0.0);
        else if (looks_like_boolean(value->scalar)) out.options[key] = model.get(key, false);
        else out.options[key] = model.get(key, std::string());
        break;
    }
  }
  // A classifier's output and input sizes follow from the dataset unless the recipe says otherwise.
  const bool takes_classes = std::find(valid.begin(), valid.end(), "num_classes") != valid.end();
  const bool takes_channels = std::find(valid.begin(), valid.end(), "in_channels") != valid.end();
  const TaskDefinition* registered = find_task(task);
  if (registered && registered->learns_features && takes_classes && !out.options.count("num_classes")) {
    // A feature learner trains the backbone alone: no classifier head unless the recipe asks for one.
    out.options["num_classes"] = model.get("num_classes", int64_t{0});
    out.origins["num_classes"] = model.origin_of("num_classes");
  }
  if (task == "classification" && takes_classes && !out.options.count("num_classes")) {
    const int64_t classes = dataset_classes(data);
    if (classes == 0) model.fail_at("num_classes", "is required for an image_folder dataset (its number of class folders)");
    out.options["num_classes"] = model.get("num_classes", classes);
    out.origins["num_classes"] = model.origin_of("num_classes");
  }
  if (takes_channels && !out.options.count("in_channels")) {
    out.options["in_channels"] = model.get("in_channels", dataset_channels(data));
    out.origins["in_channels"] = model.origin_of("in_channels");
  }
  // Keys the model does not take: named here with the model's own list, before the generic check.
  for (const std::string& key : model.keys()) {
    if (key == "name" || std::find(valid.begin(), valid.end(), key) != valid.end()) continue;
    fail(model.origin_of(key), ": unknown key ", model.path_of(key), " for model ", out.name,
         did_you_mean(key, valid), "; its options: ", joined(valid));
  }
  return out;
}

OptimizerRecipe read_optimizer(const ConfigSection& section) {
  OptimizerRecipe out;
  out.name = section.choice("name", out.name, {"sgd", "adam", "adamw", "lars"});
  out.lr = read_positive(section, "lr", out.lr);
  out.lr_base_batch_size = read_non_negative(section, "lr_base_batch_size", out.lr_base_batch_size);
  out.weight_decay = read_non_negative(section, "weight_decay", out.name == "adamw" ? 1e-2 : 0.0);
  if (out.name != "lars")
    out.exclude_bias_and_norm_from_decay = section.get("exclude_bias_and_norm_from_decay", false);
  if (out.name == "sgd") {
    out.momentum = read_fraction(section, "momentum", 0.0);
    out.dampening = read_fraction(section, "dampening", 0.0, 0.0, 1.0);
    out.nesterov = section.get("nesterov", false);
    if (out.nesterov && (out.momentum <= 0.0 || out.dampening != 0.0))
      section.fail_at("nesterov", "needs a momentum above 0 and no dampening");
  } else if (out.name == "adam" || out.name == "adamw") {
    out.betas = section.get("betas", out.betas);
    if (out.betas.size() != 2) section.fail_at("betas", "takes two numbers [beta1, beta2]");
    for (double beta : out.betas)
      if (!(beta >= 0.0 && beta < 1.0)) section.fail_at("betas", "each must lie in [0, 1), got " + number_text(beta));
    out.eps = read_positive(section, "eps", 1e-8);
    out.amsgrad = section.get("amsgrad", false);
  } else {  // lars
    out.momentum = read_fraction(section, "momentum", 0.9);
    out.trust_coefficient = read_positive(section, "trust_coefficient", out.trust_coefficient);
    out.eps = read_non_negative(section, "eps", 0.0);
  }
  return out;
}

ScheduleRecipe read_schedule(const ConfigSection& section, int64_t epochs) {
  ScheduleRecipe out;
  out.name = section.choice("name", out.name, {"constant", "step", "warmup_cosine"});
  if (out.name == "step") {
    out.milestones_epochs = section.get("milestones_epochs", std::vector<double>{});
    if (out.milestones_epochs.empty()) section.fail_at("milestones_epochs", "is required for the step schedule");
    for (size_t i = 0; i < out.milestones_epochs.size(); ++i)
      if (!(out.milestones_epochs[i] > (i ? out.milestones_epochs[i - 1] : 0.0)))
        section.fail_at("milestones_epochs", "must be greater than 0 and increasing");
    out.gamma = read_non_negative(section, "gamma", out.gamma);
  } else if (out.name == "warmup_cosine") {
    out.warmup_epochs = read_non_negative(section, "warmup_epochs", 0.0);
    if (out.warmup_epochs > static_cast<double>(epochs))
      section.fail_at("warmup_epochs", "must not be longer than train.epochs (" + std::to_string(epochs) + ")");
    out.start_factor = read_non_negative(section, "start_factor", 0.0);
    out.final_factor = read_non_negative(section, "final_factor", 0.0);
  }
  return out;
}

TrainRecipe read_train(const ConfigSection& section, bool learns_features) {
  TrainRecipe out;
  out.epochs = read_positive(section, "epochs", out.epochs);
  out.max_steps = read_non_negative(section, "max_steps", out.max_steps);
  out.label_smoothing = read_fraction(section, "label_smoothing", 0.0);
  out.grad_clip = read_non_negative(section, "grad_clip", 0.0);
  if (learns_features) {
    // A self-supervised method keeps its own EMA (its teacher); a second average of the whole method
    // would average the teacher too.
    if (section.has("ema")) section.fail_at("ema", "does not apply to this task: the method keeps its own EMA teacher");
    return out;
  }
  const ConfigSection ema = section.section("ema");
  out.ema.enabled = ema.get("enabled", false);
  out.ema.momentum = ema.get("momentum", out.ema.momentum);
  if (!(out.ema.momentum >= 0.0 && out.ema.momentum <= 1.0))
    ema.fail_at("momentum", "must lie in [0, 1], got " + number_text(out.ema.momentum));
  return out;
}

EvalRecipe read_eval(const ConfigSection& section, bool learns_features) {
  EvalRecipe out;
  out.every_epochs = read_non_negative(section, "every_epochs", out.every_epochs);
  out.batch_size = read_positive(section, "batch_size", out.batch_size);
  if (learns_features) {
    out.train_examples = read_non_negative(section, "train_examples", out.train_examples);
    const ConfigSection knn = section.section("knn");
    out.knn.k = read_positive(knn, "k", out.knn.k);
    out.knn.temperature = read_positive(knn, "temperature", out.knn.temperature);
    const ConfigSection probe = section.section("linear_probe");
    out.linear_probe.epochs = read_positive(probe, "epochs", out.linear_probe.epochs);
    out.linear_probe.batch_size = read_positive(probe, "batch_size", out.linear_probe.batch_size);
    out.linear_probe.lr = read_positive(probe, "lr", out.linear_probe.lr);
    out.linear_probe.weight_decay = read_non_negative(probe, "weight_decay", out.linear_probe.weight_decay);
  }
  return out;
}

DiffusionRecipe read_diffusion(const ConfigSection& section) {
  DiffusionRecipe out;
  out.schedule = section.choice("schedule", out.schedule, {"linear", "cosine"});
  out.timesteps = read_positive(section, "timesteps", out.timesteps);
  if (out.schedule == "linear") {
    out.beta_start = read_fraction(section, "beta_start", out.beta_start);
    out.beta_end = read_fraction(section, "beta_end", out.beta_end);
    if (!(out.beta_start > 0.0)) section.fail_at("beta_start", "must be greater than 0");
    if (out.beta_end < out.beta_start)
      section.fail_at("beta_end", "must not be smaller than beta_start (" + number_text(out.beta_start) + ")");
  }
  out.eval_images = read_positive(section, "eval_images", out.eval_images);
  out.grid_samples = read_non_negative(section, "grid_samples", out.grid_samples);
  out.grid_steps = read_positive(section, "grid_steps", out.grid_steps);
  if (out.grid_steps > out.timesteps)
    section.fail_at("grid_steps", "must not exceed diffusion.timesteps (" + std::to_string(out.timesteps) + ")");
  return out;
}

ScalingRecipe read_scaling(const ConfigSection& section, const DataRecipe& data, const OptimizerRecipe& optimizer,
                           const std::string& optimizer_origin) {
  ScalingRecipe out;
  out.base_batch_size = read_non_negative(section, "base_batch_size", out.base_batch_size);
  out.ema_rule = section.get("ema_rule", out.ema_rule);
  out.ranks = dist::world().size();
  out.global_batch_size = data.batch_size * out.ranks;
  if (out.base_batch_size > 0) {
    if (optimizer.lr_base_batch_size > 0)
      fail(optimizer_origin, ": optimizer.lr_base_batch_size and scaling.base_batch_size both scale the learning "
           "rate; keep scaling.base_batch_size (it applies the optimizer's own rule)");
    out.kappa = batch_scale(static_cast<double>(out.global_batch_size), static_cast<double>(out.base_batch_size));
  }
  return out;
}

// The scaled values, appended to the resolved recipe as YAML comments (so that the file still reads as
// the recipe it was): κ, the optimizer's hyperparameters and every EMA momentum, base → scaled.
std::string scaling_summary(const Recipe& recipe) {
  const ScalingRecipe& scaling = recipe.scaling;
  // A data-parallel job: the batch each rank sees and the global batch the rules scale by.
  const std::string ranks = scaling.ranks == 1 ? ""
                            : " x " + std::to_string(scaling.ranks) + " ranks = global batch " +
                                  std::to_string(scaling.global_batch_size);
  if (scaling.base_batch_size <= 0)
    return ranks.empty() ? "" : "# data parallel (training/dist): data.batch_size " +
                                    std::to_string(recipe.data.batch_size) + ranks + "\n";
  const auto number_text = [](double value) {  // enough digits to recompute from
    std::ostringstream text;
    text.precision(12);
    text << value;
    return text.str();
  };
  std::ostringstream out;
  out << "# scaling (training/ema_scaling.h): data.batch_size " << recipe.data.batch_size << ranks
      << " / scaling.base_batch_size " << scaling.base_batch_size << "\n";
  out << "#   kappa: " << number_text(scaling.kappa) << "\n";
  const OptimizerRecipe& optimizer = recipe.optimizer;
  const OptimizerHyperparameters scaled = optimizer_hyperparameters(optimizer, scaling.global_batch_size, scaling);
  out << "#   optimizer.lr: " << number_text(optimizer.lr) << " -> " << number_text(scaled.lr) << "\n";
  if (optimizer.name == "adam" || optimizer.name == "adamw") {
    out << "#   optimizer.betas: [" << number_text(optimizer.betas[0]) << ", " << number_text(optimizer.betas[1])
        << "] -> [" << number_text(scaled.betas[0]) << ", " << number_text(scaled.betas[1]) << "]\n";
    out << "#   optimizer.eps: " << number_text(optimizer.eps) << " -> " << number_text(scaled.eps) << "\n";
  }
  std::vector<std::pair<std::string, double>> momenta;
  if (recipe.train.ema.enabled) momenta.emplace_back("train.ema.momentum", recipe.train.ema.momentum);
  if (recipe.task_options)
    for (const auto& entry : recipe.task_options->ema_momenta()) momenta.push_back(entry);
  const ScalingRule rule{.kappa = scaling.kappa, .ema_rule = scaling.ema_rule};
  for (const auto& [key, momentum] : momenta)
    out << "#   " << key << ": " << number_text(momentum) << " -> " << number_text(rule.momentum(momentum))
        << (scaling.ema_rule ? "" : "  (scaling.ema_rule false: unscaled)") << "\n";
  return out.str();
}

}  // namespace

MemoryRecipe read_memory(const ConfigSection& section) {
  MemoryRecipe out;
  out.options.approx_bp = section.get("approx_bp", false);
  out.options.ms_norm = section.get("ms_norm", false);
  const std::string checkpoint = section.choice("checkpoint", "none", {"none", "blocks"});
  out.options.checkpoint =
      checkpoint == "blocks" ? models::CheckpointGranularity::blocks : models::CheckpointGranularity::none;
  for (const char* key : {"approx_bp", "ms_norm", "checkpoint"}) out.origins[key] = section.origin_of(key);
  return out;
}

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"fashion_mnist", "mnist", "cifar10", "cifar100", "image_folder",
                                                 "synthetic"};
  return names;
}

Recipe read_recipe(const ConfigTree& tree, const std::string& default_run_name) {
  ConfigTree resolved;
  const ConfigSection root = ConfigSection::root(tree, resolved);
  Recipe recipe;
  recipe.source = tree.source();
  // The kind of training; the loss and the evaluation depend on it (training/classification.h,
  // training/ddpm.h, and the tasks of training/task_registry.h).
  std::vector<std::string> tasks = task_names();
  tasks.insert(tasks.begin() + 1, "ddpm");
  recipe.task = root.choice("task", recipe.task, tasks);
  const TaskDefinition* registered = find_task(recipe.task);
  const bool learns_features = registered && registered->learns_features;
  recipe.run = read_run(root.section("run"), default_run_name);
  recipe.data = read_data(root.section("data"));
  const std::shared_ptr<ConfigNode> model_node = tree.root()->find("model");
  if (!model_node || model_node->kind != ConfigNode::Kind::map)
    root.fail_at("model", "is required: a section with the model's name and options (model: {name: resnet18})");
  recipe.model = read_model(root.section("model"), model_node, recipe.data, recipe.task);
  recipe.model.memory = read_memory(root.section("memory"));
  recipe.optimizer = read_optimizer(root.section("optimizer"));
  recipe.train = read_train(root.section("train"), learns_features);
  recipe.schedule = read_schedule(root.section("schedule"), recipe.train.epochs);
  recipe.eval = read_eval(root.section("eval"), learns_features);
  if (recipe.task == "ddpm") recipe.diffusion = read_diffusion(root.section("diffusion"));
  recipe.scaling = read_scaling(root.section("scaling"), recipe.data, recipe.optimizer, root.origin_of("optimizer"));
  if (registered && registered->read_options) recipe.task_options = registered->read_options(root, recipe);
  root.check_all_used();
  recipe.resolved_yaml = resolved.to_yaml() + scaling_summary(recipe);
  return recipe;
}

Recipe parse_recipe(const std::string& text, const std::string& source, const std::vector<std::string>& overrides) {
  ConfigTree tree = ConfigTree::parse(text, source);
  for (const auto& assignment : overrides) tree.apply_override(assignment);
  return read_recipe(tree, std::filesystem::path(source).stem().string());
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  ConfigTree tree = ConfigTree::load(path);
  for (const auto& assignment : overrides) tree.apply_override(assignment);
  return read_recipe(tree, std::filesystem::path(path).stem().string());
}

}  // namespace vireo::training
