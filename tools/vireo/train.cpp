// vireo train RECIPE [key=value …]: loads a recipe, applies the overrides, trains, and prints where the
// run went and the test metrics it reached (accuracy, or a DDPM's test loss). A finished run also gets
// RUN_DIR/report.html (tools/report/run_report.h): curves, PCA and t-SNE of 500 test images (≈ 0.2 s of
// CPU for the t-SNE), neighbours and the confusion matrix — a few seconds at most.
//
//   vireo train training/recipes/quickstart.yaml
//   vireo train training/recipes/quickstart.yaml optimizer.lr=0.1 run.dir=/tmp/x
//   vireo train training/recipes/quickstart.yaml resume=true      (continue from the run's checkpoint)
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/report/html.h"
#include "tools/report/run_report.h"
#include "tools/vireo/commands.h"
#include "training/recipe.h"
#include "training/trainer.h"

namespace vireo::cli {
namespace {

// RUN_DIR/report.html. The run itself succeeded, so a report that cannot be written is a warning.
void write_report(const std::string& run_dir) {
  const std::string path = run_dir + "/report.html";
  try {
    report::write_text_file(path, report::run_report({run_dir}).render());
    std::printf("report: %s\n", path.c_str());
  } catch (const Error& failure) {
    std::fprintf(stderr, "vireo: warning: no report written: %s\n", failure.what());
  }
}

struct TrainArguments {
  std::string recipe;
  std::vector<std::string> overrides;
  bool resume = false;
  std::string progress = "auto";
};

int run_train(const TrainArguments& arguments) {
  std::vector<std::string> overrides;
  for (const std::string& assignment : arguments.overrides)
    // `resume=true` is short for run.resume=true: the one override every resumed run needs.
    overrides.push_back(assignment.rfind("resume=", 0) == 0 ? "run." + assignment : assignment);
  if (arguments.resume) overrides.push_back("run.resume=true");

  const training::Recipe recipe = training::load_recipe(arguments.recipe, overrides);
  training::TrainerOptions options;
  if (arguments.progress == "bar") options.progress = training::ProgressStyle::bar;
  if (arguments.progress == "lines") options.progress = training::ProgressStyle::lines;
  if (arguments.progress == "none") options.progress = training::ProgressStyle::silent;

  const training::TrainingSummary summary = training::train(recipe, options);
  std::printf("run folder: %s\n", summary.run_dir.c_str());
  if (!summary.finished) {
    std::printf("stopped after %lld steps; continue with: vireo train %s resume=true\n",
                static_cast<long long>(summary.steps), arguments.recipe.c_str());
    return 0;
  }
  for (const auto& [name, value] : summary.last_evaluation) {
    std::string label = name;
    for (char& c : label)
      if (c == '_') c = ' ';
    // Accuracies (…top1) as percentages; losses as they are.
    const bool is_accuracy = name.size() >= 4 && name.compare(name.size() - 4, 4, "top1") == 0;
    if (is_accuracy) std::printf("%s: %.2f%%\n", label.c_str(), 100.0 * value);
    else std::printf("%s: %.4f\n", label.c_str(), value);
  }
  std::printf("%lld steps in %.1f s (training %.1f s, evaluation %.1f s)\n", static_cast<long long>(summary.steps),
              summary.seconds, summary.training_seconds, summary.evaluation_seconds);
  write_report(summary.run_dir);
  return 0;
}

}  // namespace

Subcommand add_train_command(CLI::App& vireo) {
  auto arguments = std::make_shared<TrainArguments>();
  CLI::App* app = vireo.add_subcommand("train", "Train a model from a YAML recipe");
  app->footer(
      "Overrides set any recipe key: optimizer.lr=0.1 run.dir=/tmp/x data.batch_size=64 (values are YAML, so\n"
      "lists work: data.train_transforms.0.padding=4). resume=true (or --resume) continues the run from\n"
      "RUN_DIR/checkpoint.safetensors with exactly the metrics an uninterrupted run would log.\n"
      "The run folder receives recipe.resolved.yaml, metrics.jsonl, checkpoint.safetensors and, at the end,\n"
      "report.html (vireo report).");
  app->add_option("recipe", arguments->recipe, "The recipe file (e.g. training/recipes/quickstart.yaml)")->required();
  app->add_option("overrides", arguments->overrides, "key.path=value assignments applied to the recipe");
  app->add_flag("--resume", arguments->resume, "Continue from the run folder's checkpoint (run.resume=true)");
  app->add_option("--progress", arguments->progress, "Progress display: auto (a bar on a terminal), bar, lines, none")
      ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
  return {app, [arguments] { return run_train(*arguments); }};
}

}  // namespace vireo::cli
