// Robustness matrices (training/eval/robustness.h): groups parsed or read, each perturbation run through
// the model once per strength, every group scored from the softmax outputs.
#include "training/eval/robustness.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <set>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "training/eval/features.h"
#include "training/eval/roc_auc.h"

namespace vireo::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

bool parse_integer(const std::string& text, int64_t& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

// A class group "name=c,c,…" of `spec`.
Group parse_group(const std::string& text, const std::string& spec, int64_t num_classes) {
  const std::string who = "--groups " + spec + ": ";
  const size_t equals = text.find('=');
  VIREO_CHECK(equals != std::string::npos, who, "'", text, "' is not name=class,class,... (or give 'classes')");
  Group group{trim(text.substr(0, equals)), {}};
  VIREO_CHECK(!group.name.empty(), who, "'", text, "' has no name before '='");
  const std::string list = text.substr(equals + 1);
  for (size_t start = 0; start <= list.size();) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = trim(list.substr(start, comma - start));
    int64_t label = 0;
    VIREO_CHECK(parse_integer(item, label), who, "group '", group.name, "': '", item, "' is not a class number");
    VIREO_CHECK(label >= 0 && label < num_classes, who, "group '", group.name, "' lists class ", label,
                ", but the model has ", num_classes, " classes (0 to ", num_classes - 1, ")");
    VIREO_CHECK(std::find(group.classes.begin(), group.classes.end(), label) == group.classes.end(), who, "group '",
                group.name, "' lists class ", label, " twice");
    group.classes.push_back(label);
    start = comma + 1;
  }
  return group;
}

// Runs the model over the dataset through `pipeline`: softmax scores (N × K) and labels.
struct Outputs {
  std::vector<float> probabilities;
  std::vector<int64_t> labels;
};

Outputs classify(nn::Module& model, std::shared_ptr<const data::Dataset> dataset, const data::Pipeline& pipeline,
                 const RobustnessOptions& options) {
  const FeatureSet logits = extract_features(
      model, std::move(dataset), pipeline,
      {.batch_size = options.batch_size, .workers = options.workers, .seed = options.seed});
  NoGrad no_grad;
  Outputs outputs;
  for (double p : softmax(logits.features, 1).to_vector()) outputs.probabilities.push_back(static_cast<float>(p));
  for (double label : logits.labels.to_vector()) outputs.labels.push_back(static_cast<int64_t>(label));
  return outputs;
}

}  // namespace

Grouping parse_class_groups(const std::string& spec, int64_t num_classes, const std::vector<std::string>& class_names) {
  VIREO_CHECK(num_classes > 0, "--groups: the model has no classes");
  Grouping grouping;
  if (trim(spec) == "classes") {
    for (int64_t c = 0; c < num_classes; ++c)
      grouping.groups.push_back(
          {static_cast<int64_t>(class_names.size()) == num_classes ? class_names[static_cast<size_t>(c)]
                                                                    : "class_" + std::to_string(c),
           {c}});
    return grouping;
  }
  for (size_t start = 0; start <= spec.size();) {
    const size_t semicolon = std::min(spec.find(';', start), spec.size());
    const std::string text = trim(spec.substr(start, semicolon - start));
    start = semicolon + 1;
    if (text.empty() && semicolon == spec.size() && !grouping.groups.empty()) break;  // a trailing ';'
    Group group = parse_group(text, spec, num_classes);
    for (const Group& other : grouping.groups)
      VIREO_CHECK(other.name != group.name, "--groups ", spec, ": the name '", group.name, "' is given twice");
    grouping.groups.push_back(std::move(group));
  }
  return grouping;
}

Grouping read_group_file(const std::string& path, int64_t num_examples) {
  std::ifstream file(path);
  VIREO_CHECK(file, "--groups-file ", path, ": cannot open it");
  std::vector<int64_t> labels;
  std::string line;
  bool first_line = true;
  for (int64_t number = 1; std::getline(file, line); ++number) {
    const std::string text = trim(line);
    if (text.empty() || text[0] == '#') continue;
    int64_t label = 0;
    const bool integer = parse_integer(text, label);
    if (!integer && first_line) {  // a CSV header
      first_line = false;
      continue;
    }
    first_line = false;
    VIREO_CHECK(integer, "--groups-file ", path, ":", number, ": '", text, "' is not an integer group label");
    labels.push_back(label);
  }
  VIREO_CHECK(static_cast<int64_t>(labels.size()) == num_examples, "--groups-file ", path, ": ", labels.size(),
              " group labels for ", num_examples, " test examples (give one per line, in test-set order)");
  const std::set<int64_t> distinct(labels.begin(), labels.end());
  std::map<int64_t, int64_t> index_of;
  Grouping grouping;
  for (int64_t label : distinct) {
    index_of[label] = static_cast<int64_t>(grouping.groups.size());
    grouping.groups.push_back({"group_" + std::to_string(label), {}});
  }
  for (int64_t label : labels) grouping.example_group.push_back(index_of[label]);
  return grouping;
}

std::vector<std::vector<int64_t>> group_members(const Grouping& grouping, const std::vector<int64_t>& labels) {
  std::vector<std::vector<int64_t>> members(grouping.groups.size());
  const auto count = static_cast<int64_t>(labels.size());
  if (!grouping.example_group.empty()) {
    VIREO_CHECK(static_cast<int64_t>(grouping.example_group.size()) == count, "group_members: ",
                grouping.example_group.size(), " group labels for ", count, " examples");
    for (int64_t n = 0; n < count; ++n) members[static_cast<size_t>(grouping.example_group[static_cast<size_t>(n)])].push_back(n);
    return members;
  }
  for (size_t g = 0; g < grouping.groups.size(); ++g) {
    const std::vector<int64_t>& classes = grouping.groups[g].classes;
    for (int64_t n = 0; n < count; ++n)
      if (std::find(classes.begin(), classes.end(), labels[static_cast<size_t>(n)]) != classes.end()) members[g].push_back(n);
  }
  return members;
}

