// A side-by-side table of self-supervised runs: experiments 3 (ER at small batch) and 5 (H-SSL vs its
// ablation vs augmentation SimCLR) of the SSL issue compare a handful of recipe runs by their feature
// evaluations. Each --run names a label and a run folder; for each this prints the kNN top-1 after every
// evaluated epoch, the run's linear probe, the same probe on the untrained backbone (the run's floor) and
// the margin between them, the last logged loss and the median training throughput — as a Markdown table
// ready for the README — and optionally draws the kNN curves and writes the numbers as JSON.
//
// usage: experiment_ssl_runs --title TEXT --run LABEL=FOLDER [--run …] [--figure F.svg] [--summary S.json]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tools/experiments/ssl_metrics.h"
#include "tools/report/svg_chart.h"

namespace {

using vireo::experiments::formatted;
using vireo::experiments::percent;

struct LabelledRun {
  std::string label, folder;
  vireo::experiments::SslRunMetrics metrics;
};

std::optional<double> median(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Self-supervised runs side by side: kNN per epoch, linear probe against its floor"};
  std::string title, figure, summary_path;
  std::vector<std::string> specs;
  app.add_option("--title", title, "The table's and the figure's title")->required();
  app.add_option("--run", specs, "LABEL=FOLDER, a run folder holding metrics.jsonl (repeat)")->required();
  app.add_option("--figure", figure, "The SVG chart of the kNN curves to write");
  app.add_option("--summary", summary_path, "The JSON file of the numbers to write");
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<LabelledRun> runs;
    for (const std::string& spec : specs) {
      const size_t equals = spec.find('=');
      VIREO_CHECK(equals != std::string::npos && equals > 0 && equals + 1 < spec.size(),
                  "ssl_runs: --run ", spec, " is not LABEL=FOLDER");
      LabelledRun run{.label = spec.substr(0, equals), .folder = spec.substr(equals + 1), .metrics = {}};
      run.metrics = vireo::experiments::read_ssl_run(run.folder, "ssl_runs");
      runs.push_back(std::move(run));
    }

    std::printf("%s\n\n", title.c_str());
    std::printf("| run | kNN top-1 after each epoch (%%) | run's probe | floor | probe − floor | last loss | img/s (median) |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|\n");
    nlohmann::ordered_json summary = {{"title", title}, {"runs", nlohmann::ordered_json::array()}};
    for (const LabelledRun& run : runs) {
      const auto& m = run.metrics;
      std::string curve;
      for (size_t e = 0; e < m.knn.size(); ++e) {
        char point[32];
        std::snprintf(point, sizeof point, "%s%.1f", e == 0 ? "" : " → ", 100.0 * m.knn[e]);
        curve += point;
      }
      const std::optional<double> margin =
          m.linear && m.floor ? std::optional<double>(*m.linear - *m.floor) : std::nullopt;
      const std::optional<double> speed = median(m.images_per_second);
      std::printf("| %s | %s%s | %s | %s | %s | %s | %s |\n", run.label.c_str(), curve.c_str(),
                  m.linear ? "" : " (unfinished)", percent(m.linear).c_str(), percent(m.floor).c_str(),
                  percent(margin).c_str(), formatted(m.last_loss, "%.4g").c_str(), formatted(speed, "%.0f").c_str());
      summary["runs"].push_back({{"label", run.label}, {"folder", run.folder}, {"epochs", m.epochs},
                                 {"knn_top1", m.knn}, {"linear_top1", optional_json(m.linear)},
                                 {"floor_linear_top1", optional_json(m.floor)},
                                 {"last_loss", optional_json(m.last_loss)},
                                 {"median_img_per_s", optional_json(speed)}});
    }
    if (!summary_path.empty()) {
      std::ofstream out(summary_path);
      VIREO_CHECK(out.good(), "ssl_runs: cannot write ", summary_path);
      out << summary.dump(2) << "\n";
      std::printf("\nsummary: %s\n", summary_path.c_str());
    }
    if (!figure.empty()) {
      vireo::report::SvgChart chart{.title = title, .x_label = "epoch", .y_label = "kNN top-1 (%)"};
      for (const LabelledRun& run : runs) {
        vireo::report::Series line{.name = run.label, .x = run.metrics.epochs};
        for (const double value : run.metrics.knn) line.y.push_back(100.0 * value);
        chart.add(line);
      }
      chart.write(figure);
      std::printf("figure: %s\n", figure.c_str());
    }
  } catch (const vireo::Error& error) {
    std::fprintf(stderr, "experiment_ssl_runs: %s\n", error.what());
    return 1;
  }
  return 0;
}
