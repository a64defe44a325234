// vireo steer bias-features …: diffusion bias features (steering/bias_features.h) from the command line,
// one step a subcommand, each reading and writing safetensors files:
//
//   collect   DDPM_CHECKPOINT --classifier CLS [--group 5,7,9] --num N --steps S -o activations.safetensors
//             samples N images by DDIM, recording the UNet bottleneck at every step; the classifier labels
//             each finished image — its class, or with --group 1 for a class of the group and 0 otherwise
//   train-sae ACTIVATIONS [--expansion 4 --k 8 --sae-steps 2000] -o sae.safetensors
//   probe     ACTIVATIONS [--epochs 60] -o probe.safetensors          (prints the accuracy per timestep)
//   locate    ACTIVATIONS --sae SAE --probe PROBE [--top 10 --first-timestep --last-timestep]
//             -o features.safetensors
//   generate  DDPM_CHECKPOINT --sae SAE --features FEATURES --classifier CLS [--group …]
//             --proportions 0.5,0.5 --scale 3 [--shift 0] --num N --steps S [--frechet M] [--out grid.png]
//             balancing: each sample draws an attribute class with the proportions, and that class's
//             features are scaled (and shifted) in the bottleneck during sampling
//
// Each prints one JSON line. generate's holds the proportions asked for, drawn and achieved (by the
// classifier's labels), and with --frechet M the Fréchet distance of the samples to M test images in the
// classifier's feature space. --scale 1 --shift 0 is exactly the unsteered model (decode-only-the-change).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/ops.h"
#include "steering/bias_features.h"
#include "tools/vireo/commands.h"
#include "training/checkpoint_sampling.h"
#include "training/diffusion/image_grid.h"

