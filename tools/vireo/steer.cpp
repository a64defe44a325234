// vireo steer fit|apply: activation steering of a trained classifier from the command line.
//
//   vireo steer fit CHECKPOINT --method aura|det0|damp|act|act-mean|act-gaussian|lineas --points REGEX…
//                   --source SPEC --target SPEC -o out.safetensors
//   vireo steer apply CHECKPOINT --intervention FILE… [--strength λ…]
//   vireo steer sweep CHECKPOINT --intervention FILE… [--strengths λ…] [--figure sweep.svg] [--json F]
//                     [--source-class A --target-class B]
//   vireo steer neuron-path CHECKPOINT --class C [--examples N] [--steps 20] -o path.json
//   vireo steer bias-features collect|train-sae|probe|locate|generate …   (a DDPM UNet; steer_bias_features.cpp)
//
// The model and its data come from the recipe stored in the checkpoint (as vireo eval). SPEC selects
// samples of the checkpoint's dataset by label: "class=7", "class!=7" (every other class) or "all", each
// optionally with ",count=N" (the first N that match). Images go through the recipe's test pipeline, so a
// fit is deterministic. apply prints the test accuracy per class without and with the interventions, which
// are attached in the order given, each at its strength (default 1). sweep attaches them all at each
// strength in turn (default 0, 0.25, …, 1) and prints the test accuracy per class at each, as a table and
// optionally as a line chart (one line per class) and as JSON for reports (steering_sweep*.json in a run
// folder is drawn by vireo report: tools/report/run_report.h). With --source-class A --target-class B (a
// transport from class A toward class B) sweep also measures, at each strength, the share of class-A test
// images predicted as B and the distance of the steered class-A logits to the clean class-B logits: the
// 1-D Wasserstein-2 distance per logit unit, squared and averaged over the units (steering/lineas.h's
// wasserstein_loss, both sets cut to the smaller one's size). neuron-path finds a ViT's neuron path for class
// C by joint influence on N training images of the class (steering/neuron_path.h), with the activation-argmax path and
// random paths as baselines, measures the label probability of the class's test images with each path
// ablated and enhanced, prints the comparison and writes it all as JSON.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "steering/steering.h"
#include "tools/report/html.h"
#include "tools/report/svg_chart.h"
#include "tools/vireo/commands.h"
#include "training/checkpoint.h"
#include "training/classification.h"
#include "training/recipe_builders.h"

