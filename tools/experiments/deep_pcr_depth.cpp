// Experiment 2 of the methods issue: DeepPCR's sequential depth and wall-clock time against the depth L of
// a chain (METHODS.md §3, "DeepPCR"; engine/parallel/deep_pcr.h). A deep, narrow tanh MLP
//     z_l = tanh(W_l z_{l−1} + b_l),   W_l ~ N(0, gain²/d),   b_l ~ N(0, 0.1²),   z_0 ~ N(0, 1),
// of width d is evaluated layer after layer (L sequential steps) and by DeepPCR: Newton iterations from
// z = 0, each one parallel linearisation plus ⌈log₂ L⌉ PCR sweeps, until the residual is below the
// tolerance (f32 by default; --f64 on request). For L = 16, 32, … and each width we record the Newton
// iterations, the sequential steps, the largest difference from the sequential states and gradients, and
// the wall-clock times of both forward passes (the PCR one on 1 and on `--threads` threads) and both
// backward passes (best of `--repeats`). The default gain 1 keeps the chain from being chaotic; at gain 2
// (--gain 2) perturbations grow exponentially along it, Newton needs O(L) iterations, and beyond some L
// rounding keeps it from converging at all.
//
// Output: a markdown table (stdout); in --out the rows as results.csv and summary.json (with the load
// average before and after — the times mean something only on an idle machine), and two figures:
// deep_pcr_depth.svg (sequential steps vs L) and deep_pcr_time.svg (forward time vs L). CTest runs it
// at small L and checks the claims on summary.json (tests/tools/run_deep_pcr_check.cmake).
//
//   build/bin/experiment_deep_pcr_depth [--out DIR] [--widths 16,32,64] [--max-depth 1024] [--threads 2]
//   (tools/experiments/deep_pcr_depth.sh)
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/parallel/deep_pcr.h"
#include "engine/random.h"
#include "tools/report/svg_chart.h"

namespace {

using namespace vireo;

struct Config {
  std::vector<int64_t> widths = {16, 32, 64};
  int64_t min_depth = 16, max_depth = 1024;  // L = min_depth, 2·min_depth, … ≤ max_depth
  int64_t batch = 1;
  double gain = 1.0;
  int threads = 2;
  int repeats = 3;
  uint64_t seed = 0;
  bool f64 = false;  // compute in f64 instead of f32
};

struct Row {
  int64_t width = 0, layers = 0;
  deep_pcr::Statistics statistics = {};
  int64_t backward_sweeps = 0;
  double state_difference = 0, gradient_difference = 0;  // max |PCR − sequential|
  double sequential_forward_ms = 0, pcr_forward_one_thread_ms = 0, pcr_forward_ms = 0;
  double sequential_backward_ms = 0, pcr_backward_ms = 0;
};

// The best of `repeats` wall-clock times of `body`, in milliseconds, on `threads` OpenMP threads.
double best_time_ms(int repeats, int threads, const std::function<void()>& body) {
  omp_set_num_threads(threads);
  double best = 1e300;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

double max_difference(const Tensor& a, const Tensor& b) { return amax(abs(sub(a, b))).item(); }

std::vector<double> load_average() {
  double loads[3] = {0, 0, 0};
  if (getloadavg(loads, 3) != 3) return {};
  return {loads[0], loads[1], loads[2]};
}

Row measure(const Config& config, int64_t width, int64_t layers) {
  Generator generator(config.seed + static_cast<uint64_t>(1000 * width + layers));
  const TensorOptions options{.dtype = config.f64 ? DType::f64 : DType::f32};
  const Tensor input = randn({config.batch, width}, options, &generator);
  const Tensor weights = mul(randn({layers, width, width}, options, &generator), config.gain / std::sqrt(double(width)));
  const Tensor biases = mul(randn({layers, width}, options, &generator), 0.1);
  const Tensor output_gradient = randn({config.batch, width}, options, &generator);  // ∂loss/∂z_L
  const auto tanh = deep_pcr::Activation::tanh;

  Row row{.width = width, .layers = layers};
  omp_set_num_threads(config.threads);
  const deep_pcr::Forward sequential = deep_pcr::sequential_forward(input, weights, biases, tanh);
  const deep_pcr::Forward parallel = deep_pcr::forward(input, weights, biases, tanh);
  row.statistics = parallel.statistics;
  row.state_difference = max_difference(parallel.states, sequential.states);
  const deep_pcr::Gradients sequential_gradients =
      deep_pcr::sequential_backward(input, sequential.states, weights, biases, tanh, output_gradient);
  const deep_pcr::Gradients parallel_gradients =
      deep_pcr::backward(input, parallel.states, weights, biases, tanh, output_gradient);
  row.backward_sweeps = parallel_gradients.sweeps;
  row.gradient_difference = std::max({max_difference(parallel_gradients.input, sequential_gradients.input),
                                      max_difference(parallel_gradients.weights, sequential_gradients.weights),
                                      max_difference(parallel_gradients.biases, sequential_gradients.biases)});

  // The sequential chain is one thread's work by nature: one d×d product after the other.
  row.sequential_forward_ms = best_time_ms(config.repeats, 1, [&] { deep_pcr::sequential_forward(input, weights, biases, tanh); });
  row.pcr_forward_one_thread_ms = best_time_ms(config.repeats, 1, [&] { deep_pcr::forward(input, weights, biases, tanh); });
  row.pcr_forward_ms = best_time_ms(config.repeats, config.threads, [&] { deep_pcr::forward(input, weights, biases, tanh); });
  row.sequential_backward_ms = best_time_ms(config.repeats, 1, [&] {
    deep_pcr::sequential_backward(input, sequential.states, weights, biases, tanh, output_gradient);
  });
  row.pcr_backward_ms = best_time_ms(config.repeats, config.threads, [&] {
    deep_pcr::backward(input, parallel.states, weights, biases, tanh, output_gradient);
  });
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"DeepPCR: sequential depth and time against the depth of a tanh MLP (issue 10, experiment 2)",
               "experiment_deep_pcr_depth"};
  Config config;
  std::string out_dir = "experiments/deep_pcr_depth";
  app.add_option("--out", out_dir, "folder for results.csv, summary.json and the figures")->capture_default_str();
  app.add_option("--widths", config.widths, "widths d of the chain")->delimiter(',')->capture_default_str();
  app.add_option("--min-depth", config.min_depth, "smallest L (then doubled)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--max-depth", config.max_depth, "largest L")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch", config.batch, "samples B")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--gain", config.gain, "W_l ~ N(0, gain²/d)")->capture_default_str();
  app.add_option("--threads", config.threads, "OpenMP threads of the PCR runs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--repeats", config.repeats, "timed runs per measurement (the best counts)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", config.seed, "seed of the random chains")->capture_default_str();
  app.add_flag("--f64", config.f64, "compute in f64 (Newton tolerance 1e-10) instead of f32 (1e-5)");
  CLI11_PARSE(app, argc, argv);

