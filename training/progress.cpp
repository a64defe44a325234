// Progress: a redrawn bar on terminals, periodic plain lines elsewhere. The estimate of the time left is
// the steps left times the mean time per step since this process started.
#include "training/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace vireo::training {

Progress::Progress(ProgressStyle style, int64_t total_steps, int64_t epochs, int64_t first_step, int64_t every,
                   std::FILE* out)
    : style_(style), total_steps_(std::max<int64_t>(total_steps, 1)), epochs_(epochs), first_step_(first_step),
      every_(std::max<int64_t>(every, 1)), out_(out), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (style_ == ProgressStyle::automatic) style_ = ::isatty(::fileno(out_)) ? ProgressStyle::bar : ProgressStyle::lines;
}

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t hours = total / 3600, minutes = (total / 60) % 60, rest = total % 60;
  char text[32];
  if (hours > 0) std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", static_cast<long long>(hours),
                               static_cast<long long>(minutes), static_cast<long long>(rest));
  else std::snprintf(text, sizeof text, "%lld:%02lld", static_cast<long long>(minutes), static_cast<long long>(rest));
  return text;
}

void Progress::step(int64_t step, int64_t epoch, double loss, double images_per_second) {
  if (style_ == ProgressStyle::silent) return;
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int64_t done_here = step - first_step_;
  const double eta = done_here > 0 ? elapsed / static_cast<double>(done_here) * static_cast<double>(total_steps_ - step) : NAN;
  const int percent = static_cast<int>(100 * step / total_steps_);

  if (style_ == ProgressStyle::lines) {
    if (step % every_ != 0 && step != total_steps_) return;
    std::fprintf(out_, "epoch %lld/%lld  step %lld/%lld (%d%%)  loss %.4f  %.0f img/s  ETA %s\n",
                 static_cast<long long>(epoch + 1), static_cast<long long>(epochs_), static_cast<long long>(step),
                 static_cast<long long>(total_steps_), percent, loss, images_per_second, format_duration(eta).c_str());
    std::fflush(out_);
    return;
  }
  // The bar is redrawn at most ten times a second (and on the last step).
  if (bar_drawn_ && step != total_steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 20;
  const int filled = static_cast<int>(kWidth * step / total_steps_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '-');
  std::fprintf(out_, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld (%d%%)  loss %.4f  %.0f img/s  ETA %s",
               static_cast<long long>(epoch + 1), static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(step), static_cast<long long>(total_steps_), percent, loss, images_per_second,
               format_duration(eta).c_str());
  std::fflush(out_);
  bar_drawn_ = true;
}

void Progress::clear_bar() {
  if (bar_drawn_) std::fputs("\r\033[K", out_);
  bar_drawn_ = false;
}

void Progress::message(const std::string& line) {
  if (style_ == ProgressStyle::silent) return;
  clear_bar();
  std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

void Progress::finish() {
  if (style_ == ProgressStyle::bar && bar_drawn_) {
    std::fputs("\n", out_);
    std::fflush(out_);
    bar_drawn_ = false;
  }
}

}  // namespace vireo::training