namespace vireo::cli {
namespace {

// Which samples of a dataset a SPEC selects.
struct SampleSpec {
  enum class Kind { all, label_is, label_is_not } kind = Kind::all;
  int64_t label = 0;
  int64_t count = 0;  // 0: every match
  bool matches(int64_t sample_label) const {
    return kind == Kind::all || (kind == Kind::label_is) == (sample_label == label);
  }
};

int64_t parse_count(const std::string& text, const std::string& option, const std::string& spec) {
  try {
    size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used == text.size() && value >= 0) return value;
  } catch (const std::exception&) {
  }
  fail(option, " '", spec, "': '", text, "' is not a non-negative integer");
}

SampleSpec parse_spec(const std::string& text, const std::string& option) {
  SampleSpec spec;
  std::string selector = text;
  const size_t comma = text.find(',');
  if (comma != std::string::npos) {
    selector = text.substr(0, comma);
    const std::string rest = text.substr(comma + 1);
    VIREO_CHECK(rest.rfind("count=", 0) == 0, option, " '", text, "': expected ',count=N' after the selector");
    spec.count = parse_count(rest.substr(6), option, text);
  }
  if (selector == "all") return spec;
  if (selector.rfind("class!=", 0) == 0) {
    spec.kind = SampleSpec::Kind::label_is_not;
    spec.label = parse_count(selector.substr(7), option, text);
  } else if (selector.rfind("class=", 0) == 0) {
    spec.kind = SampleSpec::Kind::label_is;
    spec.label = parse_count(selector.substr(6), option, text);
  } else {
    fail(option, " '", text, "': expected class=K, class!=K or all (optionally ,count=N)");
  }
  return spec;
}

// A checkpoint's model (eval mode) with its dataset split and test pipeline, rebuilt from the stored recipe.
struct LoadedClassifier {
  training::Recipe recipe;
  std::shared_ptr<nn::Module> model;
  std::shared_ptr<const data::Dataset> dataset;
  data::Pipeline pipeline;
};

LoadedClassifier load_classifier(const std::string& path, data::Split split) {
  const training::Checkpoint checkpoint = training::load_checkpoint(path);
  LoadedClassifier loaded;
  loaded.recipe = training::parse_recipe(checkpoint.recipe_yaml, path + " (stored recipe)");
  VIREO_CHECK(loaded.recipe.task == "classification", path, ": vireo steer needs a classifier, this is a '",
              loaded.recipe.task, "' checkpoint");
  training::set_math_threads(loaded.recipe.run);
  loaded.dataset = training::make_dataset(loaded.recipe.data, split);
  loaded.pipeline = training::make_pipeline(loaded.recipe.data, data::Split::test);
  loaded.model = training::make_model(loaded.recipe.model);
  training::load_module_state(*loaded.model, checkpoint.model, "model", path, loaded.recipe.model.name);
  loaded.model->eval();
  return loaded;
}

// The selected samples as batches of images [B, C, H, W] with their labels.
struct Samples {
  std::vector<Tensor> batches;
  std::vector<int64_t> labels;
};

Samples select_samples(const LoadedClassifier& loaded, const SampleSpec& spec, const std::string& text,
                       int64_t batch_size = 64) {
  Samples samples;
  std::vector<Tensor> images;
  for (int64_t index = 0; index < loaded.dataset->size(); ++index) {
    if (spec.count > 0 && static_cast<int64_t>(samples.labels.size()) == spec.count) break;
    data::Example example = loaded.dataset->get(index);
    if (!spec.matches(example.label)) continue;
    data::RandomStream random(0, 0, static_cast<uint64_t>(index), 0);
    images.push_back(to_tensor(loaded.pipeline(std::move(example.image), random)));
    samples.labels.push_back(example.label);
    if (static_cast<int64_t>(images.size()) == batch_size) {
      samples.batches.push_back(stack(images));
      images.clear();
    }
  }
  if (!images.empty()) samples.batches.push_back(stack(images));
  VIREO_CHECK(!samples.labels.empty(), "'", text, "' selects no samples of ", loaded.recipe.data.dataset, " (",
              loaded.dataset->size(), " examples, ", loaded.dataset->num_classes(), " classes)");
  return samples;
}

struct FitArguments {
  std::string checkpoint, method = "aura", source, target, output, split = "train";
  std::vector<std::string> points;
  int64_t top_k = 0, steps = 1000, batch_size = 32;
  double l1 = 0.0, group = 0.0;  // lineas: the sparsity weights λ₁ and λ₂
  double learning_rate = 1e-3;   // lineas: Adam's initial learning rate
  uint64_t seed = 0;             // lineas: batch and target sampling
  bool all_at_once = false;
  bool no_support = false;  // act: edit every element, not only those inside the source range
};

int run_fit(const FitArguments& arguments) {
  LoadedClassifier loaded =
      load_classifier(arguments.checkpoint, arguments.split == "test" ? data::Split::test : data::Split::train);
  nn::Module& model = *loaded.model;
  const std::vector<std::string> points = steering::select_points(model, arguments.points);
  const Samples source = select_samples(loaded, parse_spec(arguments.source, "--source"), arguments.source);
  const Samples target = select_samples(loaded, parse_spec(arguments.target, "--target"), arguments.target);
  steering::Intervention intervention;
  const std::string& method = arguments.method;
  if (method == "aura" || method == "det0" || method == "damp") {
    const steering::AuraVariant variant = method == "aura"   ? steering::AuraVariant::aura
                                          : method == "det0" ? steering::AuraVariant::det0
                                                             : steering::AuraVariant::damp;
    intervention = steering::fit_aura(model, points, source.batches, target.batches,
                                      {.variant = variant, .top_k = arguments.top_k});
  } else if (method == "lineas") {
    const steering::LineasFit fit = steering::fit_lineas(
        model, points, cat(source.batches, 0), cat(target.batches, 0),
        {.steps = arguments.steps, .batch_size = arguments.batch_size, .learning_rate = arguments.learning_rate,
         .l1 = arguments.l1, .group = arguments.group, .seed = arguments.seed});
    intervention = fit.intervention;
    int64_t units = 0;
    for (const auto& [point, map] : intervention.points) units += map.units();
    intervention.settings["active_units"] = std::to_string(fit.active_units);
    intervention.settings["active_points"] = std::to_string(fit.active_points);
    std::printf("lineas: final loss %.6g; active units %lld of %lld, active points %lld of %zu\n",
                fit.losses.empty() ? 0.0 : fit.losses.back(), static_cast<long long>(fit.active_units),
                static_cast<long long>(units), static_cast<long long>(fit.active_points), intervention.points.size());
  } else {
    const steering::ActVariant variant = method == "act"        ? steering::ActVariant::linear
                                         : method == "act-mean" ? steering::ActVariant::mean_only
                                                                : steering::ActVariant::gaussian;
    // Linear-AcT pairs quantiles of equal-size sets: the larger set is cut to the smaller one's size.
    Tensor source_images = cat(source.batches, 0), target_images = cat(target.batches, 0);
    const int64_t count = std::min(source_images.size(0), target_images.size(0));
    intervention = steering::fit_act(
        model, points, {source_images.narrow(0, 0, count)}, {target_images.narrow(0, 0, count)},
        {.variant = variant,
         .estimation = arguments.all_at_once ? steering::ActEstimation::all_at_once : steering::ActEstimation::incremental,
         .source_range_support = !arguments.no_support});
    intervention.settings["support"] = arguments.no_support ? "none" : "source range";
  }
  intervention.settings["checkpoint"] = arguments.checkpoint;
  intervention.settings["source"] = arguments.source;
  intervention.settings["target"] = arguments.target;
  intervention.save(arguments.output);
  std::printf("%s: %s at %zu points from %zu source and %zu target samples -> %s\n", arguments.checkpoint.c_str(),
              intervention.method.c_str(), intervention.points.size(), source.labels.size(), target.labels.size(),
              arguments.output.c_str());
  return 0;
}

struct ApplyArguments {
  std::string checkpoint;
  std::vector<std::string> interventions;
  std::vector<double> strengths;
};

// The model's logits of every sample, [N, classes], in the samples' order.
Tensor logits_of(nn::Module& model, const Samples& samples) {
  NoGrad no_grad;
  std::vector<Tensor> logits;
  for (const Tensor& batch : samples.batches) logits.push_back(model(batch));
  return cat(logits, 0);
}

// Correct and total predictions per class from the logits of `samples`.
std::vector<training::AccuracyCount> accuracy_per_class(const Tensor& logits, const Samples& samples, int64_t classes) {
  std::vector<training::AccuracyCount> counts(classes);
  const std::vector<double> predicted = argmax(logits, 1).to_vector();
  for (size_t i = 0; i < predicted.size(); ++i) {
    const int64_t label = samples.labels[i];
    counts[label].total += 1;
    counts[label].correct += static_cast<int64_t>(predicted[i]) == label ? 1 : 0;
  }
  return counts;
}

std::vector<training::AccuracyCount> accuracy_per_class(nn::Module& model, const Samples& samples, int64_t classes) {
  return accuracy_per_class(logits_of(model, samples), samples, classes);
}

// The rows of `logits` whose sample has label `label`: [n, classes].
Tensor logits_of_class(const Tensor& logits, const Samples& samples, int64_t label) {
  std::vector<double> rows;
  for (size_t i = 0; i < samples.labels.size(); ++i)
    if (samples.labels[i] == label) rows.push_back(static_cast<double>(i));
  return index_select(logits, 0, Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())}, {.dtype = DType::i64}));
}