  try {
    std::filesystem::create_directories(out_dir);
    const std::vector<double> load_before = load_average();
    std::vector<Row> rows;
    for (const int64_t width : config.widths)
      for (int64_t layers = config.min_depth; layers <= config.max_depth; layers *= 2) rows.push_back(measure(config, width, layers));
    const std::vector<double> load_after = load_average();

    std::printf("DeepPCR on a tanh MLP (%s, batch %lld, gain %g, Newton from z = 0 to residual ≤ %s; PCR on %d threads, "
                "the sequential chain on 1; best of %d; load average %.2f before, %.2f after)\n\n",
                config.f64 ? "f64" : "f32", static_cast<long long>(config.batch), config.gain, config.f64 ? "1e-10" : "1e-5", config.threads, config.repeats,
                load_before.empty() ? -1.0 : load_before[0], load_after.empty() ? -1.0 : load_after[0]);
    std::printf("| d | L | Newton iterations | sweeps per solve | sequential steps (PCR / chain) | max state difference | "
                "max gradient difference | forward ms: chain | PCR, 1 thread | PCR, %d threads | PCR / chain | "
                "backward ms: chain | PCR, %d threads | PCR / chain |\n",
                config.threads, config.threads);
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    nlohmann::json summary = {{"dtype", config.f64 ? "f64" : "f32"}, {"batch", config.batch}, {"gain", config.gain}, {"threads", config.threads},
                              {"load_average_before", load_before}, {"load_average_after", load_after},
                              {"rows", nlohmann::json::array()}};
    std::ofstream csv(out_dir + "/results.csv");
    csv << "width,layers,newton_iterations,sweeps_per_solve,sequential_steps,residual,converged,backward_sweeps,"
           "state_difference,gradient_difference,sequential_forward_ms,pcr_forward_one_thread_ms,pcr_forward_ms,"
           "sequential_backward_ms,pcr_backward_ms\n";
    for (const Row& row : rows) {
      const deep_pcr::Statistics& s = row.statistics;
      std::printf("| %lld | %lld | %lld | %lld | %lld / %lld | %.1e | %.1e | %.3f | %.2f | %.2f | %.3g× | %.3f | %.2f | %.3g× |\n",
                  static_cast<long long>(row.width), static_cast<long long>(row.layers),
                  static_cast<long long>(s.newton_iterations), static_cast<long long>(s.sweeps_per_solve),
                  static_cast<long long>(s.sequential_steps), static_cast<long long>(row.layers), row.state_difference,
                  row.gradient_difference, row.sequential_forward_ms, row.pcr_forward_one_thread_ms, row.pcr_forward_ms,
                  row.pcr_forward_ms / row.sequential_forward_ms, row.sequential_backward_ms, row.pcr_backward_ms,
                  row.pcr_backward_ms / row.sequential_backward_ms);
      csv << row.width << "," << row.layers << "," << s.newton_iterations << "," << s.sweeps_per_solve << ","
          << s.sequential_steps << "," << s.residual << "," << s.converged << "," << row.backward_sweeps << ","
          << row.state_difference << "," << row.gradient_difference << "," << row.sequential_forward_ms << ","
          << row.pcr_forward_one_thread_ms << "," << row.pcr_forward_ms << "," << row.sequential_backward_ms << ","
          << row.pcr_backward_ms << "\n";
      summary["rows"].push_back({{"width", row.width}, {"layers", row.layers}, {"newton_iterations", s.newton_iterations},
                                 {"sweeps_per_solve", s.sweeps_per_solve}, {"sequential_steps", s.sequential_steps},
                                 {"residual", s.residual}, {"converged", s.converged}, {"backward_sweeps", row.backward_sweeps},
                                 {"state_difference", row.state_difference}, {"gradient_difference", row.gradient_difference},
                                 {"sequential_forward_ms", row.sequential_forward_ms}, {"pcr_forward_ms", row.pcr_forward_ms},
                                 {"pcr_forward_one_thread_ms", row.pcr_forward_one_thread_ms},
                                 {"sequential_backward_ms", row.sequential_backward_ms}, {"pcr_backward_ms", row.pcr_backward_ms}});
    }
    if (!csv.flush()) throw Error("cannot write " + out_dir + "/results.csv");
    std::ofstream(out_dir + "/summary.json") << summary.dump(1) << "\n";

    // The figures: x = log₂ L, one line per width (the sequential chain's depth L is the same for all).
    report::SvgChart depth{.title = "DeepPCR on a tanh MLP: steps that must run one after the other",
                                .x_label = "log₂ L (L = depth of the chain)", .y_label = "sequential steps", .log_y = true};
    report::SvgChart time{.title = "DeepPCR on a tanh MLP: forward wall-clock time on this CPU",
                               .x_label = "log₂ L (L = depth of the chain)", .y_label = "milliseconds (best of " +
                               std::to_string(config.repeats) + ")", .log_y = true};
    std::vector<double> log_depths, chain_steps;
    for (int64_t layers = config.min_depth; layers <= config.max_depth; layers *= 2) {
      log_depths.push_back(std::log2(double(layers)));
      chain_steps.push_back(double(layers));
    }
    depth.add({.name = "sequential chain: L", .x = log_depths, .y = chain_steps, .colour = 7, .dashed = true});
    for (size_t w = 0; w < config.widths.size(); ++w) {
      std::vector<double> steps, chain_ms, pcr_ms;
      for (const Row& row : rows)
        if (row.width == config.widths[w]) {
          steps.push_back(double(row.statistics.sequential_steps));
          chain_ms.push_back(row.sequential_forward_ms);
          pcr_ms.push_back(row.pcr_forward_ms);
        }
      const std::string d = "d = " + std::to_string(config.widths[w]);
      const int colour = static_cast<int>(w);
      depth.add({.name = "DeepPCR, " + d, .x = log_depths, .y = steps, .colour = colour});
      time.add({.name = "sequential chain, " + d, .x = log_depths, .y = chain_ms, .colour = colour, .dashed = true});
      time.add({.name = "DeepPCR (" + std::to_string(config.threads) + " threads), " + d, .x = log_depths, .y = pcr_ms,
                .colour = colour});
    }
    depth.write(out_dir + "/deep_pcr_depth.svg");
    time.write(out_dir + "/deep_pcr_time.svg");
    std::printf("\nrows: %s/results.csv, figures: %s/deep_pcr_depth.svg, %s/deep_pcr_time.svg\n", out_dir.c_str(),
                out_dir.c_str(), out_dir.c_str());
  } catch (const Error& failure) {
    std::fprintf(stderr, "experiment_deep_pcr_depth: error: %s\n", failure.what());
    return 1;
  }
  return 0;
}
