// Experiments 1–3 of the steering issue on a Fashion-MNIST ViT (METHODS.md §2): AurA against its Det0 and
// Damp baselines on one concept class, Linear-AcT transporting one class toward another as the strength λ
// grows, and LinEAS against Linear-AcT when only 32 source and 32 target samples are given, with LinEAS's
// sparse-group weight λ₂ switching points off.
//
// The measurements come from `vireo steer sweep --json` (tools/experiments/steering_classifier.sh), one file
// per intervention: the test top-1 of every class at each strength, and for the transports the share of
// source-class test images predicted as the target class and the logit W₂² of the steered source-class
// images to the clean target-class images. The sparsity sweep also reads the LinEAS intervention files
// themselves and counts their active units and points (steering/lineas.h's count_active_units). This program
// gathers everything into markdown tables, a summary JSON and one line chart of the shares against λ.
//
// The folder holds (names fixed by the script):
//   sweep_aura.json sweep_det0.json sweep_damp.json          AurA and its baselines on the concept class
//   sweep_act.json sweep_act_no_support.json                 Linear-AcT fitted on many samples (two supports)
//   sweep_act32.json sweep_lineas32.json                     both fitted on 32 + 32 samples (LinEAS at
//   sweep_lineas32_lr1e-3.json                               learning rate 1e-2, and at 1e-3)
//   lineas_group_*.safetensors + sweep_lineas_group_*.json   LinEAS at each λ₂ (λ₁ = 0), swept at λ = 0 and 1
//
// usage: experiment_steering_classifier --in FOLDER [--figure F.svg] [--concept 7] [--source 6] [--target 0]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "steering/intervention.h"
#include "steering/lineas.h"
#include "tools/report/run_report.h"
#include "tools/report/svg_chart.h"

namespace {

using nlohmann::ordered_json;

// One `vireo steer sweep --json` file (read by the report library's reader, which checks it): the
// strengths and each metric's value at each.
struct Sweep {
  std::string path;
  std::vector<double> strengths;
  std::vector<std::pair<std::string, std::vector<double>>> metrics;  // name -> one value per strength

  static Sweep load(const std::string& path) {
    vireo::report::StrengthSweep sweep = vireo::report::read_strength_sweep(path);
    return {path, std::move(sweep.strengths), std::move(sweep.metrics)};
  }

  bool has(const std::string& name) const {
    return std::any_of(metrics.begin(), metrics.end(), [&](const auto& entry) { return entry.first == name; });
  }
  std::vector<double> metric(const std::string& name) const {
    for (const auto& [metric_name, values] : metrics)
      if (metric_name == name) return values;
    vireo::fail(path, ": no metric '", name, "' (a transport metric needs --source-class and --target-class)");
  }
  std::string top1_name(int64_t label) const { return "class " + std::to_string(label) + " top-1 (%)"; }
  std::vector<double> top1(int64_t label) const { return metric(top1_name(label)); }

  // The number of classes: the metrics "class 0 top-1 (%)", "class 1 top-1 (%)", … that are present.
  int64_t classes() const {
    int64_t count = 0;
    while (has(top1_name(count))) ++count;
    return count;
  }

  // The mean top-1 over every class not in `excluded`, at each strength (Fashion-MNIST's test classes all
  // have 1000 images, so this is also the pooled accuracy of those classes).
  std::vector<double> others(const std::set<int64_t>& excluded) const {
    std::vector<double> mean(strengths.size(), 0.0);
    int classes = 0;
    for (int64_t label = 0; label < this->classes(); ++label) {
      if (excluded.count(label)) continue;
      const std::vector<double> values = top1(label);
      for (size_t i = 0; i < mean.size(); ++i) mean[i] += values[i];
      ++classes;
    }
    VIREO_CHECK(classes > 0, path, ": no class outside the excluded ones");
    for (double& value : mean) value /= classes;
    return mean;
  }

