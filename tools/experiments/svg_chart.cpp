// SvgChart (svg_chart.h): axes, ticks, polylines and a legend as plain SVG elements; SvgHeatMaps: grids
// of coloured rectangles.
#include "tools/experiments/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/error.h"

namespace vireo::experiments {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

// Round tick positions covering [low, high]: steps of 1, 2 or 5 times a power of ten, about five of them.
std::vector<double> nice_ticks(double low, double high) {
  const double span = high - low;
  const double raw = span / 5.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / magnitude;
  const double step = magnitude * (fraction < 1.5 ? 1.0 : fraction < 3.5 ? 2.0 : fraction < 7.5 ? 5.0 : 10.0);
  std::vector<double> ticks;
  for (double tick = std::ceil(low / step) * step; tick <= high + 1e-9 * span; tick += step)
    ticks.push_back(std::abs(tick) < 1e-12 * span ? 0.0 : tick);
  return ticks;
}

std::string format_number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return text;
}

// A cell's value with three decimals ("0.973").
std::string format_cell(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", value);
  return text;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

// A document written to `path` through a temporary file renamed over it.
void write_document(const std::string& document, const std::string& path) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    out << document;
    if (!out.flush()) throw Error("cannot write the figure " + path + " (through " + temporary + ")");
  }
  std::error_code failure;
  std::filesystem::rename(temporary, path, failure);
  if (failure) throw Error("cannot write the figure " + path + ": " + failure.message());
}

// Viridis at t ∈ [0, 1], linear between five of its colours.
std::string viridis(double t) {
  static const double anchors[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(static_cast<int>(t), 3);
  const double f = t - i;
  char colour[8];
  std::snprintf(colour, sizeof colour, "#%02x%02x%02x", static_cast<int>(std::lround(anchors[i][0] + f * (anchors[i + 1][0] - anchors[i][0]))),
                static_cast<int>(std::lround(anchors[i][1] + f * (anchors[i + 1][1] - anchors[i][1]))),
                static_cast<int>(std::lround(anchors[i][2] + f * (anchors[i + 1][2] - anchors[i][2]))));
  return colour;
}

}  // namespace

void SvgChart::add(Series line) {
  if (line.x.size() != line.y.size() || line.x.empty())
    throw Error("SvgChart: series '" + line.name + "' needs as many y as x values, and at least one (got " +
                std::to_string(line.x.size()) + " x, " + std::to_string(line.y.size()) + " y)");
  if (line.colour < 0) line.colour = static_cast<int>(series.size());
  series.push_back(std::move(line));
}

