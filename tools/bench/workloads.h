// The benchmark workloads behind `vireo bench` and tools/bench/compare.sh: one full training step of each
// model of ../shared/bench/pytorch, timed the way those scripts time it, and the SGEMM throughput of the
// engine's matmul beside the machine's FMA peak.
//
// Each workload is EXACTLY its PyTorch script's — same architecture (built from models/), input size,
// synthetic inputs, optimizer and settings, and the same step:
//
//   resnet18_cifar  torchvision resnet18(num_classes=10), 3×3 stride-1 stem, no max-pool; 3×32×32 N(0,1)
//                   inputs, labels in [0, 10); cross-entropy; SGD(lr 0.1, momentum 0.9, wd 5e-4)
//                   [adamw: AdamW(lr 1e-3, wd 0.05)]
//   vit_tiny        patch 4, width 192, `depth` pre-LN blocks (default 6), 3 heads, MLP 768, exact GELU,
//                   LayerNorm eps 1e-5 (nn.LayerNorm's), class token, 10 classes; 3×32×32 inputs;
//                   cross-entropy; AdamW(lr 1e-3, wd 0.05) [sgd: SGD(lr 0.05, momentum 0.9)]
//   ddpm_unet       models::ddpm_unet() on 1×28×28 x0 ~ U(−1, 1); each step draws t ~ U{0..999} and
//                   ε ~ N(0, 1), forms x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (linear β 1e-4..0.02) and minimizes
//                   MSE(ε̂(x_t, t), ε); AdamW(lr 2e-4, wd 0) [sgd: SGD(lr 0.01, momentum 0.9)]
//   byol_resnet18   online = CIFAR ResNet-18 trunk (512-d) + projector MLP 512-4096(BN, ReLU)-256,
//                   predictor MLP 256-4096(BN, ReLU)-256, target = a copy of online updated by EMA
//                   (τ = 0.996, BN buffers copied); both views in one 2B batch; loss
//                   Σ over the two pairings of mean(2 − 2·cos(p(view i), z_target(view j)));
//                   SGD(lr 0.05, momentum 0.9, wd 1e-5) [adamw: AdamW(lr 1e-3, wd 1e-6)]
//
//   step = zero_grad, forward, loss, backward, optimizer step [, EMA update], loss.item()
//
// `warmup` untimed steps, then `steps` steps each timed with a steady clock; images/s = batch / step time,
// reported as the median (and min/max) over the timed steps. Memory: the process's peak RSS (getrusage
// ru_maxrss, as the scripts read it) and the engine allocator's peak bytes held by live tensors.
//
// The memory switches of models/memory.h (approx_bp, ms_norm, checkpoint) apply to the trained modules
// when asked, and `memory_breakdown` adds one untimed step read at each phase's end — zero_grad, forward
// (the loss computed: what is held now is the graph's saved activations on top of the parameters and
// optimizer state), backward, optimizer — with the peak within each phase. That step resets the
// allocator's peak, so peak_tensor_mib then covers the timed steps alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/memory.h"

