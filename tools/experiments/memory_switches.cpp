// Experiment 1 of the memory issue: what each memory switch of models/memory.h (ReGELU2 approx-BP,
// MS-LayerNorm, block checkpointing) saves on ViT-Tiny training, at what speed, and whether accuracy holds.
//
// tools/experiments/memory_switches.sh does the runs — one `vireo bench --model vit_tiny --memory` process
// per configuration (plain, each switch alone, all three), and two short `vireo train` runs of the same
// recipe and seed with and without the switches — and then calls this program, which reads them and
// writes the comparison:
//
//   stdout / summary.md   the table: peak tensor memory (allocator), what the forward leaves held for the
//                         backward, peak RSS, img/s, each relative to plain; the two test accuracies
//   memory_switches.svg   tensor memory held at the end of each phase of a step, one line per configuration
//
//   build/bin/experiment_memory_switches --out DIR
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "tools/experiments/svg_chart.h"

namespace {

using nlohmann::json;
using vireo::fail;

struct Configuration {
  std::string name, label;
};

const std::vector<Configuration> kConfigurations = {{"plain", "plain"},
                                                    {"approx_bp", "approx_bp (ReGELU2)"},
                                                    {"ms_norm", "ms_norm (MS-LayerNorm)"},
                                                    {"checkpoint", "checkpoint: blocks"},
                                                    {"all", "all three"}};
const std::vector<std::string> kPhases = {"zero_grad", "forward", "backward", "optimizer"};

json read_json_line(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot be read (run tools/experiments/memory_switches.sh)");
  std::string line;
  std::getline(in, line);
  try {
    return json::parse(line);
  } catch (const json::exception& error) {
    fail(path, ": not a vireo bench JSON line: ", error.what());
  }
}

// The last test_top1 of a run's metrics.jsonl, or a negative number when the run is absent.
double final_test_top1(const std::string& path) {
  std::ifstream in(path);
  if (!in) return -1.0;
  double top1 = -1.0;
  for (std::string line; std::getline(in, line);) {
    const json entry = json::parse(line, nullptr, false);
    if (entry.is_object() && entry.contains("test_top1")) top1 = entry["test_top1"].get<double>();
  }
  return top1;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string relative(double value, double base) {
  const double change = 100.0 * (value / base - 1.0);
  return (change >= 0 ? "+" : "") + fixed(change, 0) + "%";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tabulate and plot the memory-switch runs of tools/experiments/memory_switches.sh"};
  std::string out = "experiments/memory_switches";
  app.add_option("--out", out, "the folder the script wrote into")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::vector<json> runs;
    for (const Configuration& configuration : kConfigurations)
      runs.push_back(read_json_line(out + "/bench_" + configuration.name + ".json"));
    const json& plain = runs.front();
    const double plain_peak = plain["peak_tensor_mib"].get<double>();
    const double plain_saved = plain["memory_phases"]["forward"]["held_mib"].get<double>() -
                               plain["memory_phases"]["zero_grad"]["held_mib"].get<double>();
    const double plain_speed = plain["img_per_s"].get<double>();
    const double plain_rss = plain["peak_rss_mib"].get<double>();

    std::ostringstream table;
    table << "| configuration | peak tensor MiB | held for backward MiB | peak RSS MiB | img/s |\n"
          << "|---|---|---|---|---|\n";
    vireo::experiments::SvgChart chart{.title = "ViT-Tiny training step: tensor memory held at each phase's end",
                                       .x_label = "phase: 1 zero_grad, 2 forward (loss), 3 backward, 4 optimizer step",
                                       .y_label = "MiB held by tensors"};
    for (size_t i = 0; i < runs.size(); ++i) {
      const json& run = runs[i];
      const double peak = run["peak_tensor_mib"].get<double>();
      const double saved = run["memory_phases"]["forward"]["held_mib"].get<double>() -
                           run["memory_phases"]["zero_grad"]["held_mib"].get<double>();
      const double speed = run["img_per_s"].get<double>(), rss = run["peak_rss_mib"].get<double>();
      const bool base = i == 0;
      table << "| " << kConfigurations[i].label << " | " << fixed(peak, 1) << (base ? "" : " (" + relative(peak, plain_peak) + ")")
            << " | " << fixed(saved, 1) << (base ? "" : " (" + relative(saved, plain_saved) + ")") << " | "
            << fixed(rss, 0) << (base ? "" : " (" + relative(rss, plain_rss) + ")") << " | " << fixed(speed, 1)
            << (base ? "" : " (" + relative(speed, plain_speed) + ")") << " |\n";
      vireo::experiments::Series line{.name = kConfigurations[i].label, .dashed = kConfigurations[i].name == "all"};
      for (size_t p = 0; p < kPhases.size(); ++p) {
        line.x.push_back(static_cast<double>(p + 1));
        line.y.push_back(run["memory_phases"][kPhases[p]]["held_mib"].get<double>());
      }
      chart.add(line);
    }
    const json& setting = plain;
    table << "\nvit_tiny (depth " << setting.value("depth", 0) << "), batch " << setting["batch"] << ", "
          << setting["threads"] << " threads, " << setting["steps"] << " timed steps; load average at the end of the "
          << "plain run " << setting["load_average"].dump() << ".\n";

    const double top1_plain = final_test_top1(out + "/train_plain/metrics.jsonl");
    const double top1_all = final_test_top1(out + "/train_all/metrics.jsonl");
    if (top1_plain >= 0 && top1_all >= 0)
      table << "\nShort-run test top-1 (same recipe and seed): plain " << fixed(100 * top1_plain, 2) << "%, all three "
            << fixed(100 * top1_all, 2) << "% (" << (top1_all >= top1_plain ? "+" : "")
            << fixed(100 * (top1_all - top1_plain), 2) << " pt).\n";

    std::printf("%s", table.str().c_str());
    std::ofstream summary(out + "/summary.md");
    summary << table.str();
    if (!summary) fail(out, "/summary.md: cannot be written");
    chart.write(out + "/memory_switches.svg");
  } catch (const vireo::Error& error) {
    std::fprintf(stderr, "experiment_memory_switches: %s\n", error.what());
    return 1;
  }
  return 0;
}
