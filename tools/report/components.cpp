// The report components (components.h): data in, an HTML fragment of inline SVG, tables and PNG data
// URIs out.
#include "tools/report/components.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "tools/report/html.h"
#include "tools/report/svg_chart.h"

namespace vireo::report {
namespace {

// Ten colours that stay apart (matplotlib's tab10), one per class.
const char* const kClassColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                     "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string open_section(const std::string& component, const std::string& title) {
  return "<section class=\"component\" data-component=\"" + escape_html(component) + "\">\n<h2>" + escape_html(title) +
         "</h2>\n";
}

const std::string kCloseSection = "</section>\n";

std::string caption_paragraph(const std::string& caption) {
  return caption.empty() ? "" : "<p class=\"caption\">" + escape_html(caption) + "</p>\n";
}

std::string class_name(const std::vector<std::string>& names, int64_t label) {
  return label >= 0 && label < static_cast<int64_t>(names.size()) ? names[static_cast<size_t>(label)]
                                                                   : std::to_string(label);
}

std::string image_tag(const data::Image& image, const std::string& title, const std::string& css_class) {
  return "<img class=\"" + css_class + "\" src=\"" + png_data_uri(image) + "\" title=\"" + escape_html(title) +
         "\" alt=\"" + escape_html(title) + "\">";
}

// A colour for t in [0, 1]: white to blue, or (diverging, t in [−1, 1]) blue – white – red.
std::string scale_colour(double t, bool diverging) {
  auto mix = [](double a, double b, double f) { return static_cast<int>(std::lround(a + (b - a) * f)); };
  int red, green, blue;
  if (!diverging) {
    t = std::clamp(t, 0.0, 1.0);
    red = mix(255, 8, t), green = mix(255, 81, t), blue = mix(255, 156, t);
  } else if (t < 0) {
    t = std::clamp(-t, 0.0, 1.0);
    red = mix(255, 33, t), green = mix(255, 102, t), blue = mix(255, 172, t);
  } else {
    t = std::clamp(t, 0.0, 1.0);
    red = mix(255, 178, t), green = mix(255, 24, t), blue = mix(255, 43, t);
  }
  char text[8];
  std::snprintf(text, sizeof(text), "#%02x%02x%02x", red, green, blue);
  return text;
}

// Which metrics a curve chart shows first; the rest follow by name.
int metric_rank(const std::string& name) {
  if (name == "loss") return 0;
  if (name == "lr") return 1;
  return 2;
}

bool is_bookkeeping(const std::string& name) { return name == "step" || name == "epoch" || name == "img_per_s"; }

}  // namespace

std::string training_curves(const std::vector<RunMetrics>& runs) {
  // metric -> run index -> (steps, values)
  std::map<std::string, std::vector<Series>> curves;
  std::map<std::string, std::vector<double>> last_values;
  for (size_t r = 0; r < runs.size(); ++r)
    for (const training::Metrics& line : runs[r].metrics) {
      double step = std::numeric_limits<double>::quiet_NaN();
      for (const auto& [name, value] : line)
        if (name == "step") step = value;
      for (const auto& [name, value] : line) {
        if (is_bookkeeping(name)) continue;
        std::vector<Series>& series = curves[name];
        if (series.empty())
          for (size_t k = 0; k < runs.size(); ++k)
            series.push_back({.name = runs[k].name, .colour = static_cast<int>(k)});
        series[r].x.push_back(step);
        series[r].y.push_back(value);
        std::vector<double>& last = last_values[name];
        last.resize(runs.size(), std::numeric_limits<double>::quiet_NaN());
        last[r] = value;
      }
    }
  std::vector<std::string> names;
  for (const auto& [name, series] : curves) names.push_back(name);
  std::stable_sort(names.begin(), names.end(),
                   [](const std::string& a, const std::string& b) { return metric_rank(a) < metric_rank(b); });

  std::ostringstream html;
  html << open_section("training-curves", "Training curves");
  html << "<div class=\"charts\">\n";
  for (const std::string& name : names) {
    const std::vector<Series>& series = curves[name];
    const bool curve = std::any_of(series.begin(), series.end(), [](const Series& s) { return s.x.size() >= 2; });
    if (!curve) continue;
    SvgChart chart{.title = name, .x_label = "step", .y_label = name, .width = 520, .height = 300};
    for (const Series& line : series)
      if (!line.x.empty()) chart.add(line);
    html << "<figure class=\"chart\">" << chart.render() << "</figure>\n";
  }
  html << "</div>\n<table class=\"values\"><tr><th>metric (last value)</th>";
  for (const RunMetrics& run : runs) html << "<th>" << escape_html(run.name) << "</th>";
  html << "</tr>\n";
  for (const std::string& name : names) {
    html << "<tr><td>" << escape_html(name) << "</td>";
    for (double value : last_values[name]) html << "<td>" << format_value(value) << "</td>";
    html << "</tr>\n";
  }
  html << "</table>\n" << kCloseSection;
  return html.str();
}

