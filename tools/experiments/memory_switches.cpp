// Experiment 1 of the memory issue: what each memory switch of models/memory.h (ReGELU2 approx-BP,
// MS-LayerNorm, block checkpointing) saves on ViT-Tiny training, at what speed, and whether accuracy holds.
//
// tools/experiments/memory_switches.sh does the runs — `vireo bench --model vit_tiny --memory` processes
// per configuration (plain, each switch alone, approx_bp + ms_norm as the paper pairs them, all three),
// in rounds, and short `vireo train` runs of one recipe and seed with and without the switches (and the
// plain one again with another seed, for the spread the seed alone makes) —
// and then calls this program, which reads them and writes the comparison:
//
//   stdout / summary.md   the table: peak tensor memory (allocator), what the forward leaves held for the
//                         backward, peak RSS (first round; the memory is the same in every round), img/s
//                         (the mean over the rounds), each relative to plain; the two test accuracies
//   memory_switches.svg   tensor memory held at the end of each phase of a step, one line per configuration
//
//   build/bin/experiment_memory_switches --out DIR
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "tools/report/svg_chart.h"

namespace {

using nlohmann::json;
using vireo::fail;

struct Configuration {
  std::string name, label;
};

const std::vector<Configuration> kConfigurations = {{"plain", "plain"},
                                                    {"approx_bp", "approx_bp (ReGELU2)"},
                                                    {"ms_norm", "ms_norm (MS-LayerNorm)"},
                                                    {"approx_bp_ms_norm", "approx_bp + ms_norm"},
                                                    {"checkpoint", "checkpoint: blocks"},
                                                    {"all", "all three"}};
const std::vector<std::string> kPhases = {"zero_grad", "forward", "backward", "optimizer"};

// The bench lines of one configuration, one per round: the first, with "img_per_s" replaced by the mean
// over the rounds and "rounds" and "highest_load" (the largest 1-minute load average seen) added.
json read_rounds(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, ": cannot be read (run tools/experiments/memory_switches.sh)");
  json first;
  double speed_sum = 0.0, highest_load = 0.0;
  int rounds = 0;
  for (std::string line; std::getline(in, line);) {
    json run;
    try {
      run = json::parse(line);
    } catch (const json::exception& error) {
      fail(path, ": not a vireo bench JSON line: ", error.what());
    }
    if (rounds == 0) first = run;
    speed_sum += run["img_per_s"].get<double>();
    if (!run["load_average"].empty()) highest_load = std::max(highest_load, run["load_average"][0].get<double>());
    ++rounds;
  }
  if (rounds == 0) fail(path, ": empty");
  first["img_per_s"] = speed_sum / rounds;
  first["rounds"] = rounds;
  first["highest_load"] = highest_load;
  return first;
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
      runs.push_back(read_rounds(out + "/bench_" + configuration.name + ".json"));
    const json& plain = runs.front();
    const double plain_peak = plain["peak_tensor_mib"].get<double>();
    const double plain_saved = plain["memory_phases"]["forward"]["held_mib"].get<double>() -
                               plain["memory_phases"]["zero_grad"]["held_mib"].get<double>();
    const double plain_speed = plain["img_per_s"].get<double>();
    const double plain_rss = plain["peak_rss_mib"].get<double>();

    std::ostringstream table;
    table << "| configuration | peak tensor MiB | held for backward MiB | peak RSS MiB | img/s |\n"
          << "|---|---|---|---|---|\n";
    vireo::report::SvgChart chart{.title = "ViT-Tiny training step: tensor memory held at each phase's end",
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
      vireo::report::Series line{.name = kConfigurations[i].label, .dashed = kConfigurations[i].name == "all"};
      for (size_t p = 0; p < kPhases.size(); ++p) {
        line.x.push_back(static_cast<double>(p + 1));
        line.y.push_back(run["memory_phases"][kPhases[p]]["held_mib"].get<double>());
      }
      chart.add(line);
    }
    double highest_load = 0.0;
    for (const json& run : runs) highest_load = std::max(highest_load, run["highest_load"].get<double>());
    table << "\nvit_tiny (depth " << plain.value("depth", 0) << ", 65 tokens of width 192), batch " << plain["batch"]
          << ", " << plain["threads"] << " threads, " << plain["steps"] << " timed steps × " << plain["rounds"]
          << " rounds; 1-minute load average at most " << fixed(highest_load, 2) << " at the end of a run.\n";

    const double top1_plain = final_test_top1(out + "/train_plain/metrics.jsonl");
    const double top1_all = final_test_top1(out + "/train_all/metrics.jsonl");
    if (top1_plain >= 0 && top1_all >= 0)
      table << "\nShort-run test top-1 (same recipe and seed): plain " << fixed(100 * top1_plain, 2) << "%, all three "
            << fixed(100 * top1_all, 2) << "% (" << (top1_all >= top1_plain ? "+" : "")
            << fixed(100 * (top1_all - top1_plain), 2) << " pt).\n";
    const double top1_other_seed = final_test_top1(out + "/train_plain_seed1/metrics.jsonl");
    if (top1_plain >= 0 && top1_other_seed >= 0)
      table << "The plain run with seed 1 instead of 0: " << fixed(100 * top1_other_seed, 2) << "% ("
            << (top1_other_seed >= top1_plain ? "+" : "") << fixed(100 * (top1_other_seed - top1_plain), 2)
            << " pt): the spread from the seed alone.\n";

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