namespace vireo::bench {

// The workload names, in the order compare.sh runs them.
const std::vector<std::string>& model_bench_names();

struct ModelBenchOptions {
  std::string model = "resnet18_cifar";  // one of model_bench_names()
  int64_t batch = 64;                    // samples per step (BYOL: each sample is two views)
  int64_t steps = 20;                    // timed steps
  int64_t warmup = 3;                    // untimed steps first (the scripts' default)
  int threads = 2;                       // OpenMP threads (torch.set_num_threads in the scripts)
  std::optional<int64_t> depth;          // ViT blocks; unset: the script's 6. Refused for other models.
  std::optional<std::string> optimizer;  // "sgd" | "adamw"; unset: the script's default for the model
  uint64_t seed = 0;                     // parameters and synthetic data
  models::MemoryOptions memory_switches;  // applied to the trained modules (an error if one finds nothing)
  bool memory_breakdown = false;         // measure the allocator per phase of one extra untimed step
  Device device = Device::cpu();         // cuda: the model, data and optimizer state on the GPU
  std::optional<DType> autocast;         // bf16 | f16: the forward pass's products autocast (CUDA only)
};

// The allocator at the end of one phase of a step: bytes held by live tensors, and the peak within it.
struct PhaseMemory {
  std::string name;  // zero_grad | forward | backward | optimizer
  double held_mib = 0.0;
  double peak_mib = 0.0;
};

struct BenchResult {
  std::string model;      // the workload name ("vit_tiny"); `depth` says which ViT
  std::optional<int64_t> depth;
  std::string optimizer;  // as run: "sgd" or "adamw"
  int64_t batch = 0, steps = 0, warmup = 0;
  int threads = 0;
  std::string device;                // "cpu" or "cuda:N"
  std::optional<std::string> gpu;    // the GPU's name, on CUDA
  std::optional<std::string> autocast;  // "bf16" when the forward pass autocast
  int64_t parameters = 0;            // trained parameters (BYOL: online network + predictor)
  std::vector<double> step_seconds;  // every timed step, in order

  double img_per_s = 0.0;      // batch / median step time
  double img_per_s_min = 0.0;  // batch / slowest step
  double img_per_s_max = 0.0;  // batch / fastest step
  double step_ms_median = 0.0;

  // Forward GFLOP of one image through the trained network (2 × the multiply-adds of every convolution,
  // linear layer and attention product, counted by forward hooks as the scripts count them; for BYOL the
  // online network + predictor on one view), and the GFLOP of one training sample's whole step (3× the
  // forward for forward + backward; BYOL: 2 views × (3 × online + 1 × target)).
  double gflop_per_img = 0.0;
  double train_gflop_per_img = 0.0;
  double train_gflop_per_s = 0.0;  // train_gflop_per_img × img_per_s

  double peak_rss_mib = 0.0;                // whole process, getrusage ru_maxrss
  double peak_tensor_mib = 0.0;             // the CPU allocator's peak bytes in use by live storages
  size_t system_allocations_timed = 0;      // allocator requests that reached the system during timed steps
  double final_loss = 0.0;
  std::vector<double> load_average;         // the machine's 1/5/15-minute load when the run ended
  std::optional<models::MemoryReport> memory_switches;  // what the switches changed, when any was on
  std::vector<PhaseMemory> memory_phases;   // with memory_breakdown

  std::string to_json() const;  // one line, no trailing newline
};

// Builds the workload, runs it and measures it. Bad options (unknown model or optimizer, non-positive
// sizes, a depth for a model that has none) throw vireo::Error naming the option.
BenchResult run_model_bench(const ModelBenchOptions& options);

struct GemmBenchResult {
  int64_t n = 0;
  int threads = 0;
  double gflop_per_s = 0.0;       // median over timed batches of C = A·B, A and B n×n f32, via vireo::matmul
  double gflop_per_s_best = 0.0;  // fastest batch
  // The FMA peak measured here, now: every thread issuing independent fused multiply-adds of the widest
  // vectors this build has (AVX-512: 16 floats, AVX2: 8) from registers; 0 when the build has neither.
  double fma_peak_gflop_per_s = 0.0;
  int vector_floats = 0;          // floats per FMA instruction of that measurement
  std::vector<double> load_average;

  double fraction_of_peak() const { return fma_peak_gflop_per_s > 0 ? gflop_per_s / fma_peak_gflop_per_s : 0.0; }
  std::string to_json() const;
};

// n×n×n SGEMM through the engine's matmul on `threads` OpenMP threads.
GemmBenchResult run_gemm_bench(int64_t n, int threads);

// The FMA peak alone (GFLOP/s over `threads` threads, each spinning ~`seconds`).
double measure_fma_peak_gflop_per_s(int threads, double seconds = 0.2);

}  // namespace vireo::bench