std::string embedding_plot(const std::vector<Embedding>& projections, const std::vector<std::string>& class_names,
                           const std::string& caption) {
  std::ostringstream html;
  html << open_section("embedding", "Embedding of backbone features") << caption_paragraph(caption)
       << "<div class=\"charts\">\n";
  std::set<int64_t> present;
  for (const Embedding& projection : projections) {
    VIREO_CHECK(projection.points.size() == projection.labels.size(), "embedding_plot: ", projection.method, " has ",
                projection.points.size(), " points but ", projection.labels.size(), " labels");
    double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low, y_low = x_low, y_high = -x_low;
    for (const auto& [x, y] : projection.points) {
      x_low = std::min(x_low, x), x_high = std::max(x_high, x);
      y_low = std::min(y_low, y), y_high = std::max(y_high, y);
    }
    const double size = 360, margin = 12;
    auto px = [&](double x) { return margin + (x - x_low) / std::max(x_high - x_low, 1e-12) * (size - 2 * margin); };
    auto py = [&](double y) { return size - margin - (y - y_low) / std::max(y_high - y_low, 1e-12) * (size - 2 * margin); };
    html << "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << size << "\" height=\""
         << size + 24 << "\" font-family=\"sans-serif\" font-size=\"13\"><rect width=\"100%\" height=\"100%\" "
         << "fill=\"white\"/><text x=\"" << size / 2 << "\" y=\"" << size + 18 << "\" text-anchor=\"middle\">"
         << escape_html(projection.method) << "</text><rect x=\"1\" y=\"1\" width=\"" << size - 2 << "\" height=\""
         << size - 2 << "\" fill=\"none\" stroke=\"#ccc\"/>\n";
    for (size_t i = 0; i < projection.points.size(); ++i) {
      const int64_t label = projection.labels[i];
      present.insert(label);
      html << "<circle r=\"2.5\" cx=\"" << px(projection.points[i][0]) << "\" cy=\"" << py(projection.points[i][1])
           << "\" fill=\"" << kClassColours[((label % 10) + 10) % 10] << "\" fill-opacity=\"0.75\"/>";
    }
    html << "\n</svg></figure>\n";
  }
  html << "</div>\n<p class=\"legend\">";
  for (int64_t label : present)
    html << "<span><i style=\"background:" << kClassColours[((label % 10) + 10) % 10] << "\"></i>"
         << escape_html(class_name(class_names, label)) << "</span> ";
  html << "</p>\n" << kCloseSection;
  return html.str();
}

