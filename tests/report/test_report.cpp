// The report library (tools/report/): HTML primitives, PCA and t-SNE, each component from fixture data,
// and the report of real (tiny) run folders. The browser test (run_browser_test.cmake) opens such a
// report in headless Chromium.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "engine/error.h"
#include "engine/tensor.h"
#include "tools/report/components.h"
#include "tools/report/embedding.h"
#include "tools/report/html.h"
#include "tools/report/run_report.h"
#include "training/data/image_io.h"
#include "training/data_helpers.h"
#include "training/run_helpers.h"
#include "training/recipe.h"
#include "training/trainer.h"

using namespace vireo;
using vireo::testing::TempFolder;

namespace {

const std::string kFixtures = std::string(VIREO_SOURCE_DIR) + "/tests/report/fixtures/";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// n points in `dimensions` dimensions around `clusters` well-separated centres (10 apart), label = cluster.
Tensor clustered_points(int64_t n, int64_t dimensions, int64_t clusters, std::vector<int64_t>& labels) {
  std::mt19937_64 generator(11);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> values;
  labels.clear();
  for (int64_t i = 0; i < n; ++i) {
    labels.push_back(i % clusters);
    for (int64_t d = 0; d < dimensions; ++d) values.push_back((d == labels.back() ? 10.0 : 0.0) + normal(generator));
  }
  return Tensor::from_vector(values, {n, dimensions});
}

data::Image gradient_image(int64_t size, float shift) {
  data::Image image(size, size, 1);
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size; ++x) image.at(y, x, 0) = std::fmod(shift + static_cast<float>(x + y) / (2.0f * size), 1.0f);
  return image;
}

training::TrainingSummary train_fixture(const std::string& recipe, const std::string& run_dir) {
  return training::train(training::load_recipe(kFixtures + recipe, {"run.dir=" + run_dir}),
                         {.progress = training::ProgressStyle::silent});
}

}  // namespace

