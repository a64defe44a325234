// The schedules' formulas and the scheduler that writes them into an optimizer's groups.
#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/ops.h"

namespace vireo::optim {

double cosine_ramp(double start, double end, double progress) {
  const double p = std::clamp(progress, 0.0, 1.0);
  return end + (start - end) * (1.0 + std::cos(std::numbers::pi * p)) / 2.0;
}

// ---- StepSchedule ----

StepSchedule::StepSchedule(std::vector<int64_t> milestones, double gamma)
    : milestones_(std::move(milestones)), gamma_(gamma) {
  VIREO_CHECK(std::isfinite(gamma_) && gamma_ >= 0.0, "StepSchedule: gamma ", gamma_, " must be finite and >= 0");
  for (size_t i = 0; i < milestones_.size(); ++i) {
    VIREO_CHECK(milestones_[i] > 0, "StepSchedule: milestone ", i, " is ", milestones_[i], " samples (must be > 0)");
    VIREO_CHECK(i == 0 || milestones_[i] > milestones_[i - 1], "StepSchedule: milestones must increase, but ",
                milestones_[i - 1], " is followed by ", milestones_[i]);
  }
}

double StepSchedule::factor(int64_t samples_seen) const {
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), samples_seen) - milestones_.begin();
  return std::pow(gamma_, static_cast<double>(passed));
}

// ---- WarmupCosineSchedule ----

WarmupCosineSchedule::WarmupCosineSchedule(WarmupCosineOptions options) : options_(options) {
  const WarmupCosineOptions& o = options_;
  VIREO_CHECK(o.total_samples > 0, "WarmupCosineSchedule: total_samples ", o.total_samples, " must be > 0");
  VIREO_CHECK(o.warmup_samples >= 0 && o.warmup_samples <= o.total_samples, "WarmupCosineSchedule: warmup_samples ",
              o.warmup_samples, " must be in [0, total_samples = ", o.total_samples, "]");
  VIREO_CHECK(std::isfinite(o.start_factor) && o.start_factor >= 0.0, "WarmupCosineSchedule: start_factor ",
              o.start_factor, " must be finite and >= 0");
  VIREO_CHECK(std::isfinite(o.final_factor) && o.final_factor >= 0.0, "WarmupCosineSchedule: final_factor ",
              o.final_factor, " must be finite and >= 0");
}

double WarmupCosineSchedule::factor(int64_t samples_seen) const {
  const WarmupCosineOptions& o = options_;
  if (samples_seen < o.warmup_samples) {
    const double progress = static_cast<double>(samples_seen) / static_cast<double>(o.warmup_samples);
    return o.start_factor + (1.0 - o.start_factor) * progress;
  }
  if (samples_seen >= o.total_samples) return o.final_factor;
  const double progress = static_cast<double>(samples_seen - o.warmup_samples) /
                          static_cast<double>(o.total_samples - o.warmup_samples);
  return cosine_ramp(1.0, o.final_factor, progress);
}

// ---- LrScheduler ----

LrScheduler::LrScheduler(Optimizer& optimizer, std::shared_ptr<const Schedule> schedule)
    : optimizer_(optimizer), schedule_(std::move(schedule)) {
  VIREO_CHECK(schedule_ != nullptr, "LrScheduler: the schedule is null");
  for (const ParamGroup& group : optimizer_.param_groups()) base_lrs_.push_back(group.lr);
  apply();
}

void LrScheduler::advance(int64_t batch_samples) {
  VIREO_CHECK(batch_samples >= 0, "LrScheduler advance: batch_samples ", batch_samples, " must be >= 0");
  samples_seen_ += batch_samples;
  apply();
}

void LrScheduler::set_samples_seen(int64_t samples_seen) {
  VIREO_CHECK(samples_seen >= 0, "LrScheduler set_samples_seen: samples_seen ", samples_seen, " must be >= 0");
  samples_seen_ = samples_seen;
  apply();
}

void LrScheduler::apply() {
  std::vector<ParamGroup>& groups = optimizer_.param_groups();
  VIREO_CHECK(groups.size() == base_lrs_.size(), "LrScheduler: the ", optimizer_.name(), " optimizer has ",
              groups.size(), " param groups but the scheduler holds ", base_lrs_.size(), " base learning rates");
  const double f = factor();
  VIREO_CHECK(std::isfinite(f) && f >= 0.0, "LrScheduler: the schedule gave the factor ", f, " at ", samples_seen_,
              " samples (must be finite and >= 0)");
  for (size_t g = 0; g < groups.size(); ++g) groups[g].lr = base_lrs_[g] * f;
}

StateDict LrScheduler::state_dict() const {
  return {{"samples_seen", scalar_tensor(static_cast<double>(samples_seen_), {.dtype = DType::f64})},
          {"base_lrs", Tensor::from_vector(base_lrs_, {static_cast<int64_t>(base_lrs_.size())}, {.dtype = DType::f64})}};
}

void LrScheduler::load_state_dict(const StateDict& dict) {
  const char* who = "LrScheduler load_state_dict: ";
  for (const auto& [key, tensor] : dict)
    VIREO_CHECK(key == "samples_seen" || key == "base_lrs", who, "unexpected key ", key);
  const auto samples = dict.find("samples_seen");
  VIREO_CHECK(samples != dict.end(), who, "missing key samples_seen");
  VIREO_CHECK(samples->second.defined() && samples->second.numel() == 1, who, "samples_seen must hold one value, not ",
              samples->second.defined() ? describe(samples->second) : std::string("an undefined tensor"));
  const double seen = samples->second.item();
  VIREO_CHECK(seen >= 0.0 && seen == std::floor(seen) && seen < 9.0e15, who, "samples_seen is ", seen,
              " (must be a count)");
  const auto lrs = dict.find("base_lrs");
  VIREO_CHECK(lrs != dict.end(), who, "missing key base_lrs");
  const size_t groups = optimizer_.param_groups().size();
  VIREO_CHECK(lrs->second.defined() && lrs->second.dim() == 1 && static_cast<size_t>(lrs->second.numel()) == groups,
              who, "base_lrs is ", lrs->second.defined() ? describe(lrs->second) : std::string("undefined"),
              " but the optimizer has ", groups, " param groups");
  const std::vector<double> loaded = lrs->second.to_vector();
  for (size_t g = 0; g < loaded.size(); ++g)
    VIREO_CHECK(std::isfinite(loaded[g]) && loaded[g] >= 0.0, who, "base_lrs[", g, "] is ", loaded[g],
                " (must be finite and >= 0)");
  base_lrs_ = loaded;
  samples_seen_ = static_cast<int64_t>(seen);
  apply();
}

}  // namespace vireo::optim
