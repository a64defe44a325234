// SvgChart: a line chart written as a self-contained SVG file — the figures of the experiments
// (tools/experiments/) without a plotting library. Linear axes with round-number ticks, one polyline per
// series (solid or dashed), a legend, a title and axis labels; the colours are a fixed palette so that the
// same series keeps its colour from figure to figure.
//
//   SvgChart chart{.title = "EMA loss", .x_label = "samples seen", .y_label = "loss"};
//   chart.add({.name = "κ = 1", .x = xs, .y = ys});
//   chart.write("figure.svg");   // throws vireo::Error naming the path when it cannot be written
//
// SvgHeatMaps: matrices of numbers drawn side by side as coloured grids on one shared colour scale, each
// cell labelled with its value (`vireo robustness`'s AUC matrices). Self-contained: it shares only the
// file-writing and text-escaping helpers with SvgChart.
//
//   SvgHeatMaps maps{.title = "AUC", .low = 0.5, .high = 1.0};
//   maps.add({.title = "Trouser", .row_labels = {"noise"}, .column_labels = {"0", "0.1"}, .values = {{0.99, 0.97}}});
//   maps.write("auc.svg");
#pragma once

#include <string>
#include <vector>

namespace vireo::experiments {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length, at least one point
  int colour = -1;           // index into the palette; -1: the next one
  bool dashed = false;
};

struct SvgChart {
  std::string title, x_label, y_label;
  bool log_y = false;  // a base-10 logarithmic y axis (every y must then be positive)
  int width = 720, height = 420;
  std::vector<Series> series = {};

  void add(Series line);
  std::string render() const;             // the SVG document
  void write(const std::string& path) const;  // atomically: a temporary file renamed over `path`
};

struct HeatMap {
  std::string title;
  std::vector<std::string> row_labels, column_labels;
  std::vector<std::vector<double>> values;  // [row][column]; rows may be shorter, NaN draws an empty cell
};

struct SvgHeatMaps {
  std::string title;
  double low = 0.0, high = 1.0;  // the colour scale: low dark purple, high yellow (viridis)
  int columns = 4;               // heat maps per row of the figure
  std::vector<HeatMap> maps = {};

  void add(HeatMap map);
  std::string render() const;
  void write(const std::string& path) const;  // atomically, as SvgChart::write
};

}  // namespace vireo::experiments