TEST_CASE("report: escape_html replaces the five special characters") {
  CHECK(report::escape_html("a<b>&\"c\"'d'") == "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  CHECK(report::escape_html("plain λ text") == "plain λ text");
}

TEST_CASE("report: base64 matches the RFC 4648 test vectors") {
  const auto encode = [](const std::string& text) { return report::base64(std::vector<uint8_t>(text.begin(), text.end())); };
  CHECK(encode("") == "");
  CHECK(encode("f") == "Zg==");
  CHECK(encode("fo") == "Zm8=");
  CHECK(encode("foo") == "Zm9v");
  CHECK(encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("report: encode_png writes a PNG that decodes to the same pixels") {
  TempFolder folder("report_png");
  const data::Image image = gradient_image(6, 0.25f);
  const std::vector<uint8_t> png = report::encode_png(image);
  REQUIRE(png.size() > 8);
  CHECK(png[1] == 'P');
  CHECK(png[2] == 'N');
  CHECK(png[3] == 'G');
  const std::string path = folder / "image.png";
  report::write_text_file(path, std::string(png.begin(), png.end()));
  const data::Image decoded = data::decode_image(path);
  REQUIRE(decoded.height == 6);
  REQUIRE(decoded.channels == 1);
  for (size_t i = 0; i < image.pixels.size(); ++i) CHECK(decoded.pixels[i] == doctest::Approx(image.pixels[i]).epsilon(0.003));
  CHECK(report::png_data_uri(png).rfind("data:image/png;base64,iVBORw0KGgo", 0) == 0);
}

TEST_CASE("report: pca_2d finds the direction of largest variance first") {
  // x = 3 + t · u + 0.3 · s · v with u = (1, 1, 0, 0)/√2 ⟂ v = (0, 0, 1, −1)/√2, over the full grid of t in
  // {−2 … 2} and s in {−1, 0, 1} (so t and s are exactly uncorrelated): the coordinates are ±t and ±0.3 s.
  std::vector<double> values, t, s;
  for (int a = -2; a <= 2; ++a)
    for (int b = -1; b <= 1; ++b) {
      t.push_back(a);
      s.push_back(b);
      const double along_u = a / std::sqrt(2.0), along_v = 0.3 * b / std::sqrt(2.0);
      for (double value : {along_u, along_u, along_v, -along_v}) values.push_back(3.0 + value);
    }
  const int64_t n = static_cast<int64_t>(t.size());
  const report::Points2d points = report::pca_2d(Tensor::from_vector(values, {n, 4}));
  REQUIRE(points.size() == t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    CHECK(std::abs(std::abs(points[i][0]) - std::abs(t[i])) < 1e-5);  // the tensor is f32
    CHECK(std::abs(std::abs(points[i][1]) - 0.3 * std::abs(s[i])) < 1e-5);
  }
  // One sign per axis for all points: the coordinates are ±t (and ±0.3 s) with a single sign each.
  const double sign = points[0][0] / t[0];
  for (size_t i = 0; i < t.size(); ++i) CHECK(points[i][0] == doctest::Approx(sign * t[i]));
  CHECK_THROWS_AS(report::pca_2d(Tensor::from_vector({1.0, 2.0}, {2})), Error);
}

TEST_CASE("report: tsne_2d keeps separated clusters apart and is deterministic") {
  std::vector<int64_t> labels;
  const Tensor points = clustered_points(150, 10, 3, labels);
  const report::Points2d embedded = report::tsne_2d(points, {.iterations = 300});
  // Nearly every point's nearest neighbour in the picture is from its own cluster (a third would be chance).
  // Not all: t-SNE's descent is chaotic, and the rounding of one CPU's vector code moves a point that sits
  // between two clusters after 300 iterations — 150 of 150 on an Intel Xeon, 149 on an AMD EPYC (2026-12-07).
  int64_t agreeing = 0;
  for (size_t i = 0; i < embedded.size(); ++i) {
    double best = INFINITY;
    size_t nearest = i;
    for (size_t j = 0; j < embedded.size(); ++j) {
      const double dx = embedded[i][0] - embedded[j][0], dy = embedded[i][1] - embedded[j][1];
      if (j != i && dx * dx + dy * dy < best) best = dx * dx + dy * dy, nearest = j;
    }
    agreeing += labels[i] == labels[nearest] ? 1 : 0;
  }
  CHECK(agreeing >= 147);
  const report::Points2d again = report::tsne_2d(points, {.iterations = 300});
  for (size_t i = 0; i < embedded.size(); ++i) {
    CHECK(again[i][0] == embedded[i][0]);
    CHECK(again[i][1] == embedded[i][1]);
  }
  const report::Points2d other_seed = report::tsne_2d(points, {.iterations = 300, .seed = 1});
  CHECK(other_seed[0][0] != embedded[0][0]);
}

TEST_CASE("report: training_curves overlays runs and escapes their names") {
  const std::vector<training::Metrics> first = {{{"step", 10}, {"loss", 2.0}, {"lr", 0.1}},
                                                {{"step", 20}, {"loss", 1.5}, {"lr", 0.05}},
                                                {{"step", 20}, {"test_top1", 0.7}}};
  const std::vector<training::Metrics> second = {{{"step", 10}, {"loss", 2.2}}, {{"step", 20}, {"loss", 1.2}}};
  const std::string html = report::training_curves({{.name = "base", .metrics = first},
                                                    {.name = "<script>alert(1)</script>", .metrics = second}});
  CHECK(contains(html, "data-component=\"training-curves\""));
  CHECK(contains(html, ">loss</text>"));
  CHECK(contains(html, ">lr</text>"));
  CHECK_FALSE(contains(html, ">test_top1</text>"));  // one point: in the table, not charted
  CHECK(contains(html, "<td>test_top1</td><td>0.7</td><td>–</td>"));
  CHECK(contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
  CHECK_FALSE(contains(html, "<script>"));
  CHECK(html.find(">loss</text>") < html.find(">lr</text>"));
}

TEST_CASE("report: confusion_matrix shows row shares and refuses a ragged matrix") {
  const std::string html = report::confusion_matrix({.counts = {{3, 1}, {0, 4}}, .class_names = {"cat", "dog"}});
  CHECK(contains(html, "data-component=\"confusion-matrix\""));
  CHECK(contains(html, ">0.75</text>"));
  CHECK(contains(html, ">0.25</text>"));
  CHECK(contains(html, ">cat</text>"));
  CHECK_THROWS_AS(report::confusion_matrix({.counts = {{3, 1}, {0}}}), Error);
}

TEST_CASE("report: the embedding neighbour sample and sweep components hold their data") {
  const std::string embedding = report::embedding_plot(
      {{.method = "PCA", .points = {{0, 0}, {1, 2}, {2, 1}}, .labels = {0, 1, 1}}}, {"zero", "one"});
  CHECK(contains(embedding, "data-component=\"embedding\""));
  CHECK(contains(embedding, "<circle"));
  CHECK(contains(embedding, "one</span>"));
  CHECK_THROWS_AS(report::embedding_plot({{.method = "PCA", .points = {{0, 0}}, .labels = {0, 1}}}, {}), Error);

  const std::string neighbours = report::nearest_neighbours(
      {{.query = gradient_image(4, 0), .query_label = 1, .neighbours = {gradient_image(4, 0.1f), gradient_image(4, 0.2f)},
        .neighbour_labels = {1, 0}}},
      {});
  CHECK(contains(neighbours, "data-component=\"nearest-neighbours\""));
  CHECK(contains(neighbours, "tile same"));
  CHECK(contains(neighbours, "tile other"));

  const std::string samples = report::sample_grids({{.caption = "epoch 1", .png = report::encode_png(gradient_image(4, 0))}});
  CHECK(contains(samples, "data-component=\"samples\""));
  CHECK(contains(samples, "data:image/png;base64,"));

  const report::StrengthSweep sweep = report::read_strength_sweep(kFixtures + "steering_sweep.json");
  REQUIRE(sweep.strengths.size() == 5);
  CHECK(sweep.metrics[0].second[4] == doctest::Approx(9.5));
  const std::string swept = report::strength_sweep({sweep});
  CHECK(contains(swept, "data-component=\"strength-sweep\""));
  CHECK(contains(swept, "class 0 top-1 (%)"));
}

TEST_CASE("report: neuron_paths draws every unit and edge and refuses an edge out of range") {
  const report::NeuronPaths paths = report::read_neuron_paths(kFixtures + "neuron_paths.json");
  REQUIRE(paths.layers.size() == 4);
  REQUIRE(paths.edges.size() == 8);
  const std::string html = report::neuron_paths(paths);
  CHECK(contains(html, "data-component=\"neuron-paths\""));
  size_t lines = 0;
  for (size_t at = html.find("<line"); at != std::string::npos; at = html.find("<line", at + 1)) ++lines;
  CHECK(lines == 8);
  CHECK(contains(html, "#c62828"));  // a negative edge
  report::NeuronPaths broken = paths;
  broken.edges.push_back({.layer = 2, .from = 0, .to = 3, .weight = 1});  // "fc" has one unit
  CHECK_THROWS_AS(report::neuron_paths(broken), Error);
}

TEST_CASE("report: robustness.json is read and drawn as one heat map per group plus the gap") {
  const report::Robustness robustness = report::read_robustness(kFixtures + "robustness.json");
  REQUIRE(robustness.perturbations.size() == 3);
  CHECK(robustness.groups == std::vector<std::string>{"tops", "shoes"});
  CHECK(robustness.auc.at("shoes")[2][1] == doctest::Approx(0.83));
  CHECK(robustness.clean_auc.at("tops") == doctest::Approx(0.94));
  const std::string html = report::robustness_heat_maps(robustness);
  CHECK(contains(html, "data-component=\"robustness\""));
  CHECK(contains(html, "tops (clean AUC 0.94)"));
  CHECK(contains(html, ">gap</text>"));
  CHECK(contains(html, "rotation (10, 30)"));

  // A table whose shape does not match the perturbations is refused naming the file and the key.
  TempFolder folder("report_robustness");
  std::string text = testing::read_text(kFixtures + "robustness.json");
  text.replace(text.find("[0.95, 0.83]"), 12, "[0.95]");
  testing::write_text(folder / "robustness.json", text);
  try {
    report::read_robustness(folder / "robustness.json");
    FAIL("a short row was accepted");
  } catch (const Error& error) {
    CHECK(contains(error.what(), "robustness.json"));
    CHECK(contains(error.what(), "auc.shoes"));
  }
}

TEST_CASE("report: the report of a classifier run and a DDPM run holds what their folders feed") {
  TempFolder folder("report_runs");
  const std::string classifier = folder / "classifier", ddpm = folder / "ddpm";
  train_fixture("tiny_classifier.yaml", classifier);
  train_fixture("tiny_ddpm.yaml", ddpm);

  const report::Page alone = report::run_report({classifier}, {.embedding_points = 64});
  const std::string html = alone.render();
  for (const char* component : {"training-curves", "confusion-matrix", "embedding", "nearest-neighbours"})
    CHECK(contains(html, std::string("data-component=\"") + component + "\""));
  CHECK(contains(html, ">t-SNE</text>"));
  CHECK_FALSE(contains(html, "data-component=\"samples\""));
  CHECK(contains(html, "<b>samples</b>: no samples*.png"));
  CHECK(contains(html, "<b>robustness</b>: no robustness.json"));

  // The fixtures of the other helpers' files, dropped into the run folder, appear as their components.
  for (const char* file : {"robustness.json", "neuron_paths.json", "steering_sweep.json"})
    std::filesystem::copy_file(kFixtures + file, classifier + "/" + file);
  const std::string both = report::run_report({classifier, ddpm}, {.tsne = false}).render();
  for (const char* component : {"training-curves", "samples", "robustness", "neuron-paths", "strength-sweep"})
    CHECK(contains(both, std::string("data-component=\"") + component + "\""));
  CHECK(contains(both, "ddpm: samples_epoch2.png"));
  CHECK(contains(both, "<b>t-SNE</b>"));
  CHECK(contains(both, "data-omitted=\"1\""));  // nothing but the t-SNE left out

  // A DDPM's UNet has no backbone features: those components are left out, saying why.
  const std::string diffusion = report::run_report({ddpm}).render();
  CHECK(contains(diffusion, "<b>embedding</b>: the model ddpm_unet is not a backbone"));
  CHECK(contains(diffusion, "data-component=\"samples\""));

  CHECK_THROWS_AS(report::run_report({folder / "missing"}), Error);
}

TEST_CASE("report: the README example builds a page from components") {
  TempFolder folder("report_readme");
  for (const char* run : {"a", "b"}) {
    std::filesystem::create_directories(folder / run);
    testing::write_text(folder / (std::string(run) + "/metrics.jsonl"),
                        "{\"step\":10,\"epoch\":0.5,\"loss\":2.0}\n{\"step\":20,\"epoch\":1.0,\"loss\":1.0}\n");
  }
  std::vector<int64_t> labels;
  const Tensor features = clustered_points(20, 4, 2, labels);
  const std::vector<std::string> class_names = {"cat", "dog"};
  const std::string path = folder / "report.html";
  // From the README ("Reports"), with the run folders in the test's folder.
  report::Page page{.title = "EMA scaling"};
  page.add(report::training_curves({{.name = "κ = 1", .metrics = training::read_metrics(folder / "a/metrics.jsonl")},
                                    {.name = "κ = 4", .metrics = training::read_metrics(folder / "b/metrics.jsonl")}}));
  page.add(report::embedding_plot({{.method = "PCA", .points = report::pca_2d(features), .labels = labels}},
                                  class_names));
  page.add(report::confusion_matrix({.counts = {{48, 2}, {5, 45}}, .class_names = {"cat", "dog"}}));
  page.omit("samples", "not a diffusion run");
  report::write_text_file(path, page.render());

  const std::string html = testing::read_text(path);
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  CHECK(contains(html, "<title>EMA scaling</title>"));
  CHECK(contains(html, "κ = 4"));
  CHECK(contains(html, "data-component=\"embedding\""));
  CHECK(contains(html, ">0.96</text>"));  // 48 of 50
  CHECK(contains(html, "<b>samples</b>: not a diffusion run"));
  CHECK(contains(html, "Content-Security-Policy"));
}
