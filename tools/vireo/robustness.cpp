// vireo robustness CHECKPOINT [options] [key=value …]: how a classifier's ROC AUC falls, subgroup by
// subgroup, as its test images are blurred, smeared, over-exposed, flattened, made noisy, JPEG-compressed
// or rotated at increasing strength (training/eval/robustness.h defines the AUC matrices and the gap).
//
// Into the output folder (-o, default the checkpoint's folder/robustness) it writes:
//   robustness.json      {"checkpoint", "perturbations": [{"name", "strengths"}], "groups": [{"name",
//                        "classes"}], "auc": {group: [[per strength] per perturbation]}, "clean_auc":
//                        {group: AUC}, "gap": [[per strength] per perturbation]} — and, beside them,
//                        "accuracy" (shaped as "auc"), "clean_accuracy", "examples", "seed", "model", "step"
//   report.html          the robustness.json drawn by the report library (tools/report/components.h): one
//                        AUC heat map per group and the gap between the best and the worst group, side by side
// and prints a compact table: per group the clean AUC and the AUC at each perturbation's largest strength.
// Each file is written to NAME.tmp and renamed over NAME.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/report/components.h"
#include "tools/report/html.h"
#include "tools/report/page.h"
#include "tools/vireo/commands.h"
#include "training/checkpoint.h"
#include "training/data/idx.h"
#include "training/eval/robustness.h"
#include "training/recipe_builders.h"

namespace vireo::cli {
namespace {

struct RobustnessArguments {
  std::string checkpoint;
  std::vector<std::string> overrides;
  std::vector<std::string> perturb = {"all"};
  std::string groups = "classes";
  std::string groups_file;
  std::string out;
  uint64_t seed = 0;
  bool ema = false;
};

std::string format_strength(double strength) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", strength);
  return text;
}

nlohmann::ordered_json to_json(const eval::RobustnessResult& result, const std::string& checkpoint) {
  nlohmann::ordered_json json;
  json["checkpoint"] = checkpoint;
  json["perturbations"] = nlohmann::ordered_json::array();
  for (const data::PerturbationSweep& sweep : result.sweeps)
    json["perturbations"].push_back({{"name", sweep.name}, {"strengths", sweep.strengths}});
  json["groups"] = nlohmann::ordered_json::array();
  for (const eval::Group& group : result.groups) json["groups"].push_back({{"name", group.name}, {"classes", group.classes}});
  json["auc"] = nlohmann::ordered_json::object();
  json["clean_auc"] = nlohmann::ordered_json::object();
  json["accuracy"] = nlohmann::ordered_json::object();
  json["clean_accuracy"] = nlohmann::ordered_json::object();
  for (size_t g = 0; g < result.groups.size(); ++g) {
    const std::string& name = result.groups[g].name;
    json["auc"][name] = result.auc[g];  // NaN (a group without examples) is written as null
    json["clean_auc"][name] = result.clean_auc[g];
    json["accuracy"][name] = result.accuracy[g];
    json["clean_accuracy"][name] = result.clean_accuracy[g];
  }
  json["gap"] = result.gap;
  json["examples"] = result.examples;
  return json;
}

// The same page `vireo report` draws for a run folder holding robustness.json, read back from the file.
void write_report(const std::string& folder) {
  report::Page page{.title = "Robustness under perturbation", .subtitle = folder};
  page.add(report::robustness_heat_maps(report::read_robustness(folder + "/robustness.json")));
  report::write_text_file(folder + "/report.html", page.render());
}

// Per group: the clean AUC and the AUC at each perturbation's largest strength; then the gap likewise.
void print_table(const eval::RobustnessResult& result) {
  size_t name_width = 5;
  for (const eval::Group& group : result.groups) name_width = std::max(name_width, group.name.size());
  std::printf("%-*s %7s", static_cast<int>(name_width), "group", "clean");
  std::vector<int> widths;
  for (const data::PerturbationSweep& sweep : result.sweeps) {
    const std::string header = sweep.name + "@" + format_strength(sweep.strengths.back());
    widths.push_back(std::max(7, static_cast<int>(header.size())));
    std::printf(" %*s", widths.back(), header.c_str());
  }
  std::printf("\n");
  auto row = [&](const std::string& name, double clean, const std::vector<std::vector<double>>& cells) {
    std::printf("%-*s %7.4f", static_cast<int>(name_width), name.c_str(), clean);
    for (size_t p = 0; p < cells.size(); ++p) std::printf(" %*.4f", widths[p], cells[p].back());
    std::printf("\n");
  };
  for (size_t g = 0; g < result.groups.size(); ++g) row(result.groups[g].name, result.clean_auc[g], result.auc[g]);
  row("gap", result.gap.empty() ? std::nan("") : result.gap[0][0], result.gap);
}

int run_robustness(const RobustnessArguments& arguments) {
  const std::vector<data::PerturbationSweep> sweeps = data::parse_perturbation_sweeps(arguments.perturb);
  const training::Checkpoint checkpoint = training::load_checkpoint(arguments.checkpoint);
  const training::Recipe recipe =
      training::parse_recipe(checkpoint.recipe_yaml, arguments.checkpoint + " (stored recipe)", arguments.overrides);
  if (recipe.task != "classification")
    fail(arguments.checkpoint, ": vireo robustness measures a classifier, which a '", recipe.task, "' checkpoint is not");
  if (arguments.ema && checkpoint.ema.empty()) fail("--ema: ", arguments.checkpoint, " holds no EMA model");

  training::set_math_threads(recipe.run);
  const auto test_set = training::make_dataset(recipe.data, data::Split::test);
  const eval::Grouping grouping = [&] {
    if (!arguments.groups_file.empty()) return eval::read_group_file(arguments.groups_file, test_set->size());
    std::vector<std::string> class_names;
    if (recipe.data.dataset == "fashion_mnist")
      for (const char* name : data::fashion_mnist_classes()) class_names.emplace_back(name);
    return eval::parse_class_groups(arguments.groups, test_set->num_classes(), class_names);
  }();

  const std::string folder = arguments.out.empty()
                                 ? (std::filesystem::path(arguments.checkpoint).parent_path() / "robustness").string()
                                 : arguments.out;
  std::error_code failure;
  std::filesystem::create_directories(folder, failure);
  if (failure || !std::filesystem::is_directory(folder)) fail("-o ", folder, ": cannot create the folder");

  const auto model = training::make_model(recipe.model);
  training::load_module_state(*model, arguments.ema ? checkpoint.ema : checkpoint.model, arguments.ema ? "ema" : "model",
                              arguments.checkpoint, recipe.model.name);
  const eval::RobustnessResult result = eval::evaluate_robustness(
      *model, test_set, training::make_pipeline(recipe.data, data::Split::test), sweeps, grouping,
      {.batch_size = recipe.eval.batch_size,
       .workers = recipe.data.workers,
       .seed = arguments.seed,
       .progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }});