std::string nearest_neighbours(const std::vector<NeighbourRow>& rows, const std::vector<std::string>& class_names,
                               const std::string& caption) {
  std::ostringstream html;
  html << open_section("nearest-neighbours", "Nearest neighbours") << caption_paragraph(caption)
       << "<table class=\"neighbours\">\n";
  for (const NeighbourRow& row : rows) {
    VIREO_CHECK(row.neighbours.size() == row.neighbour_labels.size(), "nearest_neighbours: ", row.neighbours.size(),
                " neighbour images but ", row.neighbour_labels.size(), " labels");
    html << "<tr><td class=\"query\">" << image_tag(row.query, "query: " + class_name(class_names, row.query_label), "tile")
         << "</td>";
    for (size_t k = 0; k < row.neighbours.size(); ++k) {
      const bool same = row.neighbour_labels[k] == row.query_label;
      html << "<td>"
           << image_tag(row.neighbours[k], class_name(class_names, row.neighbour_labels[k]),
                        same ? "tile same" : "tile other")
           << "</td>";
    }
    html << "</tr>\n";
  }
  html << "</table>\n" << kCloseSection;
  return html.str();
}

std::string sample_grids(const std::vector<CaptionedImage>& grids) {
  std::ostringstream html;
  html << open_section("samples", "Samples") << "<div class=\"grids\">\n";
  for (const CaptionedImage& grid : grids)
    html << "<figure><img class=\"grid\" src=\"" << png_data_uri(grid.png) << "\" alt=\"" << escape_html(grid.caption)
         << "\"><figcaption>" << escape_html(grid.caption) << "</figcaption></figure>\n";
  html << "</div>\n" << kCloseSection;
  return html.str();
}

std::string strength_sweep(const std::vector<StrengthSweep>& sweeps) {
  std::ostringstream html;
  html << open_section("strength-sweep", "Steering strength sweep");
  for (const StrengthSweep& sweep : sweeps) {
    SvgChart chart{.title = sweep.title, .x_label = "strength λ", .y_label = "value", .width = 620, .height = 340};
    for (const auto& [name, values] : sweep.metrics) {
      VIREO_CHECK(values.size() == sweep.strengths.size(), "strength_sweep: metric '", name, "' has ", values.size(),
                  " values for ", sweep.strengths.size(), " strengths");
      chart.add({.name = name, .x = sweep.strengths, .y = values});
    }
    html << "<figure class=\"chart\">" << chart.render() << "</figure>\n";
    html << "<table class=\"values\"><tr><th>λ</th>";
    for (const auto& [name, values] : sweep.metrics) html << "<th>" << escape_html(name) << "</th>";
    html << "</tr>\n";
    for (size_t s = 0; s < sweep.strengths.size(); ++s) {
      html << "<tr><td>" << format_value(sweep.strengths[s]) << "</td>";
      for (const auto& [name, values] : sweep.metrics) html << "<td>" << format_value(values[s]) << "</td>";
      html << "</tr>\n";
    }
    html << "</table>\n";
    if (!sweep.strip.empty()) {
      VIREO_CHECK(sweep.strip.size() == sweep.strengths.size(), "strength_sweep: ", sweep.strip.size(),
                  " strip images for ", sweep.strengths.size(), " strengths");
      html << "<div class=\"strip\">";
      for (size_t s = 0; s < sweep.strip.size(); ++s)
        html << "<figure>" << image_tag(sweep.strip[s], "λ = " + format_value(sweep.strengths[s]), "tile")
             << "<figcaption>λ = " << format_value(sweep.strengths[s]) << "</figcaption></figure>";
      html << "</div>\n";
    }
  }
  html << kCloseSection;
  return html.str();
}

