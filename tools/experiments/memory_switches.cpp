// Experiment 1 of the memory issue: what each memory switch of models/memory.h (ReGELU2 approx-BP,
// MS-LayerNorm, block checkpointing) saves on ViT-Tiny training, at what speed, and whether accuracy holds.
//
// tools/experiments/memory_switches.sh does the runs — `vireo bench --model vit_tiny --memory` processes
// per configuration (plain, each switch alone, approx_bp + ms_norm as the paper pairs them, all three),
// in rounds, and short `vireo train` runs of one recipe with and without the switches, one pair per seed —
// and then calls this program, which reads them and writes the comparison:
//
//   stdout / summary.md   the table: peak tensor memory (allocator), what the forward leaves held for the
//                         backward, peak RSS (first round; the memory is the same in every round), img/s
//                         (the mean over the rounds), each relative to plain; then each seed's two test
//                         accuracies and the paired difference over the seeds (mean, standard deviation,
//                         95% interval), beside the spread of the plain runs themselves
//   Either part is left out when its runs are not in the folder (PARTS in the script).
//   memory_switches.svg   tensor memory held at the end of each phase of a step, one line per configuration
//
//   build/bin/experiment_memory_switches --out DIR
#include <CLI/CLI.hpp>
#include <cmath>
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

// The bench table, and the memory chart written to OUT/memory_switches.svg.
void bench_section(const std::string& out, std::ostringstream& table) {
  std::vector<json> runs;
  for (const Configuration& configuration : kConfigurations)
    runs.push_back(read_rounds(out + "/bench_" + configuration.name + ".json"));
  const json& plain = runs.front();
  const double plain_peak = plain["peak_tensor_mib"].get<double>();
  const double plain_saved = plain["memory_phases"]["forward"]["held_mib"].get<double>() -
                             plain["memory_phases"]["zero_grad"]["held_mib"].get<double>();
  const double plain_speed = plain["img_per_s"].get<double>();
  const double plain_rss = plain["peak_rss_mib"].get<double>();

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
    table << "| " << kConfigurations[i].label << " | " << fixed(peak, 1)
          << (base ? "" : " (" + relative(peak, plain_peak) + ")") << " | " << fixed(saved, 1)
          << (base ? "" : " (" + relative(saved, plain_saved) + ")") << " | "
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
  chart.write(out + "/memory_switches.svg");
}

// The seeds S for which both train_plain_seedS and train_all_seedS finished (hold a test accuracy), ascending,
// with their two accuracies.
struct SeedPair {
  int seed;
  double plain, all;
};
std::vector<SeedPair> paired_runs(const std::string& out) {
  std::vector<SeedPair> pairs;
  if (!std::filesystem::is_directory(out)) return pairs;
  const std::string prefix = "train_plain_seed";
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const double plain = final_test_top1(entry.path().string() + "/metrics.jsonl");
    const double all = final_test_top1(out + "/train_all_seed" + digits + "/metrics.jsonl");
    if (plain >= 0 && all >= 0) pairs.push_back({std::stoi(digits), plain, all});
  }
  std::sort(pairs.begin(), pairs.end(), [](const SeedPair& a, const SeedPair& b) { return a.seed < b.seed; });
  return pairs;
}

// Sample mean and standard deviation (n − 1 in the denominator; 0 for one value).
std::pair<double, double> mean_and_sd(const std::vector<double>& values) {
  double mean = 0.0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double squares = 0.0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double sd = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return {mean, sd};
}

// Student's t quantile 0.975 for `dof` degrees of freedom (1 … 10; beyond, the value at 10, a little wide).
double t_975(size_t dof) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228};
  return table[std::min<size_t>(dof, 10) - 1];
}

void accuracy_section(const std::string& out, std::ostringstream& table) {
  const std::vector<SeedPair> pairs = paired_runs(out);
  if (pairs.empty()) {
    table << "\n(no finished short runs in " << out << ")\n";
    return;
  }
  table << "\nShort-run test top-1 (the same recipe, plain and with all three switches, per seed):\n\n"
        << "| seed | plain | all three | difference |\n|---|---:|---:|---:|\n";
  std::vector<double> plain, all, difference;
  for (const SeedPair& pair : pairs) {
    plain.push_back(100 * pair.plain);
    all.push_back(100 * pair.all);
    difference.push_back(100 * (pair.all - pair.plain));
    table << "| " << pair.seed << " | " << fixed(plain.back(), 2) << "% | " << fixed(all.back(), 2) << "% | "
          << (difference.back() >= 0 ? "+" : "") << fixed(difference.back(), 2) << " pt |\n";
  }
  const auto [plain_mean, plain_sd] = mean_and_sd(plain);
  const auto [all_mean, all_sd] = mean_and_sd(all);
  const auto [difference_mean, difference_sd] = mean_and_sd(difference);
  table << "| mean ± sd | " << fixed(plain_mean, 2) << " ± " << fixed(plain_sd, 2) << "% | " << fixed(all_mean, 2)
        << " ± " << fixed(all_sd, 2) << "% | " << (difference_mean >= 0 ? "+" : "") << fixed(difference_mean, 2)
        << " ± " << fixed(difference_sd, 2) << " pt |\n";
  if (pairs.size() > 1) {
    const double half_width = t_975(pairs.size() - 1) * difference_sd / std::sqrt(static_cast<double>(pairs.size()));
    table << "\nPaired difference over " << pairs.size() << " seeds: " << (difference_mean >= 0 ? "+" : "")
          << fixed(difference_mean, 2) << " pt, 95% interval [" << fixed(difference_mean - half_width, 2) << ", "
          << fixed(difference_mean + half_width, 2) << "] pt (Student's t); the plain runs alone spread by "
          << fixed(plain_sd, 2) << " pt (sd) from the seed.\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tabulate and plot the memory-switch runs of tools/experiments/memory_switches.sh"};
  std::string out = "experiments/memory_switches";
  app.add_option("--out", out, "the folder the script wrote into")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    std::ostringstream table;
    bool have_bench = true;
    for (const Configuration& configuration : kConfigurations)
      have_bench = have_bench && std::filesystem::exists(out + "/bench_" + configuration.name + ".json");
    if (have_bench) bench_section(out, table);
    else table << "(no bench runs in " << out << ")\n";
    accuracy_section(out, table);

    std::printf("%s", table.str().c_str());
    std::ofstream summary(out + "/summary.md");
    summary << table.str();
    if (!summary) fail(out, "/summary.md: cannot be written");
  } catch (const vireo::Error& error) {
    std::fprintf(stderr, "experiment_memory_switches: %s\n", error.what());
    return 1;
  }
  return 0;
}
