// experiment_steering_classifier (tools/experiments/steering_classifier.cpp, bin/ beside this test) on a
// hand-made folder: sweep files of a 3-class model and two LinEAS intervention files with known active units.
// The program must read the right metrics at the right strengths, average the right classes, count the
// active units and points of each λ₂, sort them, and write summary.json and the figure; a sweep without the
// transport metrics is refused, naming the file.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "steering/intervention.h"
#include "training/data_helpers.h"
#include "training/run_helpers.h"

using vireo::testing::read_text;
using vireo::testing::sibling_binary;
using vireo::testing::TempFolder;
using vireo::testing::write_text;

namespace {

// A sweep file as `vireo steer sweep --json` writes it; `transport` adds the class 1 → class 0 metrics.
void write_sweep(const std::string& path, const std::vector<double>& strengths,
                 const std::vector<std::vector<double>>& class_top1, const std::vector<double>& rate = {},
                 const std::vector<double>& distance = {}) {
  nlohmann::json metrics = nlohmann::json::array();
  for (size_t label = 0; label < class_top1.size(); ++label)
    metrics.push_back({{"name", "class " + std::to_string(label) + " top-1 (%)"}, {"values", class_top1[label]}});
  if (!rate.empty()) {
    metrics.push_back({{"name", "class 1 predicted as 0 (%)"}, {"values", rate}});
    metrics.push_back({{"name", "logit W2^2 class 1 to class 0"}, {"values", distance}});
  }
  write_text(path, nlohmann::json({{"title", "t"}, {"strengths", strengths}, {"metrics", metrics}}).dump());
}

// A LinEAS intervention at two points (4 and 2 units) whose scales and shifts leave `active` units per point
// off the identity.
void write_lineas(const std::string& path, double group, std::vector<int> active) {
  vireo::steering::Intervention intervention;
  intervention.method = "lineas";
  intervention.settings = {{"group", std::to_string(group)}};
  const std::vector<std::pair<std::string, int64_t>> points = {{"blocks.0.mlp.fc1", 4}, {"norm", 2}};
  for (size_t p = 0; p < points.size(); ++p) {
    std::vector<double> scale(points[p].second, 1.0), shift(points[p].second, 0.0);
    for (int unit = 0; unit < active[p]; ++unit) (unit % 2 ? shift[unit] : scale[unit]) += 0.5;
    intervention.add(points[p].first, {vireo::Tensor::from_vector(scale, {points[p].second}),
                                       vireo::Tensor::from_vector(shift, {points[p].second})});
  }
  intervention.save(path);
}

int run(const std::string& arguments) {
  return std::system((sibling_binary("experiment_steering_classifier") + " " + arguments).c_str());
}

}  // namespace

TEST_CASE("experiments: steering_classifier gathers hand-made sweeps into tables and a summary and a figure") {
  TempFolder folder("experiment_steering");
  const std::string in = folder.path.string();
  // 3 classes: concept 2; transport from 1 toward 0.
  for (const std::string method : {"aura", "det0", "damp"})
    write_sweep(in + "/sweep_" + method + ".json", {0.0, 0.5, 1.0}, {{80, 80, 78}, {90, 88, 86}, {95, 60, 40}});
  for (const std::string name : {"act", "act_no_support", "act32", "lineas32", "lineas32_lr1e-3"})
    write_sweep(in + "/sweep_" + name + ".json", {0.0, 1.0}, {{80, 82}, {70, 30}, {90, 84}}, {10, 50}, {3.0, 1.0});
  write_lineas(in + "/lineas_group_1.safetensors", 1.0, {0, 2});
  write_lineas(in + "/lineas_group_0.safetensors", 0.0, {4, 2});
  write_sweep(in + "/sweep_lineas_group_0.json", {0.0, 1.0}, {{80, 82}, {70, 30}, {90, 84}}, {10, 50}, {3.0, 1.0});
  write_sweep(in + "/sweep_lineas_group_1.json", {0.0, 1.0}, {{80, 81}, {70, 60}, {90, 88}}, {10, 20}, {3.0, 2.5});

  const std::string figure = folder / "figure.svg";
  REQUIRE(run("--in " + in + " --concept 2 --source 1 --target 0 --figure " + figure + " > " + (folder / "out.txt")) ==
          0);
  CHECK(read_text(figure).rfind("<svg", 0) == 0);
  const std::string printed = read_text(folder / "out.txt");
  CHECK(printed.find("| aura | 95.0% | 40.0% | 85.0% | 82.0% |") != std::string::npos);
  CHECK(printed.find("| 2 | 95.0% | 40.0% | 40.0% | 40.0% |") != std::string::npos);  // per class, at λ = 1
  const auto summary = nlohmann::json::parse(read_text(folder / "summary.json"));

  // AurA: the concept's top-1 as is; the other classes (0 and 1) averaged, at every strength.
  const auto& aura = summary["aura"]["aura"];
  CHECK(aura["still_concept"][2]["value"] == 40.0);
  CHECK(aura["other_classes"][0]["value"] == 85.0);
  CHECK(aura["other_classes"][2]["value"] == 82.0);
  // Transports: the rate and distance as swept; the other classes are those outside {source, target}.
  const auto& lineas = summary["transport"]["lineas32"];
  CHECK(lineas["predicted_as_target"][1]["value"] == 50.0);
  CHECK(lineas["logit_w2"][1]["value"] == 1.0);
  CHECK(lineas["other_classes"][1]["value"] == 84.0);
  // Sparsity: sorted by λ₂, the active units and points counted from the files, the measures at λ = 1.
  const auto& sparsity = summary["sparsity"];
  REQUIRE(sparsity.size() == 2);
  CHECK(sparsity[0]["group"] == 0.0);
  CHECK(sparsity[0]["active_units"] == 6);
  CHECK(sparsity[0]["active_points"] == 2);
  CHECK(sparsity[1]["group"] == 1.0);
  CHECK(sparsity[1]["units"] == 6);
  CHECK(sparsity[1]["active_units"] == 2);
  CHECK(sparsity[1]["active_points"] == 1);
  CHECK(sparsity[1]["predicted_as_target"] == 20.0);
  CHECK(sparsity[1]["logit_w2"] == 2.5);

  // A transport sweep without its transport metrics (swept without --source-class) is refused, named.
  write_sweep(in + "/sweep_act32.json", {0.0, 1.0}, {{80, 82}, {70, 30}, {90, 84}});
  const std::string err = folder / "err.txt";
  CHECK(run("--in " + in + " --concept 2 --source 1 --target 0 2> " + err + " > /dev/null") != 0);
  CHECK(read_text(err).find("sweep_act32.json: no metric 'class 1 predicted as 0 (%)'") != std::string::npos);
}
