// Hook registries and handles (engine/nn/hooks.h). Removal erases the entry from the registry; a forward
// call that is already running iterates over its own snapshot, so removing (or adding) a hook from inside
// a hook never invalidates that iteration.
#include "engine/nn/hooks.h"

#include <algorithm>
#include <atomic>

namespace vireo::nn {

int64_t HookRegistry::next_id() {
  static std::atomic<int64_t> counter{0};
  return ++counter;
}

bool HookRegistry::contains(int64_t id) const {
  auto has_id = [id](const auto& entry) { return entry.first == id; };
  return std::any_of(pre_hooks.begin(), pre_hooks.end(), has_id) || std::any_of(hooks.begin(), hooks.end(), has_id);
}

void HookRegistry::remove(int64_t id) {
  auto has_id = [id](const auto& entry) { return entry.first == id; };
  std::erase_if(pre_hooks, has_id);
  std::erase_if(hooks, has_id);
}

void HookHandle::remove() {
  if (auto registry = registry_.lock()) registry->remove(id_);
}

bool HookHandle::active() const {
  auto registry = registry_.lock();
  return registry && registry->contains(id_);
}

}  // namespace vireo::nn
