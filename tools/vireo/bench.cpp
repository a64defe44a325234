// vireo bench: one full training step of a model, timed — or the engine's SGEMM — printed as ONE JSON line.
//
//   vireo bench --model resnet18_cifar|vit_tiny|ddpm_unet|byol_resnet18 [--batch 64] [--steps 20]
//               [--warmup 3] [--threads 2] [--depth N (vit_tiny)] [--opt sgd|adamw] [--seed 0]
//               [--approx-bp] [--ms-norm] [--checkpoint-blocks] [--memory] [--device cuda [--autocast bf16]]
//   vireo bench --gemm N [--threads 2]
//
// Each workload is exactly the matching script of ../shared/bench/pytorch (tools/bench/workloads.h says
// how), so tools/bench/compare.sh can run the two alternately and divide: "img_per_s" (median over the
// timed steps, with "img_per_s_min"/"img_per_s_max"), "peak_rss_mib" (getrusage, as the scripts read it)
// and "peak_tensor_mib" (the allocator's peak held by live tensors). Nothing here asserts a speed.
//
// --approx-bp, --ms-norm, --checkpoint-blocks turn on the memory switches of models/memory.h (the recipe's
// memory.approx_bp / ms_norm / checkpoint: blocks); --memory adds "memory_phases": one extra untimed step
// with the tensor memory held at the end of zero_grad, forward, backward and optimizer, and each phase's
// peak (then "peak_tensor_mib" is the peak over the timed steps alone, the breakdown having reset it).
//
// --device cuda runs the step on the GPU (model, data and optimizer state there; "peak_tensor_mib" is then the
// CUDA caching allocator's peak) and --autocast bf16 runs the forward pass's products in bf16, as
// bench/pytorch_cuda's scripts do under torch.autocast. Each step's time ends with loss.item(), which waits
// for the GPU.
#include <cstdio>
#include <memory>
#include <string>

#include "engine/error.h"
#include "tools/bench/workloads.h"
#include "tools/vireo/commands.h"

namespace vireo::cli {
namespace {

struct BenchArguments {
  bench::ModelBenchOptions options;
  std::string model;
  int64_t gemm_size = 0;
  int64_t depth = 0;
  std::string optimizer;
  CLI::Option* gemm_flag = nullptr;
  CLI::Option* depth_flag = nullptr;
  CLI::Option* optimizer_flag = nullptr;
  bool checkpoint_blocks = false;
  std::string device = "cpu";
  std::string autocast;
};

int run_bench(BenchArguments& arguments) {
  if (arguments.gemm_flag->count()) {
    std::printf("%s\n", bench::run_gemm_bench(arguments.gemm_size, arguments.options.threads).to_json().c_str());
    return 0;
  }
  if (arguments.model.empty()) throw Error("vireo bench: give --model or --gemm (see vireo bench --help)");
  bench::ModelBenchOptions options = arguments.options;
  options.model = arguments.model;
  if (arguments.depth_flag->count()) options.depth = arguments.depth;
  if (arguments.optimizer_flag->count()) options.optimizer = arguments.optimizer;
  if (arguments.checkpoint_blocks) options.memory_switches.checkpoint = models::CheckpointGranularity::blocks;
  options.device = Device::parse(arguments.device);
  if (arguments.autocast == "bf16") options.autocast = DType::bf16;
  if (arguments.autocast == "f16") options.autocast = DType::f16;
  std::printf("%s\n", bench::run_model_bench(options).to_json().c_str());
  return 0;
}

}  // namespace

Subcommand add_bench_command(CLI::App& vireo) {
  auto arguments = std::make_shared<BenchArguments>();
  bench::ModelBenchOptions& options = arguments->options;
  CLI::App* app = vireo.add_subcommand("bench", "Time a training step (or SGEMM); one JSON line on stdout");
  app->footer("The workloads are those of ../shared/bench/pytorch; tools/bench/compare.sh runs both side by side.");
  auto* model_flag =
      app->add_option("--model", arguments->model, "workload")->check(CLI::IsMember(bench::model_bench_names()));
  arguments->gemm_flag =
      app->add_option("--gemm", arguments->gemm_size, "n: GFLOP/s of an n×n×n SGEMM instead")->check(CLI::PositiveNumber);
  model_flag->excludes(arguments->gemm_flag);
  app->add_option("--batch", options.batch, "samples per step")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--steps", options.steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--warmup", options.warmup, "untimed steps first")->capture_default_str()->check(CLI::NonNegativeNumber);
  app->add_option("--threads", options.threads, "OpenMP threads")->capture_default_str()->check(CLI::PositiveNumber);
  arguments->depth_flag =
      app->add_option("--depth", arguments->depth, "ViT blocks (vit_tiny; default 6)")->check(CLI::PositiveNumber);
  arguments->optimizer_flag = app->add_option("--opt,--optimizer", arguments->optimizer, "the script's default unless given")
                                  ->check(CLI::IsMember({"sgd", "adamw"}));
  app->add_option("--seed", options.seed, "parameters and synthetic data")->capture_default_str();
  app->add_flag("--approx-bp", options.memory_switches.approx_bp, "ReGELU2/ReSiLU2 backward (memory.approx_bp)");
  app->add_flag("--ms-norm", options.memory_switches.ms_norm, "MS-LayerNorm before each Linear (memory.ms_norm)");
  app->add_flag("--checkpoint-blocks", arguments->checkpoint_blocks, "recompute each block in backward (memory.checkpoint)");
  app->add_option("--device", arguments->device, "cpu, cuda or cuda:N")->capture_default_str();
  app->add_option("--autocast", arguments->autocast, "bf16 or f16: the forward pass's products in 16 bits (CUDA)")
      ->check(CLI::IsMember({"bf16", "f16"}));
  app->add_flag("--memory", options.memory_breakdown, "tensor memory per phase of one extra step");
  return {app, [arguments] { return run_bench(*arguments); }};
}

}  // namespace vireo::cli
