// The components of a report: each a function from plain data to an HTML fragment — a
// <section class="component" data-component="NAME"> holding inline SVG, tables and base64 PNG images,
// needing no script, stylesheet file or network. A report page (page.h) strings fragments together;
// research code can build its own page from the same functions:
//
//   report::Page page{.title = "my experiment"};
//   page.add(report::training_curves({{.name = "base", .metrics = training::read_metrics("runs/a/metrics.jsonl")}}));
//   page.add(report::confusion_matrix({.counts = counts, .class_names = names}));
//   report::write_text_file("report.html", page.render());
//
// Every name taken from the data (runs, metrics, classes, layers) is escaped (html.h). A component given
// data it cannot draw (rows of different lengths, a label out of range) throws vireo::Error naming it.
// The marker attribute data-component is what the browser test (tests/report/) looks for.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/report/embedding.h"
#include "training/data/image.h"
#include "training/metrics_log.h"

namespace vireo::report {

// ---- training curves: one chart per metric, every run overlaid, and a table of each run's last values ----
struct RunMetrics {
  std::string name;                 // the legend entry (a run folder's name)
  std::vector<training::Metrics> metrics;  // metrics.jsonl's lines (training::read_metrics)
};
// Charts every metric with at least two logged points in some run (loss and lr first, then the rest by
// name; "step", "epoch" and "img_per_s" are not charted), against the step.
std::string training_curves(const std::vector<RunMetrics>& runs);

// ---- a 2-D embedding of features, coloured by class: one scatter plot per projection, side by side ----
struct Embedding {
  std::string method;             // "PCA", "t-SNE"
  Points2d points;
  std::vector<int64_t> labels;    // one per point, in [0, class_names.size())
};
std::string embedding_plot(const std::vector<Embedding>& projections, const std::vector<std::string>& class_names,
                           const std::string& caption = "");

// ---- nearest neighbours: a query image, then its nearest neighbours in feature space ----
struct NeighbourRow {
  data::Image query;
  int64_t query_label = 0;
  std::vector<data::Image> neighbours = {};  // nearest first
  std::vector<int64_t> neighbour_labels = {};
};
// A neighbour of the query's class is framed green, another red.
std::string nearest_neighbours(const std::vector<NeighbourRow>& rows, const std::vector<std::string>& class_names,
                               const std::string& caption = "");

// ---- image grids (e.g. DDPM samples), each an already encoded PNG with a caption ----
struct CaptionedImage {
  std::string caption;
  std::vector<uint8_t> png;
};
std::string sample_grids(const std::vector<CaptionedImage>& grids);

// ---- a steering strength sweep: metrics against λ, and optionally one image per strength ----
struct StrengthSweep {
  std::string title;                          // e.g. the interventions applied
  std::vector<double> strengths;              // λ values
  std::vector<std::pair<std::string, std::vector<double>>> metrics;  // name -> one value per strength
  std::vector<data::Image> strip;             // empty, or one image per strength
};
std::string strength_sweep(const std::vector<StrengthSweep>& sweeps);

// ---- neuron paths: selected units of successive layers and weighted edges between them ----
struct NeuronPaths {
  std::vector<std::string> layers;                     // left to right
  std::vector<std::vector<std::string>> neurons;       // per layer, the selected units' labels
  struct Edge {
    int64_t layer = 0;        // from layers[layer] to layers[layer + 1]
    int64_t from = 0, to = 0; // indices into neurons[layer] and neurons[layer + 1]
    double weight = 0.0;      // drawn with width ∝ |weight|, blue when positive, red when negative
  };
  std::vector<Edge> edges;
};
std::string neuron_paths(const NeuronPaths& paths);

// ---- a confusion matrix: rows the true class, columns the predicted one (training/eval/confusion.h) ----
struct ConfusionMatrix {
  std::vector<std::vector<int64_t>> counts = {};  // C × C
  std::vector<std::string> class_names = {};      // C names, or empty for "0", "1", …
};
std::string confusion_matrix(const ConfusionMatrix& confusion, const std::string& caption = "");

// ---- robustness (robustness.json of `vireo robustness`): AUC per perturbation × strength per group ----
struct Robustness {
  std::string checkpoint;
  struct Perturbation {
    std::string name;
    std::vector<double> strengths;
  };
  std::vector<Perturbation> perturbations;
  std::vector<std::string> groups;                                   // group names, in file order
  std::map<std::string, std::vector<std::vector<double>>> auc;       // group -> [perturbation][strength]
  std::map<std::string, double> clean_auc;                           // group -> AUC without perturbation
  std::vector<std::vector<double>> gap;                              // [perturbation][strength]
};
// Parses the file; a missing key or a table of the wrong size is refused naming the path and the key.
Robustness read_robustness(const std::string& path);
// One heat map per group, then the gap, side by side.
std::string robustness_heat_maps(const Robustness& robustness);

// ---- a heat map as inline SVG: rows × columns of values, coloured from `low` to `high`, each cell labelled ----
struct HeatMap {
  std::string title;
  std::vector<std::string> row_labels = {}, column_labels = {};
  std::vector<std::vector<double>> values = {};  // rows; a shorter row leaves blank cells; NaN is blank
  double low = 0.0, high = 1.0;             // the colour scale's ends
  bool diverging = false;                   // blue (low) – white (0) – red (high), else white – blue
};
std::string heat_map_svg(const HeatMap& map);

}  // namespace vireo::report
