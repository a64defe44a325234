// Robustness of a classifier under graded perturbations, per subgroup of the test set — what
// `vireo robustness` computes (tools/vireo/robustness.cpp). Every test example is corrupted by each
// perturbation at each strength (training/data/perturbations.h), the classifier's softmax scores are
// collected, and for every subgroup g a matrix of ROC AUCs (perturbation × strength) is formed:
//
//   AUC_g(p, s) = (1/|C_g|) Σ_{c ∈ C_g} AUC( p(c|x) ;  positives: x ∈ g with label c,
//                                                       negatives: every evaluated x with label ≠ c )
//
// C_g being the classes with examples in g, and AUC the exact rank AUC with ties counted ½
// (training/eval/roc_auc.h). A group of one class thus gets that class's one-vs-rest AUC; a group of
// several the macro average of theirs, each against the whole rest of the test set. The gap between the
// groups, gap(p, s) = max_g AUC_g(p, s) − min_g AUC_g(p, s), shows when one group degrades before the
// others. Beside each AUC: the top-1 accuracy of the group's examples.
//
// Groups are classes ("classes": one group per class), named sets of classes ("tops=0,2,4,6;bottoms=1,3"),
// or any labelled partition of the test examples, read from a file of one integer label per example.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "training/data/dataset.h"
#include "training/data/perturbations.h"
#include "training/data/transforms.h"

namespace vireo::eval {

struct Group {
  std::string name;
  std::vector<int64_t> classes;  // the classes it holds (a partition's group: the classes of its examples)
};

// How the test examples fall into groups: by class (example_group empty: an example belongs to every group
// listing its label) or by a label per example (example_group[n] indexes groups).
struct Grouping {
  std::vector<Group> groups;
  std::vector<int64_t> example_group;
};

// --groups: "classes" (one group per class, named class_names[c], or "class_c" without names) or
// "name=c,c,…;name=c,…". Refuses, naming --groups: a malformed group, an empty or repeated name, a class
// outside [0, num_classes) or repeated within a group.
Grouping parse_class_groups(const std::string& spec, int64_t num_classes, const std::vector<std::string>& class_names = {});

// --groups-file: one integer group label per line, in test-set order ('#' comments and blank lines skipped;
// a first line that is not an integer is a CSV header and skipped too). Groups are named "group_<label>",
// in increasing label order. Refuses a line that is not an integer (naming the file and line) and a count
// other than num_examples.
Grouping read_group_file(const std::string& path, int64_t num_examples);

// The examples (positions 0 … N−1) of each group, for examples with these labels.
std::vector<std::vector<int64_t>> group_members(const Grouping& grouping, const std::vector<int64_t>& labels);

struct GroupScores {
  std::vector<double> auc, accuracy;  // one per group; NaN for a group without examples
};

// The AUC (defined above) and top-1 accuracy of every group from softmax scores `probabilities`
// (N × num_classes, row-major) and `labels` (N).
GroupScores score_groups(const std::vector<float>& probabilities, const std::vector<int64_t>& labels,
                         int64_t num_classes, const std::vector<std::vector<int64_t>>& members);

struct RobustnessOptions {
  int64_t batch_size = 500;
  int64_t workers = 1;
  uint64_t seed = 0;  // of the noise
  // Called after every evaluated cell with a line saying which and how long it took.
  std::function<void(const std::string&)> progress = {};
};

// Matrices indexed [group][perturbation][strength] (auc, accuracy) and [perturbation][strength] (gap);
// the strength-0 column of every perturbation is the clean evaluation, run once.
struct RobustnessResult {
  std::vector<Group> groups;
  std::vector<data::PerturbationSweep> sweeps;
  int64_t examples = 0;
  std::vector<double> clean_auc, clean_accuracy;
  std::vector<std::vector<std::vector<double>>> auc, accuracy;
  std::vector<std::vector<double>> gap;
};

// `model` (logits [B, K]) over `dataset`, each image perturbed, then through `test_pipeline`, for every
// sweep and strength. The model runs in eval mode without gradients.
RobustnessResult evaluate_robustness(nn::Module& model, std::shared_ptr<const data::Dataset> dataset,
                                     const data::Pipeline& test_pipeline,
                                     const std::vector<data::PerturbationSweep>& sweeps, const Grouping& grouping,
                                     const RobustnessOptions& options = {});

}  // namespace vireo::eval