std::string SvgChart::render() const {
  if (series.empty()) throw Error("SvgChart '" + title + "': no series to draw");
  // The data range, with the y axis on a log scale when asked.
  auto transform_y = [&](double y) {
    if (log_y && !(y > 0)) throw Error("SvgChart '" + title + "': log y axis needs positive values, got " + format_number(y));
    return log_y ? std::log10(y) : y;
  };
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low, y_low = x_low, y_high = -x_low;
  for (const Series& line : series)
    for (size_t i = 0; i < line.x.size(); ++i) {
      x_low = std::min(x_low, line.x[i]);
      x_high = std::max(x_high, line.x[i]);
      y_low = std::min(y_low, transform_y(line.y[i]));
      y_high = std::max(y_high, transform_y(line.y[i]));
    }
  if (x_high == x_low) x_high = x_low + 1;
  if (y_high == y_low) y_high = y_low + 1;
  const double y_margin = 0.05 * (y_high - y_low);
  y_low -= y_margin;
  y_high += y_margin;

  const double left = 80, right = width - 190, top = 40, bottom = height - 55;
  auto px = [&](double x) { return left + (x - x_low) / (x_high - x_low) * (right - left); };
  auto py = [&](double y) { return bottom - (y - y_low) / (y_high - y_low) * (bottom - top); };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << (left + right) / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(title)
      << "</text>\n";
  // Axes and ticks.
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << right - left << "\" height=\"" << bottom - top
      << "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (double tick : nice_ticks(x_low, x_high)) {
    svg << "<line x1=\"" << px(tick) << "\" y1=\"" << bottom << "\" x2=\"" << px(tick) << "\" y2=\"" << bottom + 5
        << "\" stroke=\"#333\"/><text x=\"" << px(tick) << "\" y=\"" << bottom + 18 << "\" text-anchor=\"middle\">"
        << format_number(tick) << "</text>\n";
  }
  // A log axis is ticked at the powers of ten it spans (at round values between them when it spans less
  // than two).
  std::vector<double> y_ticks;
  if (log_y)
    for (double exponent = std::ceil(y_low); exponent <= y_high; exponent += 1) y_ticks.push_back(exponent);
  if (y_ticks.size() < 2) y_ticks = nice_ticks(y_low, y_high);
  for (double tick : y_ticks) {
    const std::string label = log_y ? format_number(std::pow(10.0, tick)) : format_number(tick);
    svg << "<line x1=\"" << left - 5 << "\" y1=\"" << py(tick) << "\" x2=\"" << right << "\" y2=\"" << py(tick)
        << "\" stroke=\"#ddd\"/><text x=\"" << left - 8 << "\" y=\"" << py(tick) + 4 << "\" text-anchor=\"end\">"
        << label << "</text>\n";
  }
  svg << "<text x=\"" << (left + right) / 2 << "\" y=\"" << height - 15 << "\" text-anchor=\"middle\">"
      << escape(x_label) << "</text>\n"
      << "<text transform=\"translate(18," << (top + bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << escape(y_label) << (log_y ? " (log scale)" : "") << "</text>\n";
  // The series, then the legend.
  for (const Series& line : series) {
    svg << "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" << kPalette[line.colour % kPaletteSize] << "\""
        << (line.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
    for (size_t i = 0; i < line.x.size(); ++i) svg << px(line.x[i]) << "," << py(transform_y(line.y[i])) << " ";
    svg << "\"/>\n";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = top + 12 + 20.0 * static_cast<double>(i);
    svg << "<line x1=\"" << right + 12 << "\" y1=\"" << y << "\" x2=\"" << right + 42 << "\" y2=\"" << y
        << "\" stroke-width=\"1.8\" stroke=\"" << kPalette[series[i].colour % kPaletteSize] << "\""
        << (series[i].dashed ? " stroke-dasharray=\"6 4\"" : "") << "/><text x=\"" << right + 48 << "\" y=\"" << y + 4
        << "\">" << escape(series[i].name) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void SvgChart::write(const std::string& path) const { write_document(render(), path); }

void SvgHeatMaps::add(HeatMap map) {
  if (map.values.size() != map.row_labels.size())
    throw Error("SvgHeatMaps: heat map '" + map.title + "' has " + std::to_string(map.values.size()) + " rows but " +
                std::to_string(map.row_labels.size()) + " row labels");
  for (const auto& row : map.values)
    if (row.size() > map.column_labels.size())
      throw Error("SvgHeatMaps: heat map '" + map.title + "' has a row of " + std::to_string(row.size()) +
                  " values but " + std::to_string(map.column_labels.size()) + " column labels");
  maps.push_back(std::move(map));
}

std::string SvgHeatMaps::render() const {
  if (maps.empty()) throw Error("SvgHeatMaps '" + title + "': no heat map to draw");
  if (!(high > low)) throw Error("SvgHeatMaps '" + title + "': the colour scale needs high > low");
  // Every map gets the same panel: the largest grid, its row labels at the left, its title above.
  size_t rows = 0, cells = 0, label_length = 0;
  for (const HeatMap& map : maps) {
    rows = std::max(rows, map.row_labels.size());
    cells = std::max(cells, map.column_labels.size());
    for (const std::string& label : map.row_labels) label_length = std::max(label_length, label.size());
  }
  const double cell_width = 44, cell_height = 22, label_width = 7.0 * static_cast<double>(label_length) + 10;
  const double panel_width = label_width + cell_width * static_cast<double>(cells) + 20;
  const double panel_height = 40 + cell_height * static_cast<double>(rows) + 10;
  const int per_row = std::max(1, std::min<int>(columns, static_cast<int>(maps.size())));
  const int panel_rows = (static_cast<int>(maps.size()) + per_row - 1) / per_row;
  const double top = 36, legend_height = 40;
  const double figure_width = std::max(per_row * panel_width, 320.0);
  const double figure_height = top + panel_rows * panel_height + legend_height;

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << figure_width << "\" height=\"" << figure_height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << figure_width / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(title)
      << "</text>\n";
  for (size_t m = 0; m < maps.size(); ++m) {
    const HeatMap& map = maps[m];
    const double x0 = static_cast<double>(static_cast<int>(m) % per_row) * panel_width;
    const double y0 = top + static_cast<double>(static_cast<int>(m) / per_row) * panel_height;
    const double grid_left = x0 + label_width, grid_top = y0 + 36;
    svg << "<text x=\"" << grid_left + cell_width * static_cast<double>(map.column_labels.size()) / 2 << "\" y=\""
        << y0 + 14 << "\" text-anchor=\"middle\" font-size=\"13\">" << escape(map.title) << "</text>\n";
    for (size_t j = 0; j < map.column_labels.size(); ++j)
      svg << "<text x=\"" << grid_left + cell_width * (static_cast<double>(j) + 0.5) << "\" y=\"" << grid_top - 6
          << "\" text-anchor=\"middle\" fill=\"#555\">" << escape(map.column_labels[j]) << "</text>\n";
    for (size_t i = 0; i < map.row_labels.size(); ++i) {
      const double y = grid_top + cell_height * static_cast<double>(i);
      svg << "<text x=\"" << grid_left - 6 << "\" y=\"" << y + cell_height / 2 + 4 << "\" text-anchor=\"end\">"
          << escape(map.row_labels[i]) << "</text>\n";
      for (size_t j = 0; j < map.values[i].size(); ++j) {
        const double value = map.values[i][j];
        if (std::isnan(value)) continue;
        const double t = (value - low) / (high - low);
        const double x = grid_left + cell_width * static_cast<double>(j);
        svg << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell_width << "\" height=\"" << cell_height
            << "\" fill=\"" << viridis(t) << "\" stroke=\"white\"/><text x=\"" << x + cell_width / 2 << "\" y=\""
            << y + cell_height / 2 + 4 << "\" text-anchor=\"middle\" font-size=\"10\" fill=\""
            << (t > 0.6 ? "black" : "white") << "\">" << format_cell(value) << "</text>\n";
      }
    }
  }
  // The colour scale: a strip of ten steps from low to high.
  const double legend_y = figure_height - legend_height + 8, legend_left = 60, step = 20;
  svg << "<text x=\"" << legend_left - 6 << "\" y=\"" << legend_y + 12 << "\" text-anchor=\"end\">"
      << format_cell(low) << "</text>\n";
  for (int k = 0; k < 10; ++k)
    svg << "<rect x=\"" << legend_left + step * k << "\" y=\"" << legend_y << "\" width=\"" << step
        << "\" height=\"16\" fill=\"" << viridis((k + 0.5) / 10.0) << "\"/>\n";
  svg << "<text x=\"" << legend_left + step * 10 + 6 << "\" y=\"" << legend_y + 12 << "\">" << format_cell(high)
      << "</text>\n</svg>\n";
  return svg.str();
}

void SvgHeatMaps::write(const std::string& path) const { write_document(render(), path); }

}  // namespace vireo::experiments
