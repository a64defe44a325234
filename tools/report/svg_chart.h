// SvgChart: a line chart as self-contained SVG — the curves of reports (tools/report/components.h) and the
// figures of the experiments (tools/experiments/) without a plotting library. Linear axes with
// round-number ticks, one polyline per series (solid or dashed; a series of a dozen points or fewer also
// dots each point), a legend, a title and axis labels; the colours are a fixed palette so that the same
// series keeps its colour from figure to figure.
//
//   SvgChart chart{.title = "EMA loss", .x_label = "samples seen", .y_label = "loss"};
//   chart.add({.name = "κ = 1", .x = xs, .y = ys});
//   chart.write("figure.svg");   // throws vireo::Error naming the path when it cannot be written
#pragma once

#include <string>
#include <vector>

namespace vireo::report {

struct Series {
  std::string name;
  std::vector<double> x = {}, y = {};  // same length, at least one point
  int colour = -1;           // index into the palette; -1: the next one
  bool dashed = false;
};

struct SvgChart {
  std::string title, x_label, y_label;
  bool log_y = false;  // a base-10 logarithmic y axis (every y must then be positive)
  int width = 720, height = 420;
  std::vector<Series> series = {};

  void add(Series line);
  std::string render() const;             // the SVG document (also valid inline in HTML)
  void write(const std::string& path) const;  // atomically: a temporary file renamed over `path`
};

}  // namespace vireo::report
