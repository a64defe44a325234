// The report of one or more run folders: what `vireo report RUN_DIR… -o report.html` writes and what
// `vireo train` leaves in every run folder as report.html. Each component reads what the folders hold
// and is left out (listed under "Not in this report", with the reason) when its data is absent:
//
//   training curves      metrics.jsonl of every run, overlaid (loss, lr, kNN/linear/test accuracy, …)
//   embedding            PCA (and t-SNE) of the backbone features of the first test images, from
//                        checkpoint.safetensors (the model rebuilt from the recipe stored in it)
//   nearest neighbours   for the first test image of each of a few classes, its nearest test images by
//                        cosine similarity of those features
//   confusion matrix     a classification checkpoint's predictions on its test split
//   samples              the PNG sample grids a DDPM run writes (samples*.png)
//   strength sweep       steering_sweep*.json, written by `vireo steer sweep --json`
//   robustness           robustness.json, written by `vireo robustness`
//   neuron paths         neuron_paths.json (see read_neuron_paths)
//
// The checkpoint components come from the first run that has a checkpoint.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/report/components.h"
#include "tools/report/page.h"

namespace vireo::report {

struct RunReportOptions {
  bool embedding = true;           // the checkpoint components (embedding, neighbours, confusion)
  bool tsne = true;                // t-SNE beside PCA
  int64_t embedding_points = 500;  // the first N test images
  int64_t neighbour_queries = 6;
  int64_t neighbours = 8;
};

Page run_report(const std::vector<std::string>& run_dirs, const RunReportOptions& options = {});

// {"layers": [str…], "neurons": [[str…] per layer], "edges": [{"layer": int, "from": int, "to": int,
// "weight": float}…]}, or the file `vireo steer neuron-path -o` writes (integer "layers" and "neurons", one
// unit per block, with "scores" and "baselines"), drawn as the found path and its baselines side by side;
// a missing key or a value of the wrong type is refused naming the path.
NeuronPaths read_neuron_paths(const std::string& path);

// One sweep file: {"title": str, "strengths": [float…], "metrics": [{"name": str, "values": [float…]}…]}.
StrengthSweep read_strength_sweep(const std::string& path);

}  // namespace vireo::report
