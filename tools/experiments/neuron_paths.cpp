// Experiment 5 of the steering issue: does ablating a ViT's neuron path found by joint influence lower the
// label probability more than ablating the activation-argmax path or random paths (METHODS.md §2)?
//
// The measurements come from `vireo steer neuron-path` (one JSON file per class, written by
// tools/experiments/neuron_paths.sh): per class the found path, the argmax path and a few random paths, each
// with the mean label probability of the class's test images clean and with the path ablated. This program
// gathers them into one table (the drop per class and method, random as the mean over its paths), a
// summary JSON and a line chart of the drop against the class.
//
// usage: experiment_neuron_paths --in FOLDER [--figure neuron_paths.svg]   (reads FOLDER/class_*.json)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "steering/neuron_path.h"
#include "tools/report/svg_chart.h"

namespace {

using vireo::steering::NeuronPath;
using vireo::steering::NeuronPathReport;

// The drop of one class: per method, the mean over that method's paths.
struct ClassDrops {
  int64_t label = 0;
  double clean_probability = 0.0;
  std::map<std::string, double> drop = {};  // "joint_influence", "argmax", "random"
  std::map<std::string, double> enhanced_probability = {};
};

ClassDrops drops_of(const NeuronPathReport& report) {
  ClassDrops result{.label = report.path.label, .clean_probability = report.path.effect->clean_probability};
  std::map<std::string, int> counts;
  std::vector<const NeuronPath*> paths = {&report.path};
  for (const NeuronPath& baseline : report.baselines) paths.push_back(&baseline);
  for (const NeuronPath* path : paths) {
    VIREO_CHECK(path->effect.has_value(), "neuron_paths: the ", path->method, " path of class ", path->label,
                " has no measured effect");
    result.drop[path->method] += path->effect->ablation_drop();
    result.enhanced_probability[path->method] += path->effect->enhanced_probability;
    counts[path->method] += 1;
  }
  for (auto& [method, count] : counts) {
    result.drop[method] /= count;
    result.enhanced_probability[method] /= count;
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Experiment 5: label-probability drop when ablating the found neuron path vs baselines"};
  std::string folder, figure;
  app.add_option("--in", folder, "The folder of class_*.json files written by vireo steer neuron-path")->required();
  app.add_option("--figure", figure, "The SVG line chart to write");
  CLI11_PARSE(app, argc, argv);

  try {
    std::vector<ClassDrops> classes;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("class_", 0) == 0 && entry.path().extension() == ".json")
        classes.push_back(drops_of(NeuronPathReport::load(entry.path().string())));
    }
    VIREO_CHECK(!classes.empty(), "neuron_paths: no class_*.json in ", folder);
    std::sort(classes.begin(), classes.end(), [](const auto& a, const auto& b) { return a.label < b.label; });

    const std::vector<std::string> methods = {"joint_influence", "argmax", "random"};
    std::printf("label-probability drop when the path is ablated (mean over the class's test images)\n");
    std::printf("class  clean p  joint_influence   argmax   random  | enhanced p (joint_influence)\n");
    std::map<std::string, double> mean_drop;
    int found_largest = 0;
    nlohmann::ordered_json summary = {{"classes", nlohmann::ordered_json::array()}};
    for (const ClassDrops& drops : classes) {
      std::printf("%5lld  %7.4f  %15.4f  %7.4f  %7.4f  | %7.4f\n", static_cast<long long>(drops.label),
                  drops.clean_probability, drops.drop.at("joint_influence"), drops.drop.at("argmax"),
                  drops.drop.at("random"), drops.enhanced_probability.at("joint_influence"));
      for (const std::string& method : methods) mean_drop[method] += drops.drop.at(method) / classes.size();
      found_largest += drops.drop.at("joint_influence") > std::max(drops.drop.at("argmax"), drops.drop.at("random"));
      summary["classes"].push_back({{"class", drops.label},
                                    {"label_probability", drops.clean_probability},
                                    {"drop_joint_influence", drops.drop.at("joint_influence")},
                                    {"drop_argmax", drops.drop.at("argmax")},
                                    {"drop_random_mean", drops.drop.at("random")},
                                    {"enhanced_probability_joint_influence",
                                     drops.enhanced_probability.at("joint_influence")}});
    }
    std::printf(" mean           %15.4f  %7.4f  %7.4f\n", mean_drop["joint_influence"], mean_drop["argmax"],
                mean_drop["random"]);
    std::printf("the found path drops the label probability most in %d of %zu classes\n", found_largest,
                classes.size());
    summary["mean_drop"] = mean_drop;
    summary["found_path_largest_drop_classes"] = found_largest;
    std::ofstream(folder + "/summary.json") << summary.dump(2) << "\n";

    if (!figure.empty()) {
      vireo::report::SvgChart chart{.title = "label-probability drop with the path ablated, per class",
                                         .x_label = "class", .y_label = "drop of p(label)"};
      for (const std::string& method : methods) {
        vireo::report::Series series;
        series.name = method == "random" ? "random (mean)" : method;
        series.dashed = method != "joint_influence";
        for (const ClassDrops& drops : classes) {
          series.x.push_back(static_cast<double>(drops.label));
          series.y.push_back(drops.drop.at(method));
        }
        chart.add(series);
      }
      chart.write(figure);
      std::printf("figure: %s\n", figure.c_str());
    }
  } catch (const vireo::Error& error) {
    std::fprintf(stderr, "experiment_neuron_paths: %s\n", error.what());
    return 1;
  }
  return 0;
}
