// The `ssl` training task: reading the method section, building the method, and its step and evaluation
// (ssl_task.h).
#include "ssl/ssl_task.h"

#include <algorithm>

#include "engine/error.h"
#include "training/recipe.h"

namespace vireo::ssl {
namespace {

bool is_dino(const std::string& name) { return name == "dino" || name == "dino_er"; }
bool is_byol(const std::string& name) { return name == "byol" || name == "byol_er"; }
bool is_entropy_reconstruction(const std::string& name) { return name.size() > 3 && name.ends_with("_er"); }

double read_positive(const training::ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.get(key, fallback);
  if (!(value > 0.0)) section.fail_at(key, "must be greater than 0");
  return value;
}

int64_t read_positive(const training::ConfigSection& section, const std::string& key, int64_t fallback) {
  const int64_t value = section.get(key, fallback);
  if (value <= 0) section.fail_at(key, "must be greater than 0, got " + std::to_string(value));
  return value;
}

double read_momentum(const training::ConfigSection& section, const std::string& key, double fallback) {
  const double value = section.get(key, fallback);
  if (!(value >= 0.0 && value <= 1.0)) section.fail_at(key, "must lie in [0, 1]");
  return value;
}

VmfKdeOptions read_vmf(const training::ConfigSection& method) {
  VmfKdeOptions options;
  options.concentration = read_positive(method, "concentration", options.concentration);
  const std::string estimator = method.choice("entropy_estimator", "plug_in", {"plug_in", "average"});
  options.estimator = estimator == "average" ? EntropyEstimator::average : EntropyEstimator::plug_in;
  return options;
}

}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"byol", "byol_er", "simclr", "simclr_er", "dino", "dino_er"};
  return names;
}

std::vector<std::pair<std::string, double>> MethodRecipe::ema_momenta() const {
  if (is_byol(name)) return {{"method.base_momentum", byol.base_momentum}};
  if (is_dino(name))
    return {{"method.base_momentum", dino.base_momentum}, {"method.center_momentum", dino.loss.center_momentum}};
  return {};
}

std::shared_ptr<const MethodRecipe> read_method_recipe(const training::ConfigSection& root,
                                                       const training::Recipe& recipe) {
  if (!root.has("method"))
    root.fail_at("method", "is required for task ssl: a section naming the method (method: {name: byol}); methods: "
                           "byol, byol_er, simclr, simclr_er, dino, dino_er");
  const training::ConfigSection method = root.section("method");
  auto out = std::make_shared<MethodRecipe>();
  if (!method.has("name")) method.fail_at("name", "is required (byol, byol_er, simclr, simclr_er, dino, dino_er)");
  out->name = method.choice("name", "byol", method_names());
  const bool er = is_entropy_reconstruction(out->name);
  if (is_byol(out->name)) {
    ByolOptions& o = out->byol;
    o.hidden_features = read_positive(method, "hidden_features", o.hidden_features);
    o.projection_features = read_positive(method, "projection_features", o.projection_features);
    o.base_momentum = read_momentum(method, "base_momentum", o.base_momentum);
    o.entropy_reconstruction = er;
    if (er) o.er = read_vmf(method);
  } else if (is_dino(out->name)) {
    DinoOptions& o = out->dino;
    o.head.hidden_features = read_positive(method, "hidden_features", o.head.hidden_features);
    o.head.bottleneck_features = read_positive(method, "bottleneck_features", o.head.bottleneck_features);
    o.head.out_features = read_positive(method, "out_features", o.head.out_features);
    o.head.norm_last_layer = method.get("norm_last_layer", o.head.norm_last_layer);
    o.loss.student_temperature = read_positive(method, "student_temperature", o.loss.student_temperature);
    o.loss.teacher_temperature = read_positive(method, "teacher_temperature", o.loss.teacher_temperature);
    o.loss.warmup_teacher_temperature =
        read_positive(method, "warmup_teacher_temperature", o.loss.warmup_teacher_temperature);
    out->warmup_teacher_temperature_epochs = method.get("warmup_teacher_temperature_epochs", 0.0);
    if (out->warmup_teacher_temperature_epochs < 0.0)
      method.fail_at("warmup_teacher_temperature_epochs", "must be 0 or more");
    o.loss.center_momentum = read_momentum(method, "center_momentum", o.loss.center_momentum);
    o.base_momentum = read_momentum(method, "base_momentum", o.base_momentum);
    out->freeze_last_layer_epochs = method.get("freeze_last_layer_epochs", 1.0);
    if (out->freeze_last_layer_epochs < 0.0) method.fail_at("freeze_last_layer_epochs", "must be 0 or more");
    o.entropy_reconstruction = er;
  } else {
    SimclrOptions& o = out->simclr;
    o.hidden_features = read_positive(method, "hidden_features", o.hidden_features);
    o.projection_features = read_positive(method, "projection_features", o.projection_features);
    o.temperature = read_positive(method, "temperature", o.temperature);
    o.entropy_reconstruction = er;
    if (er) o.er = read_vmf(method);
  }
  // The views the method takes: two for BYOL and SimCLR, two global crops and any local ones for DINO.
  const size_t views = recipe.data.views.size();
  const training::ConfigSection data = root.section("data");
  if (is_dino(out->name) ? views < 2 : views != 2)
    data.fail_at("views", "method " + out->name + " takes " + (is_dino(out->name) ? "2 or more views" : "exactly 2 views") +
                              " (data.views: [{transforms: [...]}, ...]), the recipe lists " + std::to_string(views));
  return out;
}