  nlohmann::ordered_json json = to_json(result, arguments.checkpoint);
  json["seed"] = arguments.seed;
  json["model"] = arguments.ema ? "ema" : "model";
  json["step"] = checkpoint.position.step;
  report::write_text_file(folder + "/robustness.json", json.dump(1) + "\n");
  write_report(folder);
  std::printf("%s: %s on %s, step %lld, %lld test examples; ROC AUC (one group vs the rest, see robustness.json)\n",
              arguments.checkpoint.c_str(), recipe.model.name.c_str(), recipe.data.dataset.c_str(),
              static_cast<long long>(checkpoint.position.step), static_cast<long long>(result.examples));
  print_table(result);
  std::printf("wrote %s/robustness.json and report.html\n", folder.c_str());
  return 0;
}

std::string family_help() {
  std::string text = "Perturbations (strength 0 is the clean image and always the first column):\n";
  for (const data::PerturbationFamily& family : data::perturbation_families()) {
    std::string defaults;
    for (double strength : family.default_strengths) {
      if (!defaults.empty()) defaults += ",";
      defaults += format_strength(strength);
    }
    text += "  " + family.name + std::string(15 - family.name.size(), ' ') + family.strength + " (default " + defaults + ")\n";
  }
  return text;
}

}  // namespace

Subcommand add_robustness_command(CLI::App& vireo) {
  auto arguments = std::make_shared<RobustnessArguments>();
  CLI::App* app = vireo.add_subcommand("robustness", "ROC AUC per subgroup of a classifier under graded perturbations");
  app->footer(family_help() +
              "\nGroups: --groups classes (one per class), --groups \"tops=0,2,4,6;bottoms=1,3\", or --groups-file with\n"
              "one integer label per test example. A group's AUC averages, over its classes c, the AUC of p(c|x)\n"
              "with its examples of class c as positives and every test example of another class as negatives.\n"
              "Example: vireo robustness runs/quickstart/checkpoint.safetensors --perturb noise:0.1,0.2 data.test_subset=1000");
  app->add_option("checkpoint", arguments->checkpoint, "A classification checkpoint.safetensors written by vireo train")
      ->required();
  app->add_option("overrides", arguments->overrides, "key.path=value assignments applied to the stored recipe");
  app->add_option("--perturb", arguments->perturb, "name:s1,s2,... | name | all (repeatable; default all)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  CLI::Option* groups = app->add_option("--groups", arguments->groups, "classes | name=c,c;name=c,... (default classes)");
  app->add_option("--groups-file", arguments->groups_file, "One integer group label per test example, one per line")
      ->excludes(groups);
  app->add_option("-o,--out", arguments->out, "Output folder (default: the checkpoint's folder/robustness)");
  app->add_option("--seed", arguments->seed, "Seed of the noise perturbation (default 0)");
  app->add_flag("--ema", arguments->ema, "Evaluate the EMA weights (refuse a checkpoint without)");
  return {app, [arguments] { return run_robustness(*arguments); }};
}

}  // namespace vireo::cli