  size_t index_of(double strength) const {
    for (size_t i = 0; i < strengths.size(); ++i)
      if (strengths[i] == strength) return i;
    vireo::fail(path, ": no strength ", strength, " among the swept ones");
  }
};

// The transport measures of one sweep at each of its strengths.
struct Transport {
  std::string key, label, legend;  // legend: the figure's short name
  Sweep sweep;
  std::vector<double> rate = {}, distance = {}, others = {};
};

Transport transport_of(const std::string& folder, const std::string& key, const std::string& label,
                       const std::string& legend, int64_t source, int64_t target) {
  Transport result{key, label, legend, Sweep::load(folder + "/sweep_" + key + ".json")};
  const std::string a = std::to_string(source), b = std::to_string(target);
  result.rate = result.sweep.metric("class " + a + " predicted as " + b + " (%)");
  result.distance = result.sweep.metric("logit W2^2 class " + a + " to class " + b);
  result.others = result.sweep.others({source, target});
  return result;
}

// One LinEAS fit of the sparsity sweep: its λ₂, the active units and points, and its transport at λ = 1.
struct SparseFit {
  double group = 0.0;
  int64_t units = 0, active_units = 0, points = 0, active_points = 0;
  double rate = 0.0, distance = 0.0, others = 0.0;
};

ordered_json series_json(const std::vector<double>& strengths, const std::vector<double>& values) {
  ordered_json points = ordered_json::array();
  for (size_t i = 0; i < strengths.size(); ++i) points.push_back({{"strength", strengths[i]}, {"value", values[i]}});
  return points;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Experiments 1-3 of the steering issue: AurA, Linear-AcT and LinEAS on a Fashion-MNIST ViT"};
  std::string folder, figure;
  int64_t concept_class = 7, source = 6, target = 0;
  app.add_option("--in", folder, "The folder the script wrote (sweep_*.json, lineas_group_*.safetensors)")->required();
  app.add_option("--figure", figure, "The SVG line chart to write");
  app.add_option("--concept", concept_class, "AurA's concept class (7, sneaker)");
  app.add_option("--source", source, "The class the transports start from (6, shirt)");
  app.add_option("--target", target, "The class they transport toward (0, T-shirt/top)");
  CLI11_PARSE(app, argc, argv);

  try {
    ordered_json summary;
    // The legend has room for about 20 characters: "aura: 7 kept" (class 7 still predicted as 7, AurA and its
    // baselines), "AcT: 6 → 0" (class 6 predicted as 0, the transports).
    vireo::report::SvgChart chart{
        .title = "class 7 kept (AurA, Det0, Damp) · class 6 → 0 (transports)",
        .x_label = "strength λ", .y_label = "% of the class's test images"};

    // ---- 1. AurA on the concept class, against Det0 and Damp ----
    std::printf("## 1. AurA on class %lld: still predicted as the class, and mean top-1 of the other classes\n\n",
                static_cast<long long>(concept_class));
    std::printf("| method | still class %lld, λ = 0 | λ = 1 | other classes, λ = 0 | λ = 1 |\n"
                "|---|---:|---:|---:|---:|\n",
                static_cast<long long>(concept_class));
    summary["aura"] = ordered_json::object();
    std::vector<Sweep> concept_sweeps;
    for (const std::string method : {"aura", "det0", "damp"}) {
      const Sweep sweep = Sweep::load(folder + "/sweep_" + method + ".json");
      concept_sweeps.push_back(sweep);
      const std::vector<double> still = sweep.top1(concept_class), others = sweep.others({concept_class});
      const size_t off = sweep.index_of(0.0), on = sweep.index_of(1.0);
      std::printf("| %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", method.c_str(), still[off], still[on], others[off],
                  others[on]);
      summary["aura"][method] = {{"still_concept", series_json(sweep.strengths, still)},
                                 {"other_classes", series_json(sweep.strengths, others)}};
      chart.add({.name = method + ": " + std::to_string(concept_class) + " kept", .x = sweep.strengths, .y = still,
                 .dashed = method != "aura"});
    }

    // Where the other classes' accuracy goes: each class's top-1 unsteered and at λ = 1.
    std::printf("\n| class | top-1, λ = 0 | aura, λ = 1 | det0, λ = 1 | damp, λ = 1 |\n|---:|---:|---:|---:|---:|\n");
    const Sweep& first = concept_sweeps.front();
    for (int64_t label = 0; label < first.classes(); ++label) {
      std::printf("| %lld | %.1f%%", static_cast<long long>(label), first.top1(label)[first.index_of(0.0)]);
      for (const Sweep& sweep : concept_sweeps) std::printf(" | %.1f%%", sweep.top1(label)[sweep.index_of(1.0)]);
      std::printf(" |\n");
    }

    // ---- 2. and 3. transports from the source class toward the target class ----
    const std::string a = std::to_string(source), b = std::to_string(target);
    const std::vector<Transport> transports = {
        transport_of(folder, "act", "Linear-AcT, many samples, source-range support", "AcT", source, target),
        transport_of(folder, "act_no_support", "Linear-AcT, many samples, no support", "AcT no support", source,
                     target),
        transport_of(folder, "act32", "Linear-AcT, 32 + 32 samples, no support", "AcT 32+32", source, target),
        transport_of(folder, "lineas32", "LinEAS, 32 + 32 samples, lr 1e-2", "LinEAS 32+32", source, target),
        transport_of(folder, "lineas32_lr1e-3", "LinEAS, 32 + 32 samples, lr 1e-3", "LinEAS lr 1e-3", source,
                     target)};
    std::printf("\n## 2.–3. transport class %s → class %s: share of class-%s test images predicted as %s, logit W₂² "
                "to the class-%s test images, mean top-1 of the other classes\n\n",
                a.c_str(), b.c_str(), a.c_str(), b.c_str(), b.c_str());
    std::printf("| intervention | λ | predicted as %s | logit W₂² | other classes |\n|---|---:|---:|---:|---:|\n",
                b.c_str());
    summary["transport"] = ordered_json::object();
    for (const Transport& transport : transports) {
      for (size_t i = 0; i < transport.sweep.strengths.size(); ++i)
        std::printf("| %s | %g | %.1f%% | %.3f | %.1f%% |\n", transport.label.c_str(), transport.sweep.strengths[i],
                    transport.rate[i], transport.distance[i], transport.others[i]);
      summary["transport"][transport.key] = {{"label", transport.label},
                                             {"predicted_as_target", series_json(transport.sweep.strengths, transport.rate)},
                                             {"logit_w2", series_json(transport.sweep.strengths, transport.distance)},
                                             {"other_classes", series_json(transport.sweep.strengths, transport.others)}};
      chart.add({.name = transport.legend + ": " + a + " → " + b, .x = transport.sweep.strengths, .y = transport.rate});
    }

    // ---- 3. sparsity: LinEAS's active units and points as λ₂ grows ----
    std::vector<SparseFit> fits;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      const std::string stem = entry.path().stem().string();
      if (stem.rfind("lineas_group_", 0) != 0 || entry.path().extension() != ".safetensors") continue;
      const vireo::steering::Intervention intervention = vireo::steering::Intervention::load(entry.path().string());
      VIREO_CHECK(intervention.method == "lineas" && intervention.settings.count("group"), entry.path().string(),
                  ": not a LinEAS intervention with a recorded λ₂ (method '", intervention.method, "')");
      SparseFit fit{.group = std::stod(intervention.settings.at("group"))};
      for (const auto& [point, map] : intervention.points) {
        const int64_t active = vireo::steering::count_active_units(map);
        fit.units += map.units();
        fit.active_units += active;
        fit.points += 1;
        fit.active_points += active > 0 ? 1 : 0;
      }
      const Sweep sweep = Sweep::load(folder + "/sweep_" + stem + ".json");
      const size_t on = sweep.index_of(1.0);
      fit.rate = sweep.metric("class " + a + " predicted as " + b + " (%)")[on];
      fit.distance = sweep.metric("logit W2^2 class " + a + " to class " + b)[on];
      fit.others = sweep.others({source, target})[on];
      fits.push_back(fit);
    }
    VIREO_CHECK(!fits.empty(), "steering_classifier: no lineas_group_*.safetensors in ", folder);
    std::sort(fits.begin(), fits.end(), [](const auto& x, const auto& y) { return x.group < y.group; });
    std::printf("\n## 3. LinEAS sparsity (32 + 32 samples, λ₁ = 0): active units and points as λ₂ grows, at λ = 1\n\n");
    std::printf("| λ₂ | active units | active points | predicted as %s | logit W₂² | other classes |\n"
                "|---:|---:|---:|---:|---:|---:|\n",
                b.c_str());
    summary["sparsity"] = ordered_json::array();
    for (const SparseFit& fit : fits) {
      std::printf("| %g | %lld / %lld | %lld / %lld | %.1f%% | %.3f | %.1f%% |\n", fit.group,
                  static_cast<long long>(fit.active_units), static_cast<long long>(fit.units),
                  static_cast<long long>(fit.active_points), static_cast<long long>(fit.points), fit.rate, fit.distance,
                  fit.others);
      summary["sparsity"].push_back({{"group", fit.group}, {"units", fit.units}, {"active_units", fit.active_units},
                                     {"points", fit.points}, {"active_points", fit.active_points},
                                     {"predicted_as_target", fit.rate}, {"logit_w2", fit.distance},
                                     {"other_classes", fit.others}});
    }
    std::ofstream(folder + "/summary.json") << summary.dump(2) << "\n";
    std::printf("\nsummary: %s/summary.json\n", folder.c_str());

    if (!figure.empty()) {
      chart.write(figure);
      std::printf("figure: %s\n", figure.c_str());
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "experiment_steering_classifier: %s\n", error.what());
    return 1;
  }
  return 0;
}
