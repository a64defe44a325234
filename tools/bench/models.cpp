// bench_models: the training-step benchmarks of tools/bench/workloads.h from the command line, with the
// flags of `vireo bench` (which calls the same library functions). Prints ONE JSON line.
//
//   bench_models --model resnet18_cifar|vit_tiny|ddpm_unet|byol_resnet18 [--batch 64] [--steps 20]
//                [--warmup 3] [--threads 2] [--depth N (vit_tiny)] [--opt sgd|adamw] [--seed 0]
//   bench_models --gemm N [--threads 2]
//
// tools/bench/compare.sh runs it beside ../shared/bench/pytorch/run.sh.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "engine/error.h"
#include "tools/bench/workloads.h"

int main(int argc, char** argv) {
  using namespace vireo::bench;
  CLI::App app{"Vireo training-step and SGEMM benchmarks; one JSON line on stdout", "bench_models"};
  ModelBenchOptions options;
  std::string model;
  int64_t gemm_size = 0;
  int64_t depth = 0;
  std::string optimizer;
  auto* model_flag = app.add_option("--model", model, "workload")->check(CLI::IsMember(model_bench_names()));
  auto* gemm_flag = app.add_option("--gemm", gemm_size, "n: GFLOP/s of an n×n×n SGEMM instead")->check(CLI::PositiveNumber);
  model_flag->excludes(gemm_flag);
  app.add_option("--batch", options.batch, "samples per step")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--steps", options.steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", options.warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app.add_option("--threads", options.threads, "OpenMP threads")->capture_default_str()->check(CLI::PositiveNumber);
  auto* depth_flag = app.add_option("--depth", depth, "ViT blocks (vit_tiny; default 6)")->check(CLI::PositiveNumber);
  auto* optimizer_flag = app.add_option("--opt,--optimizer", optimizer, "the script's default unless given")
                             ->check(CLI::IsMember({"sgd", "adamw"}));
  app.add_option("--seed", options.seed, "parameters and synthetic data")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    if (gemm_flag->count()) {
      std::printf("%s\n", run_gemm_bench(gemm_size, options.threads).to_json().c_str());
      return 0;
    }
    if (model.empty()) {
      std::fprintf(stderr, "bench_models: give --model or --gemm (see --help)\n");
      return 2;
    }
    options.model = model;
    if (depth_flag->count()) options.depth = depth;
    if (optimizer_flag->count()) options.optimizer = optimizer;
    std::printf("%s\n", run_model_bench(options).to_json().c_str());
  } catch (const vireo::Error& error) {
    std::fprintf(stderr, "bench_models: %s\n", error.what());
    return 2;
  }
  return 0;
}