// The transport metrics of one strength: the share of source-class images predicted as the target class and
// the mean over logit units of W₂² between the steered source-class logits and the clean target-class ones.
struct TransportMeasure {
  double rate = 0.0;      // %
  double distance = 0.0;  // W₂², mean over logit units
};

TransportMeasure measure_transport(const Tensor& source_logits, const Tensor& clean_target_logits, int64_t source,
                                   int64_t target) {
  VIREO_CHECK(source_logits.size(0) > 0 && clean_target_logits.size(0) > 0, "--source-class ", source,
              " and --target-class ", target, ": the test split has ", source_logits.size(0), " and ",
              clean_target_logits.size(0), " images of them; both need some");
  TransportMeasure measure;
  const std::vector<double> predicted = argmax(source_logits, 1).to_vector();
  for (double prediction : predicted) measure.rate += static_cast<int64_t>(prediction) == target ? 1.0 : 0.0;
  measure.rate *= 100.0 / static_cast<double>(predicted.size());
  const int64_t count = std::min(source_logits.size(0), clean_target_logits.size(0));
  measure.distance = steering::wasserstein_loss(source_logits.narrow(0, 0, count).to(DType::f64),
                                                clean_target_logits.narrow(0, 0, count).to(DType::f64))
                         .item();
  return measure;
}

