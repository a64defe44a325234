// vireo eval CHECKPOINT [key=value …]: the test accuracy of a checkpoint's model (and of its EMA model),
// rebuilt from the recipe stored in the checkpoint.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "tools/vireo/commands.h"
#include "training/checkpoint_evaluation.h"

namespace vireo::cli {
namespace {

struct EvalArguments {
  std::string checkpoint;
  std::vector<std::string> overrides;
};

void print_accuracy(const char* label, const training::AccuracyCount& count) {
  std::printf("%s: %.2f%% (%lld of %lld)\n", label, 100.0 * count.fraction(), static_cast<long long>(count.correct),
              static_cast<long long>(count.total));
}

int run_eval(const EvalArguments& arguments) {
  const training::CheckpointEvaluation result = training::evaluate_checkpoint(arguments.checkpoint, arguments.overrides);
  std::printf("%s: %s on %s, step %lld\n", arguments.checkpoint.c_str(), result.recipe.model.name.c_str(),
              result.recipe.data.dataset.c_str(), static_cast<long long>(result.step));
  print_accuracy("test top1", result.model);
  if (result.has_ema) print_accuracy("ema test top1", result.ema);
  return 0;
}

}  // namespace

Subcommand add_eval_command(CLI::App& vireo) {
  auto arguments = std::make_shared<EvalArguments>();
  CLI::App* app = vireo.add_subcommand("eval", "Test accuracy of a checkpoint's model");
  app->footer("The model and the test data are rebuilt from the recipe stored in the checkpoint; overrides apply\n"
              "to it (data.root=/elsewhere, eval.batch_size=256).");
  app->add_option("checkpoint", arguments->checkpoint, "A checkpoint.safetensors written by vireo train")->required();
  app->add_option("overrides", arguments->overrides, "key.path=value assignments applied to the stored recipe");
  return {app, [arguments] { return run_eval(*arguments); }};
}

}  // namespace vireo::cli
