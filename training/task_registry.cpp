// The task registry (see task_registry.h).
#include "training/task_registry.h"

#include <deque>
#include <mutex>

namespace vireo::training {
namespace {

struct Registry {
  std::mutex mutex;
  std::deque<std::pair<std::string, TaskDefinition>> tasks;  // in registration order; a deque keeps
                                                             // pointers valid as it grows
};

Registry& registry() {
  static Registry instance;
  return instance;
}

}  // namespace

void register_task(const std::string& name, TaskDefinition definition) {
  Registry& tasks = registry();
  std::lock_guard lock(tasks.mutex);
  for (auto& [existing, entry] : tasks.tasks)
    if (existing == name) {
      entry = std::move(definition);
      return;
    }
  tasks.tasks.emplace_back(name, std::move(definition));
}

const TaskDefinition* find_task(const std::string& name) {
  Registry& tasks = registry();
  std::lock_guard lock(tasks.mutex);
  for (const auto& [existing, entry] : tasks.tasks)
    if (existing == name) return &entry;
  return nullptr;
}

std::vector<std::string> task_names() {
  Registry& tasks = registry();
  std::lock_guard lock(tasks.mutex);
  std::vector<std::string> names = {"classification"};
  for (const auto& [name, entry] : tasks.tasks) names.push_back(name);
  return names;
}

}  // namespace vireo::training