SslTask::SslTask(const training::TaskSetup& setup)
    : scaling_(setup.scaling), model_name_(setup.recipe.model.name), evaluation_(setup.recipe) {
  const auto* read = dynamic_cast<const MethodRecipe*>(setup.recipe.task_options.get());
  VIREO_CHECK(read, "task ssl: the recipe holds no method section (was it read with ssl::register_tasks() called?)");
  recipe_ = *read;
  recipe_.byol.total_samples = setup.total_samples;
  recipe_.dino.total_samples = setup.total_samples;
  const auto samples = [&](double epochs) {
    return static_cast<int64_t>(epochs * static_cast<double>(setup.samples_per_epoch) + 0.5);
  };
  recipe_.dino.loss.warmup_teacher_temperature_samples = samples(recipe_.warmup_teacher_temperature_epochs);
  recipe_.dino.freeze_last_layer_samples = samples(recipe_.freeze_last_layer_epochs);
}

std::shared_ptr<nn::Module> SslTask::build_model(const std::function<std::shared_ptr<nn::Module>()>& make_model) {
  const BackboneFactory make_backbone = [&]() -> std::shared_ptr<models::Backbone> {
    std::shared_ptr<nn::Module> model = make_model();
    auto backbone = std::dynamic_pointer_cast<models::Backbone>(model);
    if (!backbone) fail("model.name: a ", model->type_name(), " is not a backbone (use a ResNet or a ViT)");
    return backbone;
  };
  const std::string& name = recipe_.name;
  if (is_byol(name)) method_ = std::make_shared<Byol>(make_backbone, recipe_.byol, scaling_);
  else if (is_dino(name)) method_ = std::make_shared<Dino>(make_backbone, recipe_.dino, scaling_);
  else method_ = std::make_shared<Simclr>(make_backbone, recipe_.simclr);  // no EMA: κ scales its lr only
  return method_;
}

void SslTask::check_model(nn::Module& model) const {
  VIREO_CHECK(&model == method_.get(), "task ssl: the trained module is not the method build_model made");
}

optim::NamedTensors SslTask::trainable_parameters(nn::Module&) const { return method_->trainable_parameters(); }

Tensor SslTask::loss(nn::Module&, const data::Batch& batch) {
  StepOutput out = method_->forward(Views{.images = batch.views}, samples_seen_);
  step_metrics_.clear();
  for (const auto& [name, value] : out.metrics)
    if (name != "loss") step_metrics_.emplace_back(name, value);  // the trainer logs the loss itself
  return out.loss;
}

void SslTask::before_optimizer_step(int64_t samples_seen) { method_->before_optimizer_step(samples_seen); }
void SslTask::after_optimizer_step(int64_t samples_seen) { method_->after_optimizer_step(samples_seen); }

void SslTask::evaluate(nn::Module&, const std::string& prefix, training::Metrics& metrics) {
  metrics.emplace_back(prefix + "knn_top1", evaluation_.knn_top1(method_->backbone()));
}

void SslTask::evaluate_initial(nn::Module&, training::Metrics& metrics) {
  metrics.emplace_back("floor_linear_top1", evaluation_.linear_top1(method_->backbone()));
}

void SslTask::evaluate_final(nn::Module&, training::Metrics& metrics) {
  metrics.emplace_back("linear_top1", evaluation_.linear_top1());
}

void register_tasks() {
  training::register_task("ssl", training::TaskDefinition{
                                     .read_options = [](const training::ConfigSection& root, const training::Recipe& recipe)
                                         -> std::shared_ptr<const training::TaskOptions> {
                                       return read_method_recipe(root, recipe);
                                     },
                                     .make = [](const training::TaskSetup& setup) -> std::unique_ptr<training::TrainingTask> {
                                       return std::make_unique<SslTask>(setup);
                                     },
                                     .learns_features = true});
}

}  // namespace vireo::ssl