std::string neuron_paths(const NeuronPaths& paths) {
  VIREO_CHECK(paths.neurons.size() == paths.layers.size(), "neuron_paths: ", paths.layers.size(), " layers but ",
              paths.neurons.size(), " neuron lists");
  size_t tallest = 1;
  for (const auto& units : paths.neurons) tallest = std::max(tallest, units.size());
  const double column = 170, row = 34, left = 70, top = 40;
  const double width = left * 2 + column * static_cast<double>(std::max<size_t>(paths.layers.size(), 1) - 1);
  const double height = top + row * static_cast<double>(tallest) + 20;
  auto x_of = [&](int64_t layer) { return left + column * static_cast<double>(layer); };
  auto y_of = [&](int64_t layer, int64_t unit) {
    const double count = static_cast<double>(paths.neurons[static_cast<size_t>(layer)].size());
    return top + row * (static_cast<double>(unit) + 0.5) + row * (static_cast<double>(tallest) - count) / 2;
  };
  double heaviest = 1e-12;
  for (const NeuronPaths::Edge& edge : paths.edges) heaviest = std::max(heaviest, std::abs(edge.weight));

  std::ostringstream svg;
  svg << open_section("neuron-paths", "Neuron paths") << "<figure class=\"chart\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
      << "width=\"" << width << "\" height=\"" << height << "\" font-family=\"sans-serif\" font-size=\"12\">"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  const int64_t layer_count = static_cast<int64_t>(paths.layers.size());
  for (const NeuronPaths::Edge& edge : paths.edges) {
    VIREO_CHECK(edge.layer >= 0 && edge.layer + 1 < layer_count, "neuron_paths: an edge from layer ", edge.layer,
                " of ", layer_count);
    const auto from_count = static_cast<int64_t>(paths.neurons[static_cast<size_t>(edge.layer)].size());
    const auto to_count = static_cast<int64_t>(paths.neurons[static_cast<size_t>(edge.layer + 1)].size());
    VIREO_CHECK(edge.from >= 0 && edge.from < from_count && edge.to >= 0 && edge.to < to_count,
                "neuron_paths: an edge ", edge.from, " -> ", edge.to, " between layers of ", from_count, " and ",
                to_count, " units");
    svg << "<line x1=\"" << x_of(edge.layer) << "\" y1=\"" << y_of(edge.layer, edge.from) << "\" x2=\""
        << x_of(edge.layer + 1) << "\" y2=\"" << y_of(edge.layer + 1, edge.to) << "\" stroke=\""
        << (edge.weight >= 0 ? "#1f5fb4" : "#c62828") << "\" stroke-opacity=\"0.7\" stroke-width=\""
        << 0.5 + 5.0 * std::abs(edge.weight) / heaviest << "\"><title>" << format_value(edge.weight)
        << "</title></line>\n";
  }
  for (int64_t layer = 0; layer < layer_count; ++layer) {
    svg << "<text x=\"" << x_of(layer) << "\" y=\"22\" text-anchor=\"middle\" font-weight=\"bold\">"
        << escape_html(paths.layers[static_cast<size_t>(layer)]) << "</text>\n";
    const auto& units = paths.neurons[static_cast<size_t>(layer)];
    for (size_t unit = 0; unit < units.size(); ++unit)
      svg << "<circle r=\"9\" cx=\"" << x_of(layer) << "\" cy=\"" << y_of(layer, static_cast<int64_t>(unit))
          << "\" fill=\"#fff\" stroke=\"#333\"/><text x=\"" << x_of(layer) + 13 << "\" y=\""
          << y_of(layer, static_cast<int64_t>(unit)) + 4 << "\">" << escape_html(units[unit]) << "</text>\n";
  }
  svg << "</svg></figure>\n" << kCloseSection;
  return svg.str();
}