int run_apply(const ApplyArguments& arguments) {
  VIREO_CHECK(arguments.strengths.empty() || arguments.strengths.size() == arguments.interventions.size(),
              "--strength: give one per --intervention (", arguments.interventions.size(), "), got ",
              arguments.strengths.size());
  LoadedClassifier loaded = load_classifier(arguments.checkpoint, data::Split::test);
  const Samples test = select_samples(loaded, SampleSpec{}, "all");
  const int64_t classes = loaded.dataset->num_classes();
  const auto clean = accuracy_per_class(*loaded.model, test, classes);
  std::vector<steering::AttachedIntervention> attached;
  for (size_t i = 0; i < arguments.interventions.size(); ++i) {
    const double strength = arguments.strengths.empty() ? 1.0 : arguments.strengths[i];
    const steering::Intervention intervention = steering::Intervention::load(arguments.interventions[i]);
    attached.push_back(steering::attach(*loaded.model, intervention, strength));
    std::printf("attached %s (%s) at strength %g\n", arguments.interventions[i].c_str(), intervention.method.c_str(),
                strength);
  }
  const auto steered = accuracy_per_class(*loaded.model, test, classes);
  std::printf("class  clean top1  steered top1  samples\n");
  for (int64_t label = 0; label < classes; ++label)
    std::printf("%5lld  %9.2f%%  %11.2f%%  %7lld\n", static_cast<long long>(label), 100.0 * clean[label].fraction(),
                100.0 * steered[label].fraction(), static_cast<long long>(clean[label].total));
  return 0;
}

struct SweepArguments {
  std::string checkpoint, figure, json;
  std::vector<std::string> interventions;
  std::vector<double> strengths = {0.0, 0.25, 0.5, 0.75, 1.0};
  int64_t source_class = -1, target_class = -1;  // -1: no transport metrics
};

