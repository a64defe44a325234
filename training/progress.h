// Progress: what a training run prints while it runs. On a terminal, one line redrawn in place —
//
//   epoch 2/3 [##########----------] 1234/1407 (88%)  loss 0.4312  1523 img/s  ETA 0:35
//
// — and elsewhere (a log file, a pipe, CI) a plain line every `every` steps, so the output stays
// readable when it is not a terminal. Messages (evaluation results) print on their own line either way.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace vireo::training {

enum class ProgressStyle {
  automatic,  // bar when stdout is a terminal (isatty), lines otherwise
  bar,
  lines,
  silent,
};

class Progress {
 public:
  // `total_steps` of the whole run, `epochs` in it; `first_step` where this process starts (resume).
  Progress(ProgressStyle style, int64_t total_steps, int64_t epochs, int64_t first_step, int64_t every,
           std::FILE* out = stdout);

  // After each step: `epoch` is 0-based, `loss` the latest (or recent mean) loss.
  void step(int64_t step, int64_t epoch, double loss, double images_per_second);
  // A line of its own (the bar, if any, is redrawn below it on the next step).
  void message(const std::string& line);
  // Ends the bar's line.
  void finish();

  // "1:02:03" or "2:03".
  static std::string format_duration(double seconds);

 private:
  void clear_bar();
  ProgressStyle style_;
  int64_t total_steps_, epochs_, first_step_, every_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool bar_drawn_ = false;
};

}  // namespace vireo::training
