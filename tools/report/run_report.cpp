// run_report (run_report.h): the components of a report read out of run folders.
#include "tools/report/run_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "engine/error.h"
#include "engine/ops.h"
#include "models/backbone.h"
#include "tools/report/html.h"
#include "training/checkpoint.h"
#include "training/eval/confusion.h"
#include "training/eval/features.h"
#include "training/recipe_builders.h"

namespace vireo::report {
namespace {

namespace fs = std::filesystem;

nlohmann::json read_json(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& error) {
    fail(path, ": not valid JSON (", error.what(), ")");
  }
}

const nlohmann::json& field(const nlohmann::json& object, const std::string& key, const std::string& path) {
  if (!object.is_object() || !object.contains(key)) fail(path, ": missing key '", key, "'");
  return object.at(key);
}

// A run's name in legends: its folder's name ("runs/quickstart/" -> "quickstart").
std::string run_name(const std::string& run_dir) {
  fs::path path = fs::path(run_dir).lexically_normal();
  if (path.filename().empty()) path = path.parent_path();
  return path.filename().string();
}

// Files of `run_dir` whose names start with `prefix` and end with `suffix`, in natural order (shorter
// names first, so samples_epoch2.png comes before samples_epoch10.png).
std::vector<std::string> files_matching(const std::string& run_dir, const std::string& prefix, const std::string& suffix) {
  std::vector<std::string> names;
  std::error_code failure;
  for (const fs::directory_entry& entry : fs::directory_iterator(run_dir, failure)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.size() >= prefix.size() + suffix.size() && name.rfind(prefix, 0) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  for (std::string& name : names) name = (fs::path(run_dir) / name).string();
  return names;
}

// The saved tensors of `backbone` inside a checkpoint's model section: the keys themselves (a classifier),
// or the keys under the shortest prefix that holds all of them ("online.backbone." of a BYOL run; of two
// such prefixes of equal length, "online" before "target", "student" before "teacher").
StateDict backbone_state(const StateDict& saved, const nn::Module& backbone, const std::string& path,
                         std::string& prefix) {
  const StateDict expected = backbone.state_dict();
  VIREO_CHECK(!expected.empty(), path, ": the recipe's model has no state to load");
  const std::string& first = expected.begin()->first;
  std::vector<std::string> candidates;
  for (const auto& [key, tensor] : saved)
    if (key.size() >= first.size() && key.compare(key.size() - first.size(), first.size(), first) == 0) {
      const std::string candidate = key.substr(0, key.size() - first.size());
      if (!candidate.empty() && candidate.back() != '.') continue;
      const bool holds_all = std::all_of(expected.begin(), expected.end(),
                                         [&](const auto& entry) { return saved.count(candidate + entry.first) > 0; });
      if (holds_all) candidates.push_back(candidate);
    }
  if (candidates.empty()) fail(path, ": no part of the saved model fits the recipe's backbone (", first, " not found)");
  std::sort(candidates.begin(), candidates.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  prefix = candidates.front();
  StateDict state;
  for (const auto& [key, tensor] : expected) state[key] = saved.at(prefix + key);
  return state;
}

// The components that need the model: embedding, nearest neighbours and (classification) confusion.
void add_checkpoint_components(Page& page, const std::string& run_dir, const RunReportOptions& options) {
  const std::string path = (fs::path(run_dir) / training::kCheckpointFile).string();
  const training::Checkpoint checkpoint = training::load_checkpoint(path);
  training::Recipe recipe = training::parse_recipe(checkpoint.recipe_yaml, path + " (stored recipe)");
  training::set_math_threads(recipe.run);
  const std::shared_ptr<nn::Module> model = training::make_model(recipe.model);
  auto* backbone = dynamic_cast<models::Backbone*>(model.get());
  if (!backbone) {
    const std::string why = "the model " + recipe.model.name + " is not a backbone (no features to picture)";
    page.omit("embedding", why);
    page.omit("nearest neighbours", why);
    page.omit("confusion matrix", why);
    return;
  }
  std::string prefix;
  training::load_module_state(*model, backbone_state(checkpoint.model, *model, path, prefix), "model", path,
                              recipe.model.name);
  const auto test_set = training::make_dataset(recipe.data, data::Split::test);
  const data::Pipeline pipeline = training::make_pipeline(recipe.data, data::Split::test);
  const data::LoaderOptions loader{.batch_size = recipe.eval.batch_size, .workers = recipe.data.workers};
  std::vector<std::string> class_names;
  for (int64_t label = 0; label < test_set->num_classes(); ++label) class_names.push_back("class " + std::to_string(label));
  const std::string source = "run " + run_name(run_dir) + ", step " + std::to_string(checkpoint.position.step) +
                             (prefix.empty() ? "" : ", the saved model's " + prefix.substr(0, prefix.size() - 1));

  // Confusion over the whole test split, for a classifier.
  if (recipe.task == "classification") {
    const eval::FeatureSet logits = eval::extract_features(*model, test_set, pipeline, loader);
    const Tensor confusion = eval::confusion_matrix(argmax(logits.features, 1), logits.labels, test_set->num_classes());
    ConfusionMatrix matrix{.class_names = class_names};
    const std::vector<double> counts = confusion.to_vector();
    const auto classes = static_cast<size_t>(confusion.size(0));
    for (size_t i = 0; i < classes; ++i)
      matrix.counts.emplace_back(counts.begin() + static_cast<std::ptrdiff_t>(i * classes),
                                 counts.begin() + static_cast<std::ptrdiff_t>((i + 1) * classes));
    page.add(confusion_matrix(matrix, source + ", " + std::to_string(logits.size()) + " test images"));
  } else {
    page.omit("confusion matrix", "task " + recipe.task + " has no classifier");
  }

  // Backbone features of the first test images.
  std::vector<int64_t> first(static_cast<size_t>(std::min(options.embedding_points, test_set->size())));
  std::iota(first.begin(), first.end(), int64_t{0});
  const auto subset = std::make_shared<data::Subset>(test_set, first);
  const eval::FeatureSet features = eval::extract_features(*model, subset, pipeline, loader,
                                                           {.source = eval::FeatureSource::backbone});
  std::vector<int64_t> labels;
  for (double label : features.labels.to_vector()) labels.push_back(static_cast<int64_t>(label));
  if (features.size() < 4) {
    page.omit("embedding", "fewer than 4 test images");
    page.omit("nearest neighbours", "fewer than 4 test images");
    return;
  }
  std::vector<Embedding> projections = {{.method = "PCA", .points = pca_2d(features.features), .labels = labels}};
  if (options.tsne) projections.push_back({.method = "t-SNE", .points = tsne_2d(features.features), .labels = labels});
  else page.omit("t-SNE", "not asked for (vireo report --tsne)");
  page.add(embedding_plot(projections, class_names, source + ", " + std::to_string(features.size()) + " test images"));

  // Cosine similarity between unit-length feature vectors; the queries are the first image of each class.
  const int64_t count = features.size(), width = features.features.size(1);
  std::vector<double> unit = features.features.contiguous().to_vector();
  for (int64_t n = 0; n < count; ++n) {
    double norm = 0.0;
    for (int64_t d = 0; d < width; ++d) norm += unit[n * width + d] * unit[n * width + d];
    norm = std::max(std::sqrt(norm), 1e-12);
    for (int64_t d = 0; d < width; ++d) unit[n * width + d] /= norm;
  }
  std::vector<NeighbourRow> rows;
  std::set<int64_t> queried;
  for (int64_t query = 0; query < count && static_cast<int64_t>(rows.size()) < options.neighbour_queries; ++query) {
    if (!queried.insert(labels[query]).second) continue;
    std::vector<std::pair<double, int64_t>> similarity;
    for (int64_t other = 0; other < count; ++other) {
      if (other == query) continue;
      double dot = 0.0;
      for (int64_t d = 0; d < width; ++d) dot += unit[query * width + d] * unit[other * width + d];
      similarity.emplace_back(-dot, other);  // most similar first; ties by index
    }
    const auto k = static_cast<std::ptrdiff_t>(std::min<size_t>(options.neighbours, similarity.size()));
    std::partial_sort(similarity.begin(), similarity.begin() + k, similarity.end());
    NeighbourRow row{.query = subset->get(query).image, .query_label = labels[query]};
    for (std::ptrdiff_t i = 0; i < k; ++i) {
      row.neighbours.push_back(subset->get(similarity[i].second).image);
      row.neighbour_labels.push_back(labels[similarity[i].second]);
    }
    rows.push_back(std::move(row));
  }
  page.add(nearest_neighbours(rows, class_names,
                              "First column: a query test image; then its nearest test images by cosine similarity of "
                              "backbone features (green frame: same class). " + source + "."));
}

}  // namespace

namespace {

// The file of `vireo steer neuron-path` (steering/neuron_path.h: "layers" and "neurons" as block and unit
// indices, one unit per block, "scores" their joint influence, "baselines" the argmax and random paths)
// as a diagram: per block the found unit and each baseline's unit, the found path's edges weighted by the
// joint influence of the unit they reach, each baseline's edges drawn thin and negative (red).
NeuronPaths steering_neuron_path(const nlohmann::json& document, const std::string& path) {
  NeuronPaths paths;
  std::vector<nlohmann::json> all_paths = {document};
  if (document.contains("baselines"))
    for (const nlohmann::json& baseline : document.at("baselines")) all_paths.push_back(baseline);
  const auto blocks = field(document, "layers", path).get<std::vector<int64_t>>();
  for (int64_t block : blocks) paths.layers.push_back("block " + std::to_string(block));
  paths.neurons.resize(blocks.size());
  double largest_score = 1e-12;
  for (double score : field(document, "scores", path).get<std::vector<double>>())
    largest_score = std::max(largest_score, std::abs(score));
  for (size_t p = 0; p < all_paths.size(); ++p) {
    const nlohmann::json& one = all_paths[p];
    const auto units = field(one, "neurons", path).get<std::vector<int64_t>>();
    const auto scores = field(one, "scores", path).get<std::vector<double>>();
    const std::string method = one.value("method", p == 0 ? "found" : "baseline");
    VIREO_CHECK(units.size() == blocks.size() && scores.size() == blocks.size(), path, ": the ", method,
                " path has ", units.size(), " neurons and ", scores.size(), " scores for ", blocks.size(), " layers");
    std::vector<int64_t> rows(blocks.size());  // where each of this path's units sits in its layer's column
    for (size_t l = 0; l < blocks.size(); ++l) {
      const std::string label = "unit " + std::to_string(units[l]);
      auto& column = paths.neurons[l];
      auto found = std::find_if(column.begin(), column.end(),
                                [&](const std::string& existing) { return existing.rfind(label + " ", 0) == 0; });
      if (found == column.end()) {
        column.push_back(label + " (" + method + ")");
        found = column.end() - 1;
      }
      rows[l] = found - column.begin();
    }
    for (size_t l = 0; l + 1 < blocks.size(); ++l)
      paths.edges.push_back({.layer = static_cast<int64_t>(l), .from = rows[l], .to = rows[l + 1],
                             .weight = p == 0 ? scores[l + 1] / largest_score : -0.25});
  }
  return paths;
}

}  // namespace

NeuronPaths read_neuron_paths(const std::string& path) {
  const nlohmann::json document = read_json(path);
  NeuronPaths paths;
  try {
    if (document.contains("layers") && document.at("layers").is_array() && !document.at("layers").empty() &&
        document.at("layers").front().is_number_integer())
      return steering_neuron_path(document, path);
    paths.layers = field(document, "layers", path).get<std::vector<std::string>>();
    paths.neurons = field(document, "neurons", path).get<std::vector<std::vector<std::string>>>();
    for (const nlohmann::json& edge : field(document, "edges", path))
      paths.edges.push_back({.layer = field(edge, "layer", path).get<int64_t>(),
                             .from = field(edge, "from", path).get<int64_t>(),
                             .to = field(edge, "to", path).get<int64_t>(),
                             .weight = field(edge, "weight", path).get<double>()});
  } catch (const nlohmann::json::type_error& error) {
    fail(path, ": a value of the wrong type (", error.what(), ")");
  }
  return paths;
}

StrengthSweep read_strength_sweep(const std::string& path) {
  const nlohmann::json document = read_json(path);
  StrengthSweep sweep;
  try {
    sweep.title = field(document, "title", path).get<std::string>();
    sweep.strengths = field(document, "strengths", path).get<std::vector<double>>();
    for (const nlohmann::json& metric : field(document, "metrics", path))
      sweep.metrics.emplace_back(field(metric, "name", path).get<std::string>(),
                                 field(metric, "values", path).get<std::vector<double>>());
  } catch (const nlohmann::json::type_error& error) {
    fail(path, ": a value of the wrong type (", error.what(), ")");
  }
  for (const auto& [name, values] : sweep.metrics)
    VIREO_CHECK(values.size() == sweep.strengths.size(), path, ": metric '", name, "' has ", values.size(),
                " values for ", sweep.strengths.size(), " strengths");
  return sweep;
}

Page run_report(const std::vector<std::string>& run_dirs, const RunReportOptions& options) {
  VIREO_CHECK(!run_dirs.empty(), "vireo report: no run folder given");
  Page page{.title = "Vireo report"};
  std::vector<std::string> names;
  for (const std::string& run_dir : run_dirs) {
    VIREO_CHECK(fs::is_directory(run_dir), run_dir, ": not a run folder (no such directory)");
    names.push_back(run_name(run_dir));
  }
  page.title = "Vireo report: " + names.front() + (names.size() > 1 ? " and " + std::to_string(names.size() - 1) + " more" : "");
  for (size_t i = 0; i < run_dirs.size(); ++i) page.subtitle += (i ? ", " : "runs: ") + run_dirs[i];

  std::vector<RunMetrics> metrics;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    const fs::path log = fs::path(run_dirs[i]) / "metrics.jsonl";
    if (fs::exists(log)) metrics.push_back({.name = names[i], .metrics = training::read_metrics(log.string())});
  }
  if (metrics.empty()) page.omit("training curves", "no metrics.jsonl");
  else page.add(training_curves(metrics));

  const auto with_checkpoint = std::find_if(run_dirs.begin(), run_dirs.end(), [](const std::string& run_dir) {
    return fs::exists(fs::path(run_dir) / training::kCheckpointFile);
  });
  if (!options.embedding) {
    page.omit("embedding, nearest neighbours, confusion matrix", "not asked for");
  } else if (with_checkpoint == run_dirs.end()) {
    page.omit("embedding, nearest neighbours, confusion matrix", "no checkpoint.safetensors");
  } else {
    try {
      add_checkpoint_components(page, *with_checkpoint, options);
    } catch (const Error& failure) {  // e.g. the dataset is not on this machine: the rest of the report stands
      page.omit("embedding, nearest neighbours, confusion matrix", failure.what());
    }
  }

  std::vector<CaptionedImage> grids;
  for (size_t i = 0; i < run_dirs.size(); ++i)
    for (const std::string& file : files_matching(run_dirs[i], "samples", ".png"))
      grids.push_back({.caption = names[i] + ": " + fs::path(file).filename().string(), .png = read_file_bytes(file)});
  if (grids.empty()) page.omit("samples", "no samples*.png (written by DDPM runs)");
  else page.add(sample_grids(grids));

  std::vector<StrengthSweep> sweeps;
  for (const std::string& run_dir : run_dirs)
    for (const std::string& file : files_matching(run_dir, "steering_sweep", ".json"))
      sweeps.push_back(read_strength_sweep(file));
  if (sweeps.empty()) page.omit("strength sweep", "no steering_sweep*.json (vireo steer sweep --json)");
  else page.add(strength_sweep(sweeps));

  bool robustness_found = false, paths_found = false;
  for (const std::string& run_dir : run_dirs) {
    // vireo robustness writes into RUN_DIR/robustness by default; -o RUN_DIR puts it beside the run's files.
    for (const fs::path& robustness : {fs::path(run_dir) / "robustness.json", fs::path(run_dir) / "robustness" / "robustness.json"})
      if (fs::exists(robustness)) {
        page.add(robustness_heat_maps(read_robustness(robustness.string())));
        robustness_found = true;
      }
    const fs::path paths = fs::path(run_dir) / "neuron_paths.json";
    if (fs::exists(paths)) {
      page.add(neuron_paths(read_neuron_paths(paths.string())));
      paths_found = true;
    }
  }
  if (!robustness_found) page.omit("robustness", "no robustness.json (vireo robustness)");
  if (!paths_found) page.omit("neuron paths", "no neuron_paths.json");
  return page;
}

}  // namespace vireo::report