int run_sweep(const SweepArguments& arguments) {
  LoadedClassifier loaded = load_classifier(arguments.checkpoint, data::Split::test);
  const Samples test = select_samples(loaded, SampleSpec{}, "all");
  const int64_t classes = loaded.dataset->num_classes();
  std::vector<steering::Intervention> interventions;
  for (const std::string& path : arguments.interventions) interventions.push_back(steering::Intervention::load(path));
  const bool transport = arguments.source_class >= 0 || arguments.target_class >= 0;
  if (transport) {
    for (const int64_t label : {arguments.source_class, arguments.target_class})
      VIREO_CHECK(label >= 0 && label < classes, "--source-class and --target-class: ", label, " is not a class of ",
                  loaded.recipe.data.dataset, " (", classes, " classes); give both");
    VIREO_CHECK(arguments.source_class != arguments.target_class, "--source-class and --target-class are both ",
                arguments.source_class);
  }
  const std::string source_name = std::to_string(arguments.source_class),
                    target_name = std::to_string(arguments.target_class);
  // The clean target-class logits, the reference the steered source-class logits are compared with.
  const Tensor clean_target_logits =
      transport ? logits_of_class(logits_of(*loaded.model, test), test, arguments.target_class) : Tensor{};
  std::vector<TransportMeasure> transported;
  std::printf("strength");
  for (int64_t label = 0; label < classes; ++label) std::printf("  class %lld", static_cast<long long>(label));
  std::printf("  all\n");
  report::SvgChart chart{.title = "test top-1 per class against strength", .x_label = "strength λ",
                              .y_label = "top-1 (%)"};
  std::vector<std::vector<double>> accuracy(classes);
  std::vector<double> overall;
  for (double strength : arguments.strengths) {
    std::vector<steering::AttachedIntervention> attached;
    for (const steering::Intervention& intervention : interventions)
      attached.push_back(steering::attach(*loaded.model, intervention, strength));
    const Tensor logits = logits_of(*loaded.model, test);
    for (steering::AttachedIntervention& one : attached) one.detach();
    const auto counts = accuracy_per_class(logits, test, classes);
    if (transport)
      transported.push_back(measure_transport(logits_of_class(logits, test, arguments.source_class),
                                              clean_target_logits, arguments.source_class, arguments.target_class));
    training::AccuracyCount total;
    std::printf("%8g", strength);
    for (int64_t label = 0; label < classes; ++label) {
      accuracy[label].push_back(100.0 * counts[label].fraction());
      total.correct += counts[label].correct;
      total.total += counts[label].total;
      std::printf("  %6.2f%%", accuracy[label].back());
    }
    overall.push_back(100.0 * total.fraction());
    std::printf("  %6.2f%%\n", overall.back());
  }
  if (transport) {
    std::printf("strength  class %s predicted as %s  logit W2^2 to class %s\n", source_name.c_str(),
                target_name.c_str(), target_name.c_str());
    for (size_t i = 0; i < transported.size(); ++i)
      std::printf("%8g  %22.2f%%  %20.4f\n", arguments.strengths[i], transported[i].rate, transported[i].distance);
  }
  if (!arguments.figure.empty()) {
    for (int64_t label = 0; label < classes; ++label)
      chart.add({.name = "class " + std::to_string(label), .x = arguments.strengths, .y = accuracy[label]});
    chart.write(arguments.figure);
    std::printf("figure: %s\n", arguments.figure.c_str());
  }
  if (!arguments.json.empty()) {
    // The schema of report::read_strength_sweep: metrics as a list, to keep their order.
    nlohmann::json metrics = nlohmann::json::array();
    for (int64_t label = 0; label < classes; ++label)
      metrics.push_back({{"name", "class " + std::to_string(label) + " top-1 (%)"}, {"values", accuracy[label]}});
    metrics.push_back({{"name", "all top-1 (%)"}, {"values", overall}});
    if (transport) {
      std::vector<double> rates, distances;
      for (const TransportMeasure& measure : transported) {
        rates.push_back(measure.rate);
        distances.push_back(measure.distance);
      }
      metrics.push_back({{"name", "class " + source_name + " predicted as " + target_name + " (%)"}, {"values", rates}});
      metrics.push_back({{"name", "logit W2^2 class " + source_name + " to class " + target_name}, {"values", distances}});
    }
    std::string title = "test top-1 against strength:";
    for (const steering::Intervention& intervention : interventions) title += " " + intervention.method;
    const nlohmann::json sweep = {{"title", title}, {"checkpoint", arguments.checkpoint},
                                  {"interventions", arguments.interventions}, {"strengths", arguments.strengths},
                                  {"metrics", metrics}};
    report::write_text_file(arguments.json, sweep.dump(1) + "\n");
    std::printf("json: %s\n", arguments.json.c_str());
  }
  return 0;
}

struct NeuronPathArguments {
  std::string checkpoint, output;
  int64_t label = 0, examples = 16, steps = 20, evaluation_examples = 100, random_paths = 3;
  double enhancement_factor = 2.0;
  uint64_t seed = 0;
};

std::string neuron_list(const std::vector<int64_t>& neurons) {
  std::ostringstream text;
  for (size_t i = 0; i < neurons.size(); ++i) text << (i ? " " : "") << neurons[i];
  return text.str();
}