std::string heat_map_svg(const HeatMap& map) {
  // The row labels' margin: about 6.5 pixels a character at 11 px, at least 120.
  size_t longest_row_label = 0;
  for (const std::string& label : map.row_labels) longest_row_label = std::max(longest_row_label, label.size());
  const double cell_width = 56, cell_height = 26, top = 54;
  const double left = std::max(120.0, 6.5 * static_cast<double>(longest_row_label) + 12);
  size_t columns = map.column_labels.size();
  for (const auto& row : map.values) columns = std::max(columns, row.size());
  // Wide enough for the cells and for the title (about 7.5 pixels a character at 14 px).
  const double width = std::max(left + cell_width * static_cast<double>(columns) + 10,
                                7.5 * static_cast<double>(map.title.size()) + 20);
  const double height = top + cell_height * static_cast<double>(map.values.size()) + 10;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
      << "<text x=\"" << width / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">" << escape_html(map.title)
      << "</text>\n";
  for (size_t c = 0; c < map.column_labels.size(); ++c)
    svg << "<text x=\"" << left + cell_width * (static_cast<double>(c) + 0.5) << "\" y=\"" << top - 8
        << "\" text-anchor=\"middle\">" << escape_html(map.column_labels[c]) << "</text>";
  const double span = std::max(map.high - map.low, 1e-12);
  for (size_t r = 0; r < map.values.size(); ++r) {
    const double y = top + cell_height * static_cast<double>(r);
    if (r < map.row_labels.size())
      svg << "<text x=\"" << left - 6 << "\" y=\"" << y + cell_height / 2 + 4 << "\" text-anchor=\"end\">"
          << escape_html(map.row_labels[r]) << "</text>";
    for (size_t c = 0; c < map.values[r].size(); ++c) {
      const double value = map.values[r][c];
      if (std::isnan(value)) continue;
      // Sequential: t = (v − low)/(high − low). Diverging: t = v / max(|low|, |high|), signed.
      const double t = map.diverging ? value / std::max({std::abs(map.low), std::abs(map.high), 1e-12})
                                     : (value - map.low) / span;
      const double x = left + cell_width * static_cast<double>(c);
      svg << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cell_width - 1 << "\" height=\"" << cell_height - 1
          << "\" fill=\"" << scale_colour(t, map.diverging) << "\"/><text x=\"" << x + cell_width / 2 << "\" y=\""
          << y + cell_height / 2 + 4 << "\" text-anchor=\"middle\" fill=\"" << (std::abs(t) > 0.6 ? "white" : "black")
          << "\">" << format_value(value) << "</text>";
    }
    svg << "\n";
  }
  svg << "</svg>";
  return svg.str();
}

std::string confusion_matrix(const ConfusionMatrix& confusion, const std::string& caption) {
  const size_t classes = confusion.counts.size();
  HeatMap map{.title = "rows: true class, columns: predicted (share of the row)"};
  for (size_t i = 0; i < classes; ++i) {
    VIREO_CHECK(confusion.counts[i].size() == classes, "confusion_matrix: row ", i, " has ", confusion.counts[i].size(),
                " counts for ", classes, " classes");
    const std::string name = class_name(confusion.class_names, static_cast<int64_t>(i));
    map.row_labels.push_back(name);
    map.column_labels.push_back(name);
    int64_t total = 0;
    for (int64_t count : confusion.counts[i]) total += count;
    std::vector<double> shares;
    for (int64_t count : confusion.counts[i])
      shares.push_back(total > 0 ? static_cast<double>(count) / static_cast<double>(total)
                                 : std::numeric_limits<double>::quiet_NaN());
    map.values.push_back(shares);
  }
  return open_section("confusion-matrix", "Confusion matrix") + caption_paragraph(caption) +
         "<figure class=\"chart\">" + heat_map_svg(map) + "</figure>\n" + kCloseSection;
}

