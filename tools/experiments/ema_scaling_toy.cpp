// Experiment 1 of the SSL issue: the EMA scaling rule on a toy problem (METHODS.md §1, "The EMA scaling
// rule"; Busbridge et al. 2023). Does a model EMA trained at κ times the batch follow the base run's EMA,
// per sample seen, when its momentum is ρ^κ — and drift away when it keeps ρ?
//
// The problem: a noisy quadratic in d dimensions. Each sample is x ~ N(0, I_d) and costs
//     ℓ(θ; x) = ½ Σ_j h_j (θ_j − x_j)²,   curvatures h_j spread log-uniformly over [0.01, 1],
// so a batch of B samples gives the gradient h ⊙ (θ − x̄) whose noise shrinks as 1/B. Starting from
// θ = 1, SGD (no momentum) descends toward 0 while its iterates jitter; an EMA of the iterates
// ξ ← ρ·ξ + (1 − ρ)·θ smooths them. We track the EMA's loss L(ξ) = ½ Σ_j h_j ξ_j² against the samples
// seen, averaged over many seeds (every seed sees the same sample stream at every batch size).
//
// Runs: base batch 8 with lr η = 0.02 and momentum ρ = 0.99; then κ = 4 and 16 (batch 32, 128) with the
// SGD rule η → κη (training::scale_optimizer) and the EMA momentum either ρ^κ (the rule, through
// training::ScalingRule) or ρ unchanged. Everything runs through the framework itself: an nn::Module,
// optim::SGD and training::ParameterEma, in f64.
//
// Output: a markdown table (stdout) of the deviation of each run's EMA-loss curve from the κ = 1 curve;
// in --out, the curves (curves.csv), the same table as JSON (summary.json) and the figure
// (ema_scaling_toy.svg). CTest runs it with a few seeds and checks the rule's claim on summary.json.
//
//   build/bin/experiment_ema_scaling_toy [--out DIR] [--seeds 32]     (tools/experiments/ema_scaling_toy.sh)
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "tools/report/svg_chart.h"
#include "training/ema_scaling.h"

namespace {

using namespace vireo;

constexpr TensorOptions kF64 = {.dtype = DType::f64};

// θ ∈ R^d with per-sample loss ½ Σ_j h_j (θ_j − x_j)²; the curvatures h are a buffer.
class NoisyQuadratic : public nn::Module {
 public:
  explicit NoisyQuadratic(const Tensor& curvature) {
    theta = register_parameter("theta", ones({curvature.numel()}, kF64));
    this->curvature = register_buffer("curvature", curvature);
  }
  // The mean loss of a batch [B, d].
  Tensor loss(const Tensor& batch) const {
    const Tensor per_sample = sum(mul(curvature, square(sub(theta, batch))), {1});
    return mul(mean(per_sample), 0.5);
  }
  // L(θ) = ½ Σ_j h_j θ_j², the loss without noise (up to the constant ½ Σ h_j).
  double clean_loss() const { return 0.5 * sum(mul(curvature, square(theta.detach()))).item(); }

