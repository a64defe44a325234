// Learning-rate schedules, defined in samples seen rather than steps: a recipe that changes the batch size
// (and scales the learning rate with it) keeps the same warm-up and decay in data terms, and a resumed run
// needs only the sample count to find its place.
//
// A Schedule is a multiplier of each group's base learning rate as a function of the samples seen so far;
// an LrScheduler binds one to an optimizer and writes group.lr = base_lr · factor(samples_seen).
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "engine/optim/optimizer.h"
#include "engine/state_dict.h"

namespace vireo::optim {

// Half a cosine from `start` (progress 0) to `end` (progress 1), progress clamped to [0, 1]:
//   end + (start − end)·(1 + cos(π·progress))/2
// The learning-rate decay uses it, and so can an EMA momentum schedule (BYOL's τ rises from τ_base to 1 as
// cosine_ramp(τ_base, 1, k/K)).
double cosine_ramp(double start, double end, double progress);

class Schedule {
 public:
  virtual ~Schedule() = default;
  // The multiplier of the base learning rate after `samples_seen` training samples (≥ 0).
  virtual double factor(int64_t samples_seen) const = 0;
};

// factor = 1.
class ConstantSchedule final : public Schedule {
 public:
  double factor(int64_t samples_seen) const override { return 1.0; }
};

// factor = gamma^(number of milestones ≤ samples_seen): torch's MultiStepLR, in samples.
class StepSchedule final : public Schedule {
 public:
  // Milestones strictly increasing and > 0; gamma finite and ≥ 0.
  StepSchedule(std::vector<int64_t> milestones, double gamma = 0.1);
  double factor(int64_t samples_seen) const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

struct WarmupCosineOptions {
  int64_t warmup_samples = 0;
  int64_t total_samples = 0;
  double start_factor = 0.0;  // the factor at sample 0
  double final_factor = 0.0;  // the factor from total_samples on
};

// A linear warm-up, then a cosine decay (BYOL, SimCLR, DINO):
//   s < warmup:          start + (1 − start)·s/warmup
//   warmup ≤ s < total:  cosine_ramp(1, final, (s − warmup)/(total − warmup))
//   s ≥ total:           final
class WarmupCosineSchedule final : public Schedule {
 public:
  explicit WarmupCosineSchedule(WarmupCosineOptions options);
  double factor(int64_t samples_seen) const override;
  const WarmupCosineOptions& options() const { return options_; }

 private:
  WarmupCosineOptions options_;
};

// Writes each group's lr from its base lr (the group's lr when the scheduler was made) and the schedule.
// Use: step the optimizer, then advance by the batch's sample count; the next step sees the new rate.
// The optimizer must outlive the scheduler. The state dict holds "samples_seen" (0-d f64) and "base_lrs"
// ([groups] f64); the schedule itself is configuration, built again by whoever resumes.
class LrScheduler {
 public:
  LrScheduler(Optimizer& optimizer, std::shared_ptr<const Schedule> schedule);
  template <class S>
    requires std::is_base_of_v<Schedule, S>
  LrScheduler(Optimizer& optimizer, S schedule) : LrScheduler(optimizer, std::make_shared<const S>(std::move(schedule))) {}

  void advance(int64_t batch_samples);
  void set_samples_seen(int64_t samples_seen);
  int64_t samples_seen() const { return samples_seen_; }
  double factor() const { return schedule_->factor(samples_seen_); }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  const Schedule& schedule() const { return *schedule_; }

  StateDict state_dict() const;
  void load_state_dict(const StateDict& state_dict);

 private:
  void apply();

  Optimizer& optimizer_;
  std::shared_ptr<const Schedule> schedule_;
  std::vector<double> base_lrs_;
  int64_t samples_seen_ = 0;
};

}  // namespace vireo::optim