int run_neuron_path(const NeuronPathArguments& arguments) {
  LoadedClassifier train = load_classifier(arguments.checkpoint, data::Split::train);
  auto model = std::dynamic_pointer_cast<models::VisionTransformer>(train.model);
  VIREO_CHECK(model != nullptr, arguments.checkpoint, ": vireo steer neuron-path needs a ViT, the checkpoint's model is '",
              train.recipe.model.name, "'");
  const int64_t classes = train.dataset->num_classes();
  VIREO_CHECK(arguments.label >= 0 && arguments.label < classes, "--class ", arguments.label, " is not a class of ",
              train.recipe.data.dataset, " (", classes, " classes)");
  VIREO_CHECK(arguments.examples > 0 && arguments.evaluation_examples > 0 && arguments.steps > 0,
              "--examples, --eval-examples and --steps must be positive");
  LoadedClassifier test = train;
  test.dataset = training::make_dataset(train.recipe.data, data::Split::test);
  const std::string label = std::to_string(arguments.label);
  const Tensor fit_images =
      cat(select_samples(train, parse_spec("class=" + label + ",count=" + std::to_string(arguments.examples), "--class"),
                         "--class " + label)
              .batches,
          0);
  const Tensor test_images = cat(
      select_samples(test, parse_spec("class=" + label + ",count=" + std::to_string(arguments.evaluation_examples), "--class"),
                     "--class " + label)
          .batches,
      0);

  steering::NeuronPathReport report;
  report.path = steering::find_neuron_path(*model, fit_images, arguments.label, arguments.steps);
  report.baselines.push_back(steering::argmax_neuron_path(*model, fit_images, arguments.label));
  for (int64_t r = 0; r < arguments.random_paths; ++r)
    report.baselines.push_back(
        steering::random_neuron_path(*model, fit_images, arguments.label, arguments.seed + static_cast<uint64_t>(r)));
  report.path.effect = steering::measure_path_effect(*model, report.path, test_images, arguments.enhancement_factor);
  for (steering::NeuronPath& baseline : report.baselines)
    baseline.effect = steering::measure_path_effect(*model, baseline, test_images, arguments.enhancement_factor);
  report.settings = {{"checkpoint", arguments.checkpoint},
                     {"examples", std::to_string(fit_images.size(0))},
                     {"examples_split", "train"},
                     {"evaluation_images", std::to_string(test_images.size(0))},
                     {"evaluation_split", "test"},
                     {"steps", std::to_string(arguments.steps)},
                     {"random_paths", std::to_string(arguments.random_paths)},
                     {"seed", std::to_string(arguments.seed)}};
  report.save(arguments.output);

  std::printf("class %lld: path from %lld train images (m = %lld steps); label probability of %lld test images, "
              "clean, with the path ablated and enhanced (x%g)\n",
              static_cast<long long>(arguments.label), static_cast<long long>(fit_images.size(0)),
              static_cast<long long>(arguments.steps), static_cast<long long>(test_images.size(0)),
              arguments.enhancement_factor);
  std::printf("%-16s  %-24s  %7s  %9s  %7s  %11s\n", "method", "neurons per block", "clean", "ablated", "drop",
              "enhanced");
  std::vector<const steering::NeuronPath*> rows = {&report.path};
  for (const steering::NeuronPath& baseline : report.baselines) rows.push_back(&baseline);
  for (const steering::NeuronPath* path : rows)
    std::printf("%-16s  %-24s  %7.4f  %9.4f  %7.4f  %11.4f\n", path->method.c_str(), neuron_list(path->neurons).c_str(),
                path->effect->clean_probability, path->effect->ablated_probability, path->effect->ablation_drop(),
                path->effect->enhanced_probability);
  std::printf("-> %s\n", arguments.output.c_str());
  return 0;
}

}  // namespace