  Tensor theta, curvature;
};

struct Setting {
  double kappa;
  bool ema_rule;
  std::string label() const {
    if (kappa == 1.0) return "κ = 1 (base)";
    return "κ = " + std::to_string(static_cast<int>(kappa)) + (ema_rule ? ", ρ^κ (rule)" : ", ρ (no rule)");
  }
};

struct Config {
  int64_t dims = 64;
  int64_t base_batch = 8;
  double base_lr = 0.02;
  double base_momentum = 0.99;
  int64_t samples = 16384;      // per run; a multiple of the largest batch
  int64_t record_every = 128;   // samples between two points of a curve (the largest batch)
  int seeds = 32;
};

// The EMA-loss curve of one run (one seed): L(ξ) at 0, record_every, 2·record_every, … samples.
std::vector<double> run_once(const Config& config, const Setting& setting, const Tensor& curvature, const Tensor& stream) {
  const auto batch = static_cast<int64_t>(std::llround(setting.kappa * static_cast<double>(config.base_batch)));
  auto model = std::make_shared<NoisyQuadratic>(curvature);
  auto average = std::make_shared<NoisyQuadratic>(curvature);
  const training::OptimizerHyperparameters scaled =
      training::scale_optimizer(training::OptimizerFamily::sgd, {.lr = config.base_lr}, setting.kappa);
  optim::SGD optimizer(model->named_parameters(), {.lr = scaled.lr});
  training::ParameterEma ema(model, average, std::make_shared<training::ConstantMomentum>(config.base_momentum),
                             training::ScalingRule{.kappa = setting.kappa, .ema_rule = setting.ema_rule});
  ema.reset_to_online();

  std::vector<double> curve = {average->clean_loss()};
  for (int64_t seen = 0; seen < config.samples; seen += batch) {
    optimizer.zero_grad();
    model->loss(slice(stream, 0, seen, seen + batch)).backward();
    optimizer.step();
    ema.update(seen);
    if ((seen + batch) % config.record_every == 0) curve.push_back(average->clean_loss());
  }
  return curve;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The EMA scaling rule on a noisy quadratic (issue 5, experiment 1)", "experiment_ema_scaling_toy"};
  Config config;
  std::string out_dir = "experiments/ema_scaling_toy";
  app.add_option("--out", out_dir, "folder for curves.csv and ema_scaling_toy.svg")->capture_default_str();
  app.add_option("--seeds", config.seeds, "runs averaged per setting")->capture_default_str()->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  omp_set_num_threads(1);

  try {
    std::filesystem::create_directories(out_dir);
    // h_j = 10^(−2 + 2j/(d − 1)): curvatures from 0.01 to 1.
    const Tensor curvature = pow(full({config.dims}, 10.0, kF64), add(mul(arange(config.dims, kF64), 2.0 / double(config.dims - 1)), -2.0));
    const std::vector<Setting> settings = {{1, true}, {4, true}, {4, false}, {16, true}, {16, false}};

    std::vector<std::vector<double>> mean_curves(settings.size());
    for (int seed = 0; seed < config.seeds; ++seed) {
      Generator generator(static_cast<uint64_t>(seed));
      const Tensor stream = randn({config.samples, config.dims}, kF64, &generator);  // the same samples for every κ
      for (size_t s = 0; s < settings.size(); ++s) {
        const std::vector<double> curve = run_once(config, settings[s], curvature, stream);
        if (mean_curves[s].empty()) mean_curves[s].assign(curve.size(), 0.0);
        for (size_t i = 0; i < curve.size(); ++i) mean_curves[s][i] += curve[i] / config.seeds;
      }
    }

    std::vector<double> samples_seen;
    for (size_t i = 0; i < mean_curves[0].size(); ++i) samples_seen.push_back(double(i) * double(config.record_every));

    // Deviation from the base curve, relative to it, over every recorded point after the first.
    std::printf("EMA of SGD on a noisy quadratic (d = %lld, base batch %lld, η = %g, ρ = %g, %lld samples, %d seeds)\n\n",
                static_cast<long long>(config.dims), static_cast<long long>(config.base_batch), config.base_lr,
                config.base_momentum, static_cast<long long>(config.samples), config.seeds);
    std::printf("| run | batch | EMA momentum per step | max relative deviation of L(EMA) from κ = 1 | mean relative deviation | L(EMA) at the end |\n");
    std::printf("|---|---:|---:|---:|---:|---:|\n");
    nlohmann::json summary = nlohmann::json::array();
    for (size_t s = 0; s < settings.size(); ++s) {
      double worst = 0, total = 0;
      for (size_t i = 1; i < samples_seen.size(); ++i) {
        const double relative = std::abs(mean_curves[s][i] - mean_curves[0][i]) / mean_curves[0][i];
        worst = std::max(worst, relative);
        total += relative;
      }
      const training::ScalingRule rule{.kappa = settings[s].kappa, .ema_rule = settings[s].ema_rule};
      std::printf("| %s | %lld | %.4f | %.1f%% | %.1f%% | %.4f |\n", settings[s].label().c_str(),
                  static_cast<long long>(std::llround(settings[s].kappa * config.base_batch)),
                  rule.momentum(config.base_momentum), 100 * worst, 100 * total / double(samples_seen.size() - 1),
                  mean_curves[s].back());
      summary.push_back({{"kappa", settings[s].kappa}, {"ema_rule", settings[s].ema_rule},
                         {"max_relative_deviation", worst}, {"mean_relative_deviation", total / double(samples_seen.size() - 1)},
                         {"final_ema_loss", mean_curves[s].back()}});
    }
    std::ofstream(out_dir + "/summary.json") << summary.dump() << "\n";

    std::ofstream csv(out_dir + "/curves.csv");
    csv << "samples_seen";
    for (const Setting& setting : settings) csv << ",\"" << setting.label() << "\"";
    csv << "\n";
    for (size_t i = 0; i < samples_seen.size(); ++i) {
      csv << samples_seen[i];
      for (const auto& curve : mean_curves) csv << "," << curve[i];
      csv << "\n";
    }
    if (!csv.flush()) throw Error("cannot write " + out_dir + "/curves.csv");

    report::SvgChart chart{.title = "EMA of SGD iterates on a noisy quadratic: the EMA's loss per sample seen",
                                .x_label = "samples seen", .y_label = "L(EMA), mean of " + std::to_string(config.seeds) + " seeds",
                                .log_y = true};
    const int colours[] = {7, 0, 0, 1, 1};  // grey base; κ = 4 blue, κ = 16 red; dashed without the rule
    for (size_t s : {1, 2, 3, 4, 0})  // the base curve last, on top of the ones that should hide it
      chart.add({.name = settings[s].label(), .x = samples_seen, .y = mean_curves[s], .colour = colours[s],
                 .dashed = !settings[s].ema_rule});
    chart.write(out_dir + "/ema_scaling_toy.svg");
    std::printf("\ncurves: %s/curves.csv, figure: %s/ema_scaling_toy.svg\n", out_dir.c_str(), out_dir.c_str());
  } catch (const Error& failure) {
    std::fprintf(stderr, "experiment_ema_scaling_toy: error: %s\n", failure.what());
    return 1;
  }
  return 0;
}
