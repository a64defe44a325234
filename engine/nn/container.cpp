// Containers (engine/nn/container.h).
#include "engine/nn/container.h"

namespace vireo::nn {

std::shared_ptr<Module> detail::child_at(const Module& container,
                                         const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children,
                                         int64_t index) {
  const int64_t size = static_cast<int64_t>(children.size());
  VIREO_CHECK(index >= -size && index < size, container.type_name(), ": index ", index, " is out of range for ", size,
              " modules");
  return children[index < 0 ? index + size : index].second;
}

// ---- Sequential ----

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& module : modules) push_back(module);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), std::move(module));
}

std::shared_ptr<Module> Sequential::operator[](int64_t index) const {
  return detail::child_at(*this, child_entries(), index);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& entry : child_entries()) y = (*entry.second)(y);
  return y;
}

// ---- ModuleList ----

ModuleList::ModuleList(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& module : modules) push_back(module);
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(size()), module);
  modules_.push_back(std::move(module));
}

std::shared_ptr<Module> ModuleList::operator[](int64_t index) const {
  return detail::child_at(*this, child_entries(), index);
}

// ---- ModuleDict ----

ModuleDict::ModuleDict(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules) {
  for (const auto& [key, module] : modules) insert(key, module);
}

void ModuleDict::insert(std::string key, std::shared_ptr<Module> module) { register_module(std::move(key), std::move(module)); }

bool ModuleDict::contains(const std::string& key) const {
  for (const auto& entry : child_entries())
    if (entry.first == key) return true;
  return false;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& entry : child_entries()) out.push_back(entry.first);
  return out;
}

std::shared_ptr<Module> ModuleDict::operator[](const std::string& key) const {
  for (const auto& entry : child_entries())
    if (entry.first == key) return entry.second;
  std::string available;
  for (const auto& entry : child_entries()) available += (available.empty() ? "" : ", ") + entry.first;
  fail(type_name(), ": no module '", key, "'; keys: ", available.empty() ? std::string("none") : available);
}

}  // namespace vireo::nn