Subcommand add_steer_command(CLI::App& vireo) {
  CLI::App* app = vireo.add_subcommand("steer", "Fit and apply activation-steering interventions");
  app->require_subcommand(1);

  auto fit = std::make_shared<FitArguments>();
  CLI::App* fit_app = app->add_subcommand("fit", "Fit an intervention on a checkpoint's model and save it");
  fit_app->add_option("checkpoint", fit->checkpoint, "A checkpoint.safetensors written by vireo train")->required();
  fit_app->add_option("--method", fit->method, "aura, det0, damp, act, act-mean, act-gaussian or lineas")
      ->check(CLI::IsMember({"aura", "det0", "damp", "act", "act-mean", "act-gaussian", "lineas"}));
  fit_app->add_option("--points", fit->points, "Module paths or regular expressions (blocks\\.\\d+\\.mlp\\.fc1)")
      ->required();
  fit_app->add_option("--source", fit->source, "class=K, class!=K or all, optionally ,count=N (AurA: the concept)")
      ->required();
  fit_app->add_option("--target", fit->target, "The same forms (AurA: the non-concept samples)")->required();
  fit_app->add_option("-o,--output", fit->output, "The intervention file to write (.safetensors)")->required();
  fit_app->add_option("--split", fit->split, "The dataset split the samples come from")
      ->check(CLI::IsMember({"train", "test"}));
  fit_app->add_option("--top-k", fit->top_k, "det0 and damp: units per point");
  fit_app->add_option("--steps", fit->steps, "lineas: optimizer steps");
  fit_app->add_option("--batch-size", fit->batch_size, "lineas: source samples per step");
  fit_app->add_option("--learning-rate", fit->learning_rate,
                      "lineas: Adam's initial learning rate (1e-3; the cosine decay ends at 1e-3 of it)")
      ->check(CLI::PositiveNumber);
  fit_app->add_option("--l1", fit->l1, "lineas: the L1 sparsity weight λ₁ (0)");
  fit_app->add_option("--group", fit->group, "lineas: the sparse-group weight λ₂ (0; > 0 switches whole points off)");
  fit_app->add_option("--seed", fit->seed, "lineas: the seed of batch and target sampling (0)");
  fit_app->add_flag("--all-at-once", fit->all_at_once, "act: fit every point on clean responses");
  fit_app->add_flag("--no-support", fit->no_support,
                    "act: edit every element, not only those inside the range of the source responses");

  auto apply = std::make_shared<ApplyArguments>();
  CLI::App* apply_app = app->add_subcommand("apply", "Per-class test accuracy with interventions attached");
  apply_app->add_option("checkpoint", apply->checkpoint, "A checkpoint.safetensors written by vireo train")->required();
  apply_app->add_option("--intervention", apply->interventions, "Intervention files, attached in this order")
      ->required();
  apply_app->add_option("--strength", apply->strengths, "One strength per intervention (default 1)");

  auto sweep = std::make_shared<SweepArguments>();
  CLI::App* sweep_app = app->add_subcommand("sweep", "Per-class test accuracy at each of several strengths");
  sweep_app->add_option("checkpoint", sweep->checkpoint, "A checkpoint.safetensors written by vireo train")->required();
  sweep_app->add_option("--intervention", sweep->interventions, "Intervention files, attached in this order")
      ->required();
  sweep_app->add_option("--strengths", sweep->strengths, "The strengths, applied to every intervention (0 0.25 … 1)");
  sweep_app->add_option("--figure", sweep->figure, "Also write the accuracies as an SVG line chart");
  sweep_app->add_option("--json", sweep->json,
                        "Also write them as JSON (RUN_DIR/steering_sweep.json is drawn by vireo report)");
  sweep_app->add_option("--source-class", sweep->source_class,
                        "With --target-class: also the share of these test images predicted as the target class and "
                        "the logit W2^2 to the clean target-class images");
  sweep_app->add_option("--target-class", sweep->target_class, "The class the interventions transport toward");

  auto path = std::make_shared<NeuronPathArguments>();
  CLI::App* path_app = app->add_subcommand(
      "neuron-path", "Find a ViT's neuron path for a class by joint influence; compare ablating it with baselines");
  path_app->add_option("checkpoint", path->checkpoint, "A checkpoint.safetensors of a ViT written by vireo train")
      ->required();
  path_app->add_option("--class", path->label, "The class whose label probability the path carries")->required();
  path_app->add_option("--examples", path->examples, "Training images of the class the path is found on (16)");
  path_app->add_option("--steps", path->steps, "Integrated-gradient steps m (20)");
  path_app->add_option("--eval-examples", path->evaluation_examples,
                       "Test images of the class the ablation and enhancement are measured on (100)");
  path_app->add_option("--random-paths", path->random_paths, "Random baseline paths (3)");
  path_app->add_option("--enhance", path->enhancement_factor, "The factor enhancement scales the path's neurons by (2)");
  path_app->add_option("--seed", path->seed, "The first random path's seed (0)");
  path_app->add_option("-o,--output", path->output, "The JSON file to write")->required();

  const Subcommand bias_features = add_bias_features_command(*app);

  return {app, [fit, apply, sweep, path, fit_app, apply_app, path_app, bias_features] {
            if (bias_features.app->parsed()) return bias_features.run();
            return fit_app->parsed()    ? run_fit(*fit)
                   : apply_app->parsed() ? run_apply(*apply)
                   : path_app->parsed()  ? run_neuron_path(*path)
                                         : run_sweep(*sweep);
          }};
}

}  // namespace vireo::cli
