// MetricsLog: JSON lines written with nlohmann::ordered_json, so keys keep the order they were given and
// numbers are printed with the shortest text that reads back to the same double.
#include "training/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace vireo::training {

MetricsLog::MetricsLog(std::string path, std::FILE* file, int64_t bytes)
    : path_(std::move(path)), file_(file), bytes_(bytes) {}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : path_(std::move(other.path_)), file_(other.file_), bytes_(other.bytes_) {
  other.file_ = nullptr;
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

MetricsLog MetricsLog::create(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (!file) fail(path, ": cannot create the metrics log: ", std::strerror(errno));
  return MetricsLog(path, file, 0);
}

MetricsLog MetricsLog::resume(const std::string& path, int64_t bytes) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) fail(path, ": cannot resume the metrics log: ", error.message());
  if (static_cast<int64_t>(size) < bytes)
    fail(path, ": holds ", size, " bytes but the checkpoint was written after ", bytes,
         " (the log does not belong to this checkpoint)");
  std::filesystem::resize_file(path, static_cast<uintmax_t>(bytes), error);
  if (error) fail(path, ": cannot cut the metrics log back to ", bytes, " bytes: ", error.message());
  std::FILE* file = std::fopen(path.c_str(), "ab");
  if (!file) fail(path, ": cannot append to the metrics log: ", std::strerror(errno));
  return MetricsLog(path, file, bytes);
}

void MetricsLog::write(int64_t step, double epoch, const Metrics& metrics) {
  nlohmann::ordered_json line;
  line["step"] = step;
  line["epoch"] = epoch;
  for (const auto& [name, value] : metrics) line[name] = value;  // NaN and infinities print as null
  const std::string text = line.dump() + "\n";
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    fail(path_, ": cannot write the metrics log: ", std::strerror(errno));
  bytes_ += static_cast<int64_t>(text.size());
}

std::vector<Metrics> read_metrics(const std::string& path) {
  std::ifstream file(path);
  if (!file) fail(path, ": cannot read the metrics log");
  std::vector<Metrics> lines;
  int64_t number = 0;
  for (std::string text; std::getline(file, text);) {
    ++number;
    if (text.empty()) continue;
    nlohmann::ordered_json line;
    try {
      line = nlohmann::ordered_json::parse(text);
    } catch (const nlohmann::json::exception& e) {
      fail(path, ":", number, ": not a JSON line: ", e.what());
    }
    Metrics metrics;
    for (const auto& [key, value] : line.items())
      metrics.emplace_back(key, value.is_number() ? value.get<double>() : std::nan(""));
    lines.push_back(std::move(metrics));
  }
  return lines;
}

}  // namespace vireo::training