Robustness read_robustness(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& error) {
    fail(path, ": not valid JSON (", error.what(), ")");
  }
  const auto field = [&](const nlohmann::json& object, const std::string& key) -> const nlohmann::json& {
    if (!object.is_object() || !object.contains(key)) fail(path, ": missing key '", key, "'");
    return object.at(key);
  };
  // A table [perturbation][strength] whose shape matches the perturbations' strength lists.
  Robustness robustness;
  const auto table = [&](const nlohmann::json& value, const std::string& key) {
    std::vector<std::vector<double>> rows;
    try {
      // null (a group without examples: NaN in vireo robustness) is a blank cell.
      for (const nlohmann::json& row : value) {
        rows.emplace_back();
        for (const nlohmann::json& cell : row)
          rows.back().push_back(cell.is_null() ? std::numeric_limits<double>::quiet_NaN() : cell.get<double>());
      }
    } catch (const nlohmann::json::exception&) {
      fail(path, ": '", key, "' is not a list of lists of numbers");
    }
    VIREO_CHECK(rows.size() == robustness.perturbations.size(), path, ": '", key, "' has ", rows.size(),
                " rows for ", robustness.perturbations.size(), " perturbations");
    for (size_t p = 0; p < rows.size(); ++p)
      VIREO_CHECK(rows[p].size() == robustness.perturbations[p].strengths.size(), path, ": '", key, "' row ", p, " has ",
                  rows[p].size(), " values for ", robustness.perturbations[p].strengths.size(), " strengths");
    return rows;
  };
  try {
    robustness.checkpoint = field(document, "checkpoint").get<std::string>();
    for (const nlohmann::json& perturbation : field(document, "perturbations"))
      robustness.perturbations.push_back({.name = field(perturbation, "name").get<std::string>(),
                                          .strengths = field(perturbation, "strengths").get<std::vector<double>>()});
    for (const nlohmann::json& group : field(document, "groups"))
      robustness.groups.push_back(field(group, "name").get<std::string>());
    const nlohmann::json& auc = field(document, "auc");
    const nlohmann::json& clean = field(document, "clean_auc");
    for (const std::string& group : robustness.groups) {
      robustness.auc[group] = table(field(auc, group), "auc." + group);
      robustness.clean_auc[group] = field(clean, group).is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                                      : field(clean, group).get<double>();
    }
    robustness.gap = table(field(document, "gap"), "gap");
  } catch (const nlohmann::json::type_error& error) {
    fail(path, ": a value of the wrong type (", error.what(), ")");
  }
  return robustness;
}

std::string robustness_heat_maps(const Robustness& robustness) {
  // Rows: perturbations; columns: strength index (each row's strengths in its label).
  size_t columns = 0;
  std::vector<std::string> row_labels;
  for (const Robustness::Perturbation& perturbation : robustness.perturbations) {
    columns = std::max(columns, perturbation.strengths.size());
    std::string label = perturbation.name + " (";
    for (size_t s = 0; s < perturbation.strengths.size(); ++s)
      label += (s ? ", " : "") + format_value(perturbation.strengths[s]);
    row_labels.push_back(label + ")");
  }
  // Column s is each row's s-th strength; vireo robustness puts strength 0, the clean images, first.
  const bool clean_first = std::all_of(robustness.perturbations.begin(), robustness.perturbations.end(),
                                       [](const Robustness::Perturbation& p) { return !p.strengths.empty() && p.strengths[0] == 0.0; });
  std::vector<std::string> column_labels;
  for (size_t s = 0; s < columns; ++s)
    column_labels.push_back(s == 0 && clean_first ? "clean" : "level " + std::to_string(clean_first ? s : s + 1));

  std::ostringstream html;
  html << open_section("robustness", "Robustness") << caption_paragraph("checkpoint: " + robustness.checkpoint)
       << "<p class=\"caption\">Rows: perturbation (its strengths in brackets, weakest first); cells: AUC at each "
          "strength.</p>\n<div class=\"charts\">\n";
  for (const std::string& group : robustness.groups) {
    const auto clean = robustness.clean_auc.find(group);
    const std::string clean_text = clean == robustness.clean_auc.end() ? "–" : format_value(clean->second);
    HeatMap map{.title = group + " (clean AUC " + clean_text + ")", .row_labels = row_labels,
                .column_labels = column_labels, .values = robustness.auc.at(group), .low = 0.5, .high = 1.0};
    html << "<figure class=\"chart\">" << heat_map_svg(map) << "</figure>\n";
  }
  double largest = 1e-12;
  for (const auto& row : robustness.gap)
    for (double value : row) largest = std::max(largest, std::abs(value));
  HeatMap gap{.title = "gap", .row_labels = row_labels, .column_labels = column_labels, .values = robustness.gap,
              .low = -largest, .high = largest, .diverging = true};
  html << "<figure class=\"chart\">" << heat_map_svg(gap) << "</figure>\n</div>\n" << kCloseSection;
  return html.str();
}

}  // namespace vireo::report
