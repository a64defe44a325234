// The task registry: the tasks a recipe's `task:` may name beyond the built-in `classification`, each
// registered by the library that implements it. vireo_training cannot depend on the libraries above it
// (ssl/ uses training/, never the reverse: ARCHITECTURE.md), so they register themselves instead —
// explicitly, by a call such as ssl::register_tasks() from the CLI or a test, not by static
// initializers (which a linker may drop from a static library, and whose order nobody controls).
//
// A task brings two things: a reader for its own recipe section (`method:` for ssl), run by read_recipe
// with the same ConfigSection checks as every other key (unknown keys refused with key and line), and a
// factory that builds the TrainingTask for a run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "training/config_tree.h"
#include "training/data/dataset.h"
#include "training/ema_scaling.h"
#include "training/task.h"

namespace vireo::training {

struct Recipe;

// What a task reads from its recipe section; each task derives its own.
struct TaskOptions {
  virtual ~TaskOptions() = default;
  // The EMA momenta at the base batch size, by recipe key ("method.base_momentum" → 0.99): listed with
  // their scaled values ρ^κ in the resolved recipe.
  virtual std::vector<std::pair<std::string, double>> ema_momenta() const { return {}; }
};

// What a task's factory is given.
struct TaskSetup {
  const Recipe& recipe;
  std::shared_ptr<const data::Dataset> train_set;
  int64_t samples_per_epoch = 0;  // samples one epoch feeds the optimizer (schedules run in samples)
  int64_t total_samples = 0;      // of the whole run: train.epochs × samples_per_epoch
  ScalingRule scaling;            // κ and the EMA-rule switch (recipe `scaling`)
};

struct TaskDefinition {
  // Reads the task's keys from the recipe's root section (e.g. root.section("method")); `recipe` holds
  // every other section, already read (to check the task's keys against data.views, say).
  std::function<std::shared_ptr<const TaskOptions>(const ConfigSection& root, const Recipe& recipe)> read_options;
  std::function<std::unique_ptr<TrainingTask>(const TaskSetup& setup)> make;
  // The task learns features: its recipe takes eval.knn and eval.linear_probe (training/feature_evaluation.h),
  // and its model's classifier head defaults to none (model.num_classes 0).
  bool learns_features = false;
};

// Adds (or replaces) the task `name`.
void register_task(const std::string& name, TaskDefinition definition);
// The registered task `name`, or null.
const TaskDefinition* find_task(const std::string& name);
// Every name `task:` accepts: classification, then the registered ones in registration order.
std::vector<std::string> task_names();

}  // namespace vireo::training
