// The feature-evaluation record of one self-supervised run folder, read from its metrics.jsonl (the
// trainer's log: ssl/ssl_task.cpp writes knn_top1 after every evaluated epoch, floor_linear_top1 once at
// step 0 and linear_top1 at the end). Shared by the experiment programs that compare SSL runs
// (ema_scaling_byol.cpp, ssl_runs.cpp); header-only because every tools/experiments/*.cpp is its own program.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/error.h"

namespace vireo::experiments {

struct SslRunMetrics {
  std::vector<double> epochs = {}, knn = {};  // knn_top1 after each evaluated epoch, in epoch order
  std::optional<double> linear = {};          // linear_top1: present once the run finished
  std::optional<double> floor = {};           // floor_linear_top1: the same probe on the untrained backbone
  std::optional<double> last_loss = {};       // the loss of the last logged step
  std::vector<double> images_per_second = {}; // img_per_s of every logged training step
  double last_epoch = 0.0;                    // the epoch of the last logged line
};

// Reads FOLDER/metrics.jsonl; `who` prefixes the errors (the program's name). A resumed run may log an
// epoch's kNN twice: the latest value wins. Refuses a file that is missing, holds a line that is not JSON
// (named by path:line), or holds no knn_top1 at all.
inline SslRunMetrics read_ssl_run(const std::filesystem::path& folder, const std::string& who) {
  SslRunMetrics run;
  const std::string path = (folder / "metrics.jsonl").string();
  std::ifstream in(path);
  VIREO_CHECK(in.good(), who, ": cannot read ", path);
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    nlohmann::json entry;
    try {
      entry = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& error) {
      fail(who, ": ", path, ":", number, ": not a JSON line (", error.what(), ")");
    }
    if (entry.contains("epoch")) run.last_epoch = entry.at("epoch").get<double>();
    if (entry.contains("loss")) run.last_loss = entry.at("loss").get<double>();
    if (entry.contains("img_per_s")) run.images_per_second.push_back(entry.at("img_per_s").get<double>());
    if (entry.contains("floor_linear_top1")) run.floor = entry.at("floor_linear_top1").get<double>();
    if (entry.contains("linear_top1")) run.linear = entry.at("linear_top1").get<double>();
    if (entry.contains("knn_top1")) {
      const double epoch = entry.at("epoch").get<double>();
      if (!run.epochs.empty() && run.epochs.back() == epoch) {
        run.knn.back() = entry.at("knn_top1").get<double>();
      } else {
        run.epochs.push_back(epoch);
        run.knn.push_back(entry.at("knn_top1").get<double>());
      }
    }
  }
  VIREO_CHECK(!run.knn.empty(), who, ": ", path, " holds no knn_top1 (did the run finish an epoch?)");
  return run;
}

// The value printed with a printf format ("%.4g"), or "-" when there is none.
inline std::string formatted(const std::optional<double>& value, const char* format) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, *value);
  return text;
}

// "12.34" (a fraction as percent), or "-" when there is no value.
inline std::string percent(const std::optional<double>& value) {
  return formatted(value ? std::optional<double>(100.0 * *value) : std::nullopt, "%.2f");
}

}  // namespace vireo::experiments
