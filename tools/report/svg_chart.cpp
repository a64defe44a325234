// SvgChart (svg_chart.h): axes, ticks, polylines and a legend as plain SVG elements.
#include "tools/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "engine/error.h"
#include "tools/report/html.h"

namespace vireo::report {
namespace {

const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);
// A series of this many points or fewer (say, one accuracy per epoch) also marks each point with a dot.
constexpr size_t kMarkedPoints = 12;

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
  // A single value is centred in a unit-wide range (or one of ±10% of it).
  const auto widen = [](double& low, double& high) {
    if (high > low) return;
    const double half = low == 0 ? 0.5 : 0.1 * std::abs(low);
    low -= half;
    high += half;
  };
  widen(x_low, x_high);
  widen(y_low, y_high);
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
      << "<text x=\"" << (left + right) / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape_html(title)
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
      << escape_html(x_label) << "</text>\n"
      << "<text transform=\"translate(18," << (top + bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << escape_html(y_label) << (log_y ? " (log scale)" : "") << "</text>\n";
  // The series, then the legend.
  for (const Series& line : series) {
    svg << "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" << kPalette[line.colour % kPaletteSize] << "\""
        << (line.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
    for (size_t i = 0; i < line.x.size(); ++i) svg << px(line.x[i]) << "," << py(transform_y(line.y[i])) << " ";
    svg << "\"/>\n";
    if (line.x.size() <= kMarkedPoints)
      for (size_t i = 0; i < line.x.size(); ++i)
        svg << "<circle r=\"3\" cx=\"" << px(line.x[i]) << "\" cy=\"" << py(transform_y(line.y[i])) << "\" fill=\""
            << kPalette[line.colour % kPaletteSize] << "\"/>\n";
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = top + 12 + 20.0 * static_cast<double>(i);
    svg << "<line x1=\"" << right + 12 << "\" y1=\"" << y << "\" x2=\"" << right + 42 << "\" y2=\"" << y
        << "\" stroke-width=\"1.8\" stroke=\"" << kPalette[series[i].colour % kPaletteSize] << "\""
        << (series[i].dashed ? " stroke-dasharray=\"6 4\"" : "") << "/><text x=\"" << right + 48 << "\" y=\"" << y + 4
        << "\">" << escape_html(series[i].name) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void SvgChart::write(const std::string& path) const { write_text_file(path, render()); }

}  // namespace vireo::report