namespace vireo::cli {
namespace {

// Comma-separated numbers ("5,7,9", "0.3,0.7"), each parsed by `parse`; `option` names the input in errors.
template <class Parse>
auto parse_list(const std::string& text, const std::string& option, Parse parse) {
  std::vector<decltype(parse(std::string()))> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      size_t used = 0;
      values.push_back(parse(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      fail(option, " '", text, "': '", item, "' is not a number");
    }
  }
  VIREO_CHECK(!values.empty(), option, ": empty list");
  return values;
}

std::vector<int64_t> parse_group(const std::string& text) {
  if (text.empty()) return {};
  return parse_list(text, "--group", [](const std::string& item, size_t* used = nullptr) -> int64_t {
    return std::stoll(item, used);
  });
}

// The attribute of a sample from the classifier's class: the class itself, or (with a group) 1 inside it.
int64_t attribute_of(int64_t predicted_class, const std::vector<int64_t>& group) {
  if (group.empty()) return predicted_class;
  return std::find(group.begin(), group.end(), predicted_class) != group.end() ? 1 : 0;
}

struct SamplingArguments {
  training::SamplingRequest request;
  std::string group;
};

// The options collect and generate share.
void add_sampling_options(CLI::App* app, SamplingArguments& arguments) {
  training::SamplingRequest& request = arguments.request;
  app->add_option("checkpoint", request.checkpoint, "A checkpoint.safetensors of a task: ddpm run")->required();
  app->add_option("--classifier", request.classifier, "A classification checkpoint labelling the samples")->required();
  app->add_option("--group", arguments.group,
                  "Classes forming attribute 1 (e.g. 5,7,9: footwear); the rest is 0. Default: the classes");
  app->add_option("--num", request.num, "Number of samples")->capture_default_str();
  app->add_option("--steps", request.steps, "DDIM steps S")->capture_default_str();
  app->add_option("--seed", request.seed, "Seed of x_T")->capture_default_str();
  app->add_option("--batch", request.batch_size, "Images through a model at once")->capture_default_str();
}

// The attribute labels of sampled images and the number of attribute classes.
std::vector<int64_t> attributes(const training::SamplingResult& result, const std::vector<int64_t>& group) {
  std::vector<int64_t> labels;
  for (int64_t predicted : result.predicted_classes) labels.push_back(attribute_of(predicted, group));
  return labels;
}

int64_t attribute_classes(const training::SamplingResult& result, const std::vector<int64_t>& group) {
  return group.empty() ? static_cast<int64_t>(result.class_counts.size()) : 2;
}

void print(const nlohmann::ordered_json& line) { std::printf("%s\n", line.dump().c_str()); }

// ---- collect ----

struct CollectArguments : SamplingArguments {
  std::string output;
};

int run_collect(CollectArguments& arguments) {
  const std::vector<int64_t> group = parse_group(arguments.group);
  std::shared_ptr<steering::BottleneckRecorder> recorder;
  arguments.request.prepare_model = [&recorder](nn::Module& model) {
    recorder = std::make_shared<steering::BottleneckRecorder>(model);
  };
  const training::SamplingResult result = training::sample_checkpoint(arguments.request);
  steering::RecordedActivations recorded;
  recorded.activations = recorder->activations();
  const std::vector<int64_t> labels = attributes(result, group);
  recorded.labels = Tensor::from_vector(std::vector<double>(labels.begin(), labels.end()),
                                        {static_cast<int64_t>(labels.size())}, {.dtype = DType::i64});
  recorded.classes = attribute_classes(result, group);
  recorded.notes = {{"checkpoint", arguments.request.checkpoint},
                    {"classifier", arguments.request.classifier},
                    {"group", arguments.group},
                    {"steps", std::to_string(result.steps)},
                    {"seed", std::to_string(arguments.request.seed)}};
  recorded.save(arguments.output);
  std::vector<int64_t> counts(static_cast<size_t>(recorded.classes), 0);
  for (int64_t label : labels) counts[static_cast<size_t>(label)] += 1;
  const Shape shape = recorded.activations.begin()->second.shape();
  print({{"samples", arguments.request.num}, {"timesteps", recorded.activations.size()},
         {"bottleneck", std::vector<int64_t>(shape.begin() + 1, shape.end())}, {"attribute_counts", counts},
         {"seconds", result.seconds}, {"out", arguments.output}});
  return 0;
}

// ---- train-sae ----

struct TrainSaeArguments {
  std::string activations, output;
  steering::SparseAutoencoderOptions options;
};

int run_train_sae(const TrainSaeArguments& arguments) {
  const steering::RecordedActivations recorded = steering::RecordedActivations::load(arguments.activations);
  std::vector<Tensor> maps;
  for (const auto& [t, h] : recorded.activations) maps.push_back(h);
  const steering::SparseAutoencoderFit fit = steering::train_sparse_autoencoder(cat(maps, 0), arguments.options);
  fit.autoencoder->save(arguments.output, {{"point", steering::kUNetBottleneck}, {"activations", arguments.activations}});
  print({{"features", fit.autoencoder->features}, {"k", fit.autoencoder->k}, {"steps", arguments.options.steps},
         {"first_loss", fit.losses.empty() ? 0.0 : fit.losses.front()},
         {"final_loss", fit.losses.empty() ? 0.0 : fit.losses.back()},
         {"fraction_unexplained", fit.fraction_unexplained}, {"dead_features", fit.dead_features},
         {"out", arguments.output}});
  return 0;
}

// ---- probe ----

struct ProbeArguments {
  std::string activations, output;
  steering::TimestepProbeOptions options;
};

int run_probe(const ProbeArguments& arguments) {
  const steering::RecordedActivations recorded = steering::RecordedActivations::load(arguments.activations);
  const steering::TimestepProbe probe =
      steering::train_timestep_probe(recorded.activations, recorded.labels, recorded.classes, arguments.options);
  probe.save(arguments.output);
  print({{"timesteps", probe.timesteps}, {"accuracy", probe.accuracy}, {"out", arguments.output}});
  return 0;
}

// ---- locate ----

struct LocateArguments {
  std::string activations, sae, probe, output;
  steering::LocateOptions options;
};

int run_locate(const LocateArguments& arguments) {
  const steering::RecordedActivations recorded = steering::RecordedActivations::load(arguments.activations);
  const auto autoencoder = steering::SparseAutoencoder::load(arguments.sae);
  const steering::TimestepProbe probe = steering::TimestepProbe::load(arguments.probe);
  VIREO_CHECK(probe.classes == recorded.classes, "--probe ", arguments.probe, ": has ", probe.classes,
              " classes but ", arguments.activations, " has ", recorded.classes);
  const steering::BiasFeatures located =
      steering::locate_bias_features(*autoencoder, probe, recorded.activations, recorded.labels, arguments.options);
  located.save(arguments.output);
  print({{"features", located.features}, {"scores", located.scores}, {"first_timestep", located.first_timestep},
         {"last_timestep", located.last_timestep}, {"out", arguments.output}});
  return 0;
}

// ---- generate ----

struct GenerateArguments : SamplingArguments {
  std::string sae, features, proportions, out;
  double scale = 3.0, shift = 0.0;
};

int run_generate(GenerateArguments& arguments) {
  const std::vector<int64_t> group = parse_group(arguments.group);
  const auto autoencoder = steering::SparseAutoencoder::load(arguments.sae);
  const steering::BiasFeatures located = steering::BiasFeatures::load(arguments.features);
  VIREO_CHECK(located.dictionary_size == autoencoder->features, "--features ", arguments.features, ": indexes ",
              located.dictionary_size, " features but --sae ", arguments.sae, " has ", autoencoder->features);
  const std::vector<double> proportions = parse_list(
      arguments.proportions, "--proportions", [](const std::string& item, size_t* used = nullptr) { return std::stod(item, used); });
  VIREO_CHECK(static_cast<int64_t>(proportions.size()) == located.classes(), "--proportions: give one per attribute class (",
              located.classes(), "), got ", proportions.size());
  Generator generator(arguments.request.seed + 1);  // the draws, apart from x_T's generator
  const std::vector<int64_t> chosen = steering::draw_classes(proportions, arguments.request.num, generator);
  arguments.request.prepare_model = [&](nn::Module& model) {
    steering::attach_feature_edit(model, autoencoder,
                                  steering::class_feature_edit(located, chosen, arguments.scale, arguments.shift));
  };
  const training::SamplingResult result = training::sample_checkpoint(arguments.request);
  const std::vector<int64_t> labels = attributes(result, group);
  const int64_t classes = located.classes();
  VIREO_CHECK(attribute_classes(result, group) == classes, "--features ", arguments.features, ": located for ",
              classes, " attribute classes but the classifier", group.empty() ? "" : " with --group", " gives ",
              attribute_classes(result, group));
  std::vector<double> drawn(static_cast<size_t>(classes), 0.0), achieved(drawn.size(), 0.0);
  const double unit = 1.0 / static_cast<double>(arguments.request.num);
  for (int64_t c : chosen) drawn[static_cast<size_t>(c)] += unit;
  for (int64_t c : labels) achieved[static_cast<size_t>(c)] += unit;
  if (!arguments.out.empty()) {
    // Written beside OUT and renamed over it: never a partial grid.
    const std::string temporary = arguments.out + ".tmp";
    diffusion::write_image_grid(temporary, result.samples, {});
    std::filesystem::rename(temporary, arguments.out);
  }
  nlohmann::ordered_json line = {{"num", arguments.request.num}, {"steps", result.steps},
                                 {"scale", arguments.scale},      {"shift", arguments.shift},
                                 {"requested", proportions},      {"drawn", drawn},
                                 {"achieved", achieved},          {"class_counts", result.class_counts}};
  if (arguments.request.frechet_images > 0) line["frechet_distance"] = result.frechet_distance;
  line["seconds"] = result.seconds;
  if (!arguments.out.empty()) line["out"] = arguments.out;
  print(line);
  return 0;
}

}  // namespace

Subcommand add_bias_features_command(CLI::App& steer) {
  CLI::App* app = steer.add_subcommand("bias-features", "Diffusion bias features: steer a DDPM UNet's bottleneck");
  app->require_subcommand(1);
  app->footer(
      "Steps: collect (sample, record the bottleneck, label by a classifier) -> train-sae -> probe -> locate ->\n"
      "generate (balance the attribute classes to --proportions). Example, footwear vs the rest:\n"
      "  vireo steer bias-features collect DDPM --classifier CLS --group 5,7,9 --num 256 --steps 20 -o acts.st\n"
      "  vireo steer bias-features train-sae acts.st -o sae.st;  vireo steer bias-features probe acts.st -o probe.st\n"
      "  vireo steer bias-features locate acts.st --sae sae.st --probe probe.st -o features.st\n"
      "  vireo steer bias-features generate DDPM --sae sae.st --features features.st --classifier CLS --group 5,7,9\n"
      "      --proportions 0.5,0.5 --scale 3 --num 256 --steps 20 --frechet 1000");

  auto collect = std::make_shared<CollectArguments>();
  CLI::App* collect_app = app->add_subcommand("collect", "Sample, record the bottleneck and label the samples");
  add_sampling_options(collect_app, *collect);
  collect_app->add_option("-o,--output", collect->output, "The activations file to write (.safetensors)")->required();

  auto train_sae = std::make_shared<TrainSaeArguments>();
  CLI::App* train_sae_app = app->add_subcommand("train-sae", "Train the convolutional top-k sparse autoencoder");
  train_sae_app->add_option("activations", train_sae->activations, "A file written by collect")->required();
  train_sae_app->add_option("--expansion", train_sae->options.expansion, "Features per channel")->capture_default_str();
  train_sae_app->add_option("--k", train_sae->options.k, "Features kept per position")->capture_default_str();
  train_sae_app->add_option("--sae-steps", train_sae->options.steps, "Adam steps")->capture_default_str();
  train_sae_app->add_option("--batch-size", train_sae->options.batch_size, "Positions per step")->capture_default_str();
  train_sae_app->add_option("--lr", train_sae->options.learning_rate, "Adam learning rate")->capture_default_str();
  train_sae_app->add_option("-o,--output", train_sae->output, "The autoencoder file to write")->required();

  auto probe = std::make_shared<ProbeArguments>();
  CLI::App* probe_app = app->add_subcommand("probe", "Train the per-timestep linear probe of the attribute");
  probe_app->add_option("activations", probe->activations, "A file written by collect")->required();
  probe_app->add_option("--epochs", probe->options.epochs, "Epochs per timestep")->capture_default_str();
  probe_app->add_option("-o,--output", probe->output, "The probe file to write")->required();

  auto locate = std::make_shared<LocateArguments>();
  CLI::App* locate_app = app->add_subcommand("locate", "Integrated-gradient attribution: each class's top features");
  locate_app->add_option("activations", locate->activations, "A file written by collect")->required();
  locate_app->add_option("--sae", locate->sae, "A file written by train-sae")->required();
  locate_app->add_option("--probe", locate->probe, "A file written by probe")->required();
  locate_app->add_option("--top", locate->options.top, "Features per class")->capture_default_str();
  locate_app->add_option("--ig-steps", locate->options.steps, "Integrated-gradient steps M")->capture_default_str();
  locate_app->add_option("--first-timestep", locate->options.first_timestep, "Window of timesteps: first");
  locate_app->add_option("--last-timestep", locate->options.last_timestep, "Window of timesteps: last");
  locate_app->add_option("-o,--output", locate->output, "The features file to write")->required();

  auto generate = std::make_shared<GenerateArguments>();
  CLI::App* generate_app = app->add_subcommand("generate", "Sample with the classes balanced to proportions");
  add_sampling_options(generate_app, *generate);
  generate_app->add_option("--sae", generate->sae, "A file written by train-sae")->required();
  generate_app->add_option("--features", generate->features, "A file written by locate")->required();
  generate_app->add_option("--proportions", generate->proportions, "One per attribute class, summing to 1")->required();
  generate_app->add_option("--scale", generate->scale, "Factor on the drawn class's features")->capture_default_str();
  generate_app->add_option("--shift", generate->shift, "Added to the drawn class's features")->capture_default_str();
  generate_app->add_option("--frechet", generate->request.frechet_images,
                           "Fréchet distance in the classifier's feature space to this many test images");
  generate_app->add_option("--out", generate->out, "Also write the samples as a PNG grid");

  return {app, [=] {
            if (collect_app->parsed()) return run_collect(*collect);
            if (train_sae_app->parsed()) return run_train_sae(*train_sae);
            if (probe_app->parsed()) return run_probe(*probe);
            if (locate_app->parsed()) return run_locate(*locate);
            return run_generate(*generate);
          }};
}

}  // namespace vireo::cli
