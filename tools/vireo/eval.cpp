// vireo eval CHECKPOINT [key=value …]: the test accuracy of a checkpoint's model (and of its EMA model),
// rebuilt from the recipe stored in the checkpoint; for a self-supervised checkpoint, the kNN and linear-
// probe top-1 of its backbone (training/checkpoint_evaluation.h).
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
  bool untrained = false;
};

void print_accuracy(const char* label, const training::AccuracyCount& count) {
  std::printf("%s: %.2f%% (%lld of %lld)\n", label, 100.0 * count.fraction(), static_cast<long long>(count.correct),
              static_cast<long long>(count.total));
}

int run_eval(const EvalArguments& arguments) {
  const training::CheckpointEvaluation result = training::evaluate_checkpoint(arguments.checkpoint, arguments.overrides,
                                                                                       {.untrained = arguments.untrained});
  if (arguments.untrained)
    std::printf("%s: an untrained %s (the recipe's, seed %llu) on %s\n", arguments.checkpoint.c_str(),
                result.recipe.model.name.c_str(), static_cast<unsigned long long>(result.recipe.run.seed),
                result.recipe.data.dataset.c_str());
  else
    std::printf("%s: %s on %s, step %lld\n", arguments.checkpoint.c_str(), result.recipe.model.name.c_str(),
                result.recipe.data.dataset.c_str(), static_cast<long long>(result.step));
  if (!result.features.empty()) {
    for (const auto& [name, value] : result.features) std::printf("%s: %.2f%%\n", name.c_str(), 100.0 * value);
    return 0;
  }
  print_accuracy("test top1", result.model);
  if (result.has_ema) print_accuracy("ema test top1", result.ema);
  return 0;
}

}  // namespace

Subcommand add_eval_command(CLI::App& vireo) {
  auto arguments = std::make_shared<EvalArguments>();
  CLI::App* app = vireo.add_subcommand("eval", "Test accuracy of a checkpoint's model (SSL: kNN and linear probe)");
  app->footer("The model and the test data are rebuilt from the recipe stored in the checkpoint; overrides apply\n"
              "to it (data.root=/elsewhere, eval.batch_size=256). An SSL checkpoint gets its run's kNN monitor and\n"
              "linear probe; eval.train_examples=0 eval.linear_probe.epochs=100 probes on the whole training set.");
  app->add_option("checkpoint", arguments->checkpoint, "A checkpoint.safetensors written by vireo train")->required();
  app->add_option("overrides", arguments->overrides, "key.path=value assignments applied to the stored recipe");
  app->add_flag("--untrained", arguments->untrained,
                "Evaluate a fresh random initialization of the stored recipe instead of its weights (the floor)");
  return {app, [arguments] { return run_eval(*arguments); }};
}

}  // namespace vireo::cli
