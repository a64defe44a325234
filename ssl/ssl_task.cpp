// The `ssl` training task: reading the method section, building the method, and its step and evaluation
// (ssl_task.h).
#include "ssl/ssl_task.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
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

// w in an ER method's reconstruction − w·entropy (er_bound.h): 1, the bound; 0, the reconstruction alone.
double read_entropy_weight(const training::ConfigSection& method) {
  const double weight = method.get("entropy_weight", 1.0);
  if (!(std::isfinite(weight) && weight >= 0.0)) method.fail_at("entropy_weight", "must be 0 or more");
  return weight;
}

// The transform whose drawn parameter is DUET's θ for `transformation`, and that parameter's key.
struct DrawnSource {
  const char* transform;
  const char* key;
};
DrawnSource duet_source(DuetTransformation transformation) {
  switch (transformation) {
    case DuetTransformation::rotation: return {"random_rotation", "angle"};
    case DuetTransformation::crop_scale: return {"random_resized_crop", "width"};
    case DuetTransformation::flip: return {"random_horizontal_flip", "flipped"};
  }
  fail("duet: unknown transformation");
}

DuetOptions read_duet(const training::ConfigSection& method, const training::ConfigSection& data,
                      const training::Recipe& recipe) {
  DuetOptions o;
  o.groups = method.get("groups", o.groups);
  if (o.groups < 0) method.fail_at("groups", "must be 0 (no group term: SimCLR) or more, got " + std::to_string(o.groups));
  o.hidden_features = read_positive(method, "hidden_features", o.hidden_features);
  o.projection_features = read_positive(method, "projection_features", o.projection_features);
  o.temperature = read_positive(method, "temperature", o.temperature);
  o.group_weight = method.get("group_weight", o.group_weight);
  if (!(o.group_weight >= 0.0)) method.fail_at("group_weight", "must be 0 or more");
  const std::string transformation = method.choice("transformation", "rotation", {"rotation", "crop_scale", "flip"});
  o.transformation = transformation == "crop_scale" ? DuetTransformation::crop_scale
                     : transformation == "flip"     ? DuetTransformation::flip
                                                    : DuetTransformation::rotation;
  o.von_mises_concentration = read_positive(method, "von_mises_concentration", o.von_mises_concentration);
  o.gaussian_sigma = read_positive(method, "gaussian_sigma", o.gaussian_sigma);
  // The task packs one column per view; crop widths arrive as fractions of their source image's width.
  o.parameter_column = 0;
  o.image_size = 1;
  if (o.groups == 0) return o;  // no group term, no parameters needed
  const DrawnSource source = duet_source(o.transformation);
  for (size_t v = 0; v < recipe.data.views.size(); ++v) {
    const auto& transforms = recipe.data.views[v];
    const bool drawn = std::any_of(transforms.begin(), transforms.end(),
                                   [&](const data::TransformSpec& spec) { return spec.name == source.transform; });
    if (!drawn)
      data.section_list("views")[v].fail_at(
          "transforms", std::string("lacks ") + source.transform + ": method.transformation " + transformation +
                            " takes its target from the drawn " + source.key + " of " + source.transform +
                            " in every view");
  }
  return o;
}

