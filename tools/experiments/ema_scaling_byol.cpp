// Experiment 2 of the SSL issue: the EMA scaling rule on BYOL (METHODS.md §1, "The EMA scaling rule").
// BYOL runs at batch 64, 256 (the base) and 512 — the same samples seen — with the rule (teacher momentum
// τ → τ^κ, κ = batch/256, besides LARS's lr × κ) and without it (the lr scaled only). The claim: with the
// rule the kNN curves (per epoch) agree with the base run's within about a point; without it they separate.
//
// The runs come from tools/experiments/ema_scaling_byol.sh, one folder per run under --in:
//   b256            the base run (κ = 1: the rule changes nothing)
//   b<B>_rule       batch B with scaling.ema_rule true
//   b<B>_norule     batch B with scaling.ema_rule false
// each holding the run's metrics.jsonl (knn_top1 after every epoch, linear_top1 at the end). This program
// gathers them: a table of kNN per epoch, each run's largest and final |Δ kNN| against the base, its
// linear probe, OUT/summary.json and the figure.
//
// usage: experiment_ema_scaling_byol --in FOLDER [--figure ema_scaling_byol.svg]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/experiments/ssl_metrics.h"
#include "tools/report/svg_chart.h"

namespace {

constexpr int64_t kBaseBatch = 256;

struct Run {
  std::string name;
  int64_t batch = 0;
  bool rule = true;
  std::vector<double> epochs = {}, knn = {};  // knn_top1 after each evaluated epoch
  std::optional<double> linear = {};          // linear_top1 at the end, when the run finished
};

// The kNN curve and the probe of one run folder's metrics.jsonl.
Run read_run(const std::filesystem::path& folder, int64_t batch, bool rule) {
  const vireo::experiments::SslRunMetrics metrics = vireo::experiments::read_ssl_run(folder, "ema_scaling_byol");
  return Run{.name = folder.filename().string(), .batch = batch, .rule = rule, .epochs = metrics.epochs,
             .knn = metrics.knn, .linear = metrics.linear};
}

using vireo::experiments::percent;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Experiment 2: BYOL's kNN curves across batch sizes, with and without the EMA scaling rule"};
  std::string folder, figure;
  app.add_option("--in", folder, "The folder of run folders (b256, b<B>_rule, b<B>_norule)")->required();
  app.add_option("--figure", figure, "The SVG line chart to write");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::regex pattern(R"(b(\d+)(_(rule|norule))?)");
    std::optional<Run> base;
    std::vector<Run> runs;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      std::smatch match;
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory() || !std::regex_match(name, match, pattern)) continue;
      const int64_t batch = std::stoll(match[1].str());
      if (batch == kBaseBatch) {
        base = read_run(entry.path(), batch, true);
      } else {
        VIREO_CHECK(match[3].matched, "ema_scaling_byol: ", name, " names no _rule or _norule");
        runs.push_back(read_run(entry.path(), batch, match[3].str() == "rule"));
      }
    }
    VIREO_CHECK(base.has_value(), "ema_scaling_byol: no base run b", kBaseBatch, " in ", folder);
    std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) {
      return a.batch != b.batch ? a.batch < b.batch : a.rule > b.rule;
    });

    std::printf("kNN top-1 (%%) after each epoch; |Δ| against the base run b%lld (κ = 1)\n",
                static_cast<long long>(kBaseBatch));
    std::printf("%-12s %6s %6s %5s |", "run", "batch", "κ", "rule");
    for (const double epoch : base->epochs) std::printf(" ep %-4g", epoch);
    std::printf("| max|Δ| last|Δ| | linear\n");
    nlohmann::ordered_json summary = {{"base", base->name}, {"runs", nlohmann::ordered_json::array()}};
    auto print_run = [&](const Run& run, const std::optional<double> max_delta, const std::optional<double> last_delta) {
      std::printf("%-12s %6lld %6.3g %5s |", run.name.c_str(), static_cast<long long>(run.batch),
                  static_cast<double>(run.batch) / kBaseBatch, run.batch == kBaseBatch ? "-" : run.rule ? "yes" : "no");
      for (size_t e = 0; e < base->epochs.size(); ++e) {
        if (e < run.knn.size()) std::printf(" %7.2f", 100.0 * run.knn[e]);
        else std::printf(" %7s", "-");
      }
      std::printf("| %6s %7s | %6s\n", percent(max_delta).c_str(), percent(last_delta).c_str(),
                  percent(run.linear).c_str());
    };
    print_run(*base, std::nullopt, std::nullopt);
    summary["runs"].push_back({{"name", base->name}, {"batch", base->batch}, {"kappa", 1.0}, {"ema_rule", true},
                               {"epochs", base->epochs}, {"knn_top1", base->knn},
                               {"linear_top1", base->linear ? nlohmann::json(*base->linear) : nlohmann::json()}});
    for (const Run& run : runs) {
      // Compared epoch by epoch where both have a value (the same samples seen at every batch size).
      double max_delta = 0.0, last_delta = 0.0;
      const size_t common = std::min(run.knn.size(), base->knn.size());
      VIREO_CHECK(common > 0, "ema_scaling_byol: ", run.name, " shares no evaluated epoch with the base run");
      for (size_t e = 0; e < common; ++e) {
        VIREO_CHECK(run.epochs[e] == base->epochs[e], "ema_scaling_byol: ", run.name, " evaluated epoch ",
                    run.epochs[e], " where the base run evaluated ", base->epochs[e]);
        const double delta = std::fabs(run.knn[e] - base->knn[e]);
        max_delta = std::max(max_delta, delta);
        last_delta = delta;
      }
      print_run(run, max_delta, last_delta);
      summary["runs"].push_back({{"name", run.name}, {"batch", run.batch},
                                 {"kappa", static_cast<double>(run.batch) / kBaseBatch}, {"ema_rule", run.rule},
                                 {"epochs", run.epochs}, {"knn_top1", run.knn},
                                 {"linear_top1", run.linear ? nlohmann::json(*run.linear) : nlohmann::json()},
                                 {"max_abs_knn_difference", max_delta}, {"last_abs_knn_difference", last_delta}});
    }
    std::ofstream(folder + "/summary.json") << summary.dump(2) << "\n";
    std::printf("summary: %s/summary.json\n", folder.c_str());

    if (!figure.empty()) {
      vireo::report::SvgChart chart{.title = "BYOL kNN top-1 per epoch: EMA scaling rule (solid) vs lr-only (dashed)",
                                    .x_label = "epoch (same samples seen)", .y_label = "kNN top-1 (%)"};
      std::map<int64_t, int> colours = {{kBaseBatch, 0}};
      auto add = [&](const Run& run) {
        if (!colours.count(run.batch)) colours[run.batch] = static_cast<int>(colours.size());
        vireo::report::Series line{.name = "batch " + std::to_string(run.batch) +
                                           (run.batch == kBaseBatch ? " (base)" : run.rule ? ", rule" : ", no rule"),
                                   .colour = colours[run.batch], .dashed = !run.rule};
        line.x = run.epochs;
        for (const double value : run.knn) line.y.push_back(100.0 * value);
        chart.add(line);
      };
      add(*base);
      for (const Run& run : runs) add(run);
      chart.write(figure);
      std::printf("figure: %s\n", figure.c_str());
    }
  } catch (const vireo::Error& error) {
    std::fprintf(stderr, "experiment_ema_scaling_byol: %s\n", error.what());
    return 1;
  }
  return 0;
}