GroupScores score_groups(const std::vector<float>& probabilities, const std::vector<int64_t>& labels,
                         int64_t num_classes, const std::vector<std::vector<int64_t>>& members) {
  const auto count = static_cast<int64_t>(labels.size());
  VIREO_CHECK(static_cast<int64_t>(probabilities.size()) == count * num_classes, "score_groups: ",
              probabilities.size(), " scores for ", count, " examples of ", num_classes, " classes");
  auto score = [&](int64_t n, int64_t c) { return static_cast<double>(probabilities[static_cast<size_t>(n * num_classes + c)]); };
  // negatives[c]: p(c|x) of every example whose label is not c — shared by every group.
  std::vector<std::vector<double>> negatives(static_cast<size_t>(num_classes));
  for (int64_t c = 0; c < num_classes; ++c)
    for (int64_t n = 0; n < count; ++n)
      if (labels[static_cast<size_t>(n)] != c) negatives[static_cast<size_t>(c)].push_back(score(n, c));
  GroupScores scores;
  for (const std::vector<int64_t>& group : members) {
    std::map<int64_t, std::vector<double>> positives;  // class c -> p(c|x) of the group's examples of class c
    int64_t correct = 0;
    for (int64_t n : group) {
      const int64_t label = labels[static_cast<size_t>(n)];
      positives[label].push_back(score(n, label));
      int64_t predicted = 0;
      for (int64_t c = 1; c < num_classes; ++c)
        if (score(n, c) > score(n, predicted)) predicted = c;
      correct += predicted == label;
    }
    double total = 0.0;
    for (const auto& [c, scores_of_class] : positives) total += roc_auc(scores_of_class, negatives[static_cast<size_t>(c)]);
    scores.auc.push_back(positives.empty() ? kNaN : total / static_cast<double>(positives.size()));
    scores.accuracy.push_back(group.empty() ? kNaN : static_cast<double>(correct) / static_cast<double>(group.size()));
  }
  return scores;
}

RobustnessResult evaluate_robustness(nn::Module& model, std::shared_ptr<const data::Dataset> dataset,
                                     const data::Pipeline& test_pipeline,
                                     const std::vector<data::PerturbationSweep>& sweeps, const Grouping& grouping,
                                     const RobustnessOptions& options) {
  const int64_t num_classes = dataset->num_classes();
  auto run = [&](const std::string& name, double strength, const std::string& label) {
    const auto start = std::chrono::steady_clock::now();
    data::Pipeline pipeline;
    if (strength != 0.0) pipeline.add(std::make_shared<const data::Perturbation>(name, strength));
    for (const auto& step : test_pipeline.steps()) pipeline.add(step);
    Outputs outputs = classify(model, dataset, pipeline, options);
    if (options.progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      char line[160];
      std::snprintf(line, sizeof line, "%s: %.1f s", label.c_str(), seconds);
      options.progress(line);
    }
    return outputs;
  };

  const Outputs clean = run("", 0.0, "clean");
  RobustnessResult result;
  result.sweeps = sweeps;
  result.examples = static_cast<int64_t>(clean.labels.size());
  result.groups = grouping.groups;
  const std::vector<std::vector<int64_t>> members = group_members(grouping, clean.labels);
  for (size_t g = 0; g < members.size(); ++g) {  // a partition's groups hold the classes of their examples
    if (!grouping.example_group.empty()) {
      std::set<int64_t> classes;
      for (int64_t n : members[g]) classes.insert(clean.labels[static_cast<size_t>(n)]);
      result.groups[g].classes.assign(classes.begin(), classes.end());
    }
  }
  const GroupScores clean_scores = score_groups(clean.probabilities, clean.labels, num_classes, members);
  result.clean_auc = clean_scores.auc;
  result.clean_accuracy = clean_scores.accuracy;

  const size_t groups = members.size();
  result.auc.assign(groups, std::vector<std::vector<double>>(sweeps.size()));
  result.accuracy = result.auc;
  result.gap.assign(sweeps.size(), {});
  for (size_t p = 0; p < sweeps.size(); ++p)
    for (double strength : sweeps[p].strengths) {
      char label[96];
      std::snprintf(label, sizeof label, "%s %g", sweeps[p].name.c_str(), strength);
      const GroupScores scores =
          strength == 0.0 ? clean_scores
                          : [&] {
                              const Outputs outputs = run(sweeps[p].name, strength, label);
                              return score_groups(outputs.probabilities, outputs.labels, num_classes, members);
                            }();
      double highest = -std::numeric_limits<double>::infinity(), lowest = -highest;
      for (size_t g = 0; g < groups; ++g) {
        result.auc[g][p].push_back(scores.auc[g]);
        result.accuracy[g][p].push_back(scores.accuracy[g]);
        if (std::isnan(scores.auc[g])) continue;
        highest = std::max(highest, scores.auc[g]);
        lowest = std::min(lowest, scores.auc[g]);
      }
      result.gap[p].push_back(highest >= lowest ? highest - lowest : kNaN);
    }
  return result;
}

}  // namespace vireo::eval