HsslOptions read_hssl(const training::ConfigSection& method, const training::ConfigSection& root,
                      const training::Recipe& recipe) {
  HsslOptions o;
  const std::string fibers = method.choice("fibers", "rotation", {"rotation", "translation"});
  o.fibers = fibers == "translation" ? HsslFibers::translation : HsslFibers::rotation;
  o.hidden_features = read_positive(method, "hidden_features", o.hidden_features);
  o.projection_features = read_positive(method, "projection_features", o.projection_features);
  o.temperature = read_positive(method, "temperature", o.temperature);
  o.seed = static_cast<uint64_t>(method.get("seed", static_cast<int64_t>(recipe.run.seed)));
  o.pairs_across_views = method.choice("pairs", "within_view", {"within_view", "across_views"}) == "across_views";
  // Rotation fibers are the group axis of a p4 network (its ablation has the same axis, unpermuted);
  // translation fibers are the spatial positions of any ResNet's last feature map.
  const std::string& model = recipe.model.name;
  const bool p4 = model == "p4_resnet";
  const bool resnet = model == "resnet18" || model == "resnet34" || model == "resnet50";
  if (o.fibers == HsslFibers::rotation && !p4)
    root.section("model").fail_at("name", "is " + model + ": method hssl with rotation fibers needs p4_resnet "
                                          "(equivariant: true, or false for the non-equivariant ablation)");
  if (o.fibers == HsslFibers::translation && !p4 && !resnet)
    root.section("model").fail_at("name", "is " + model + ": method hssl with translation fibers needs a CNN "
                                          "feature map (resnet18, resnet34, resnet50 or p4_resnet)");
  return o;
}

}  // namespace

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {"byol", "byol_er", "simclr", "simclr_er", "dino",
                                                 "dino_er", "duet", "hssl"};
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
                           "byol, byol_er, simclr, simclr_er, dino, dino_er, duet, hssl");
  const training::ConfigSection method = root.section("method");
  const training::ConfigSection data = root.section("data");
  auto out = std::make_shared<MethodRecipe>();
  if (!method.has("name"))
    method.fail_at("name", "is required (byol, byol_er, simclr, simclr_er, dino, dino_er, duet, hssl)");
  out->name = method.choice("name", "byol", method_names());
  const bool er = is_entropy_reconstruction(out->name);
  if (out->name == "duet") {
    out->duet = read_duet(method, data, recipe);
  } else if (out->name == "hssl") {
    out->hssl = read_hssl(method, root, recipe);
  } else if (is_byol(out->name)) {
    ByolOptions& o = out->byol;
    o.hidden_features = read_positive(method, "hidden_features", o.hidden_features);
    o.projection_features = read_positive(method, "projection_features", o.projection_features);
    o.base_momentum = read_momentum(method, "base_momentum", o.base_momentum);
    o.entropy_reconstruction = er;
    if (er) {
      o.er = read_vmf(method);
      o.entropy_weight = read_entropy_weight(method);
    }
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
    if (er) o.entropy_weight = read_entropy_weight(method);
  } else {
    SimclrOptions& o = out->simclr;
    o.hidden_features = read_positive(method, "hidden_features", o.hidden_features);
    o.projection_features = read_positive(method, "projection_features", o.projection_features);
    o.temperature = read_positive(method, "temperature", o.temperature);
    o.entropy_reconstruction = er;
    if (er) {
      o.er = read_vmf(method);
      o.entropy_weight = read_entropy_weight(method);
    }
  }
  // The views the method takes: two global crops and any local ones for DINO; one or more for H-SSL (its
  // positives are fibers of one view), exactly two when its pairs are across views; two for the others.
  const size_t views = recipe.data.views.size();
  const size_t least = out->name == "hssl" ? 1 : 2;
  const bool open_ended = is_dino(out->name) || (out->name == "hssl" && !out->hssl.pairs_across_views);
  if (open_ended ? views < least : views != 2)
    data.fail_at("views", "method " + out->name + " takes " +
                              (open_ended ? std::to_string(least) + " or more views" : std::string("exactly 2 views")) +
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
  if (name == "duet") method_ = std::make_shared<Duet>(make_backbone, recipe_.duet);
  else if (name == "hssl") method_ = std::make_shared<Hssl>(make_backbone, recipe_.hssl);
  else if (is_byol(name)) method_ = std::make_shared<Byol>(make_backbone, recipe_.byol, scaling_);
  else if (is_dino(name)) method_ = std::make_shared<Dino>(make_backbone, recipe_.dino, scaling_);
  else method_ = std::make_shared<Simclr>(make_backbone, recipe_.simclr);  // no EMA: κ scales its lr only
  return method_;
}

void SslTask::check_model(nn::Module& model) const {
  VIREO_CHECK(&model == method_.get(), "task ssl: the trained module is not the method build_model made");
}

optim::NamedTensors SslTask::trainable_parameters(nn::Module&) const { return method_->trainable_parameters(); }

std::vector<Tensor> duet_transformation_parameters(const data::Batch& batch, const DuetOptions& options) {
  const DrawnSource source = duet_source(options.transformation);
  std::vector<Tensor> parameters;
  for (int64_t v = 0; v < static_cast<int64_t>(batch.views.size()); ++v) {
    Tensor raw = batch.parameter(v, source.transform, source.key);
    if (options.transformation == DuetTransformation::crop_scale)  // crop width / source width
      raw = div(raw, batch.parameter(v, source.transform, "source_width"));
    parameters.push_back(reshape(raw, {batch.size(), 1}));
  }
  return parameters;
}

Tensor SslTask::loss(nn::Module&, const data::Batch& batch) {
  Views views{.images = batch.views};
  if (recipe_.name == "duet" && recipe_.duet.groups > 0)
    views.transformation_parameters = duet_transformation_parameters(batch, recipe_.duet);
  StepOutput out = method_->forward(views, samples_seen_);
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
