// The figure of experiment 4 (tools/experiments/bias_features.sh): the footwear share achieved against the
// share requested, from the JSON lines `vireo steer bias-features generate` printed — a line for the
// feature scaling, one for the shift when it was run at two or more shares (a single point draws no
// line; the table has it), the unsteered share as a flat dashed line and the target y = x.
//
//   experiment_bias_features generate.jsonl figure.svg
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/error.h"
#include "tools/report/svg_chart.h"

int main(int argc, char** argv) {
  std::string lines_path, figure_path;
  CLI::App app{"Experiment 4: the footwear share achieved against the share requested"};
  app.add_option("generate_jsonl", lines_path, "The JSON lines of bias-features generate")->required();
  app.add_option("figure", figure_path, "The SVG to write")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    std::ifstream file(lines_path);
    if (!file) vireo::fail(lines_path, ": cannot read");
    vireo::report::Series scaled{.name = "features scaled", .x = {}, .y = {}};
    vireo::report::Series shifted{.name = "features shifted", .x = {}, .y = {}};
    double unsteered = -1.0;
    std::string text;
    while (std::getline(file, text)) {
      if (text.empty()) continue;
      const nlohmann::json line = nlohmann::json::parse(text);
      const double requested = line["requested"][1], achieved = line["achieved"][1];
      const double scale = line["scale"], shift = line["shift"];
      if (scale == 1.0 && shift == 0.0) {
        unsteered = achieved;
      } else {
        vireo::report::Series& series = shift != 0.0 ? shifted : scaled;
        series.x.push_back(requested);
        series.y.push_back(achieved);
      }
    }
    if (unsteered < 0.0 || scaled.x.empty()) vireo::fail(lines_path, ": needs an unsteered line and scaled lines");
    vireo::report::SvgChart chart{.title = "footwear share of the samples", .x_label = "requested",
                                       .y_label = "achieved (classifier labels)"};
    chart.add({.name = "target", .x = {0.0, 0.5}, .y = {0.0, 0.5}, .dashed = true});
    chart.add({.name = "unsteered", .x = {0.0, 0.5}, .y = {unsteered, unsteered}, .dashed = true});
    chart.add(scaled);
    if (shifted.x.size() >= 2) chart.add(shifted);
    chart.write(figure_path);
    std::printf("figure: %s\n", figure_path.c_str());
  } catch (const std::exception& failure) {
    std::fprintf(stderr, "experiment_bias_features: error: %s\n", failure.what());
    return 1;
  }
  return 0;
}
