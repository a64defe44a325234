// MetricsLog: RUN_DIR/metrics.jsonl, one JSON object a line —
//
//   {"step":400,"epoch":1.0,"loss":0.4123,"lr":0.05,"img_per_s":1840.2}
//   {"step":469,"epoch":1.0,"test_top1":0.8712,"ema_test_top1":0.8650}
//
// "step" and "epoch" first, then each metric by name in the order given. Lines are flushed as they are
// written, so a run killed at any moment leaves every line it logged; a resumed run first cuts the file
// back to the length recorded in its checkpoint, so the lines logged after that checkpoint are not
// repeated and the file reads as if the run had never stopped.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace vireo::training {

// Named values in the order they are written.
using Metrics = std::vector<std::pair<std::string, double>>;

class MetricsLog {
 public:
  // Starts `path` empty.
  static MetricsLog create(const std::string& path);
  // Keeps the first `bytes` bytes of `path` (which must hold at least that many) and appends after them.
  static MetricsLog resume(const std::string& path, int64_t bytes);

  MetricsLog(MetricsLog&& other) noexcept;
  MetricsLog& operator=(MetricsLog&&) = delete;
  MetricsLog(const MetricsLog&) = delete;
  ~MetricsLog();

  // `epoch` is fractional inside an epoch (1.5: halfway through the second).
  void write(int64_t step, double epoch, const Metrics& metrics);
  int64_t bytes() const { return bytes_; }  // the file's length after the last line
  const std::string& path() const { return path_; }

 private:
  MetricsLog(std::string path, std::FILE* file, int64_t bytes);
  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t bytes_ = 0;
};

// The lines of a metrics file parsed back (tests, reports): each as (key, value) pairs in file order.
std::vector<Metrics> read_metrics(const std::string& path);

}  // namespace vireo::training
