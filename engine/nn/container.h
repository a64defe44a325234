// Containers: Sequential (chains its children), ModuleList (an indexable list) and ModuleDict (named
// modules in insertion order) — torch.nn's, with children named "0", "1", ... or by key, so parameter
// names match PyTorch's ("layer1.0.conv1.weight").
#pragma once

#include <memory>
#include <typeinfo>
#include <string>
#include <vector>

#include "engine/nn/module.h"

namespace vireo::nn {

// Calls its children in order, each on the previous one's output, through operator() so their hooks fire.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <class... Modules>
    requires(sizeof...(Modules) > 0)
  explicit Sequential(std::shared_ptr<Modules>... modules) {
    (push_back(std::move(modules)), ...);
  }
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

  void push_back(std::shared_ptr<Module> module);  // named by its index
  std::shared_ptr<Module> operator[](int64_t index) const;  // negative counts from the end
  // The module at `index` as its concrete type, or an Error naming both types.
  template <class M>
  std::shared_ptr<M> get(int64_t index) const;
  int64_t size() const { return static_cast<int64_t>(child_entries().size()); }

  using Module::forward;
  Tensor forward(const Tensor& x) override;
};

// Holds modules to be called by their owner (a model's list of blocks); it has no forward of its own.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  explicit ModuleList(const std::vector<std::shared_ptr<Module>>& modules);

  void push_back(std::shared_ptr<Module> module);  // named by its index
  std::shared_ptr<Module> operator[](int64_t index) const;
  template <class M>
  std::shared_ptr<M> get(int64_t index) const;
  int64_t size() const { return static_cast<int64_t>(child_entries().size()); }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

// Modules by name, in insertion order; it has no forward of its own.
class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  explicit ModuleDict(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules);

  void insert(std::string key, std::shared_ptr<Module> module);
  std::shared_ptr<Module> operator[](const std::string& key) const;  // an Error listing the keys if absent
  bool contains(const std::string& key) const;
  std::vector<std::string> keys() const;
  int64_t size() const { return static_cast<int64_t>(child_entries().size()); }
};

namespace detail {
// The index-th child of a container (negative from the end), or an Error naming the container and range.
std::shared_ptr<Module> child_at(const Module& container, const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children,
                                 int64_t index);
template <class M>
std::shared_ptr<M> cast_child(const Module& container, const std::shared_ptr<Module>& child, int64_t index) {
  auto typed = std::dynamic_pointer_cast<M>(child);
  VIREO_CHECK(typed != nullptr, container.type_name(), ".get: module ", index, " is a ", child->type_name(), ", not a ",
              class_name(typeid(M)));
  return typed;
}
}  // namespace detail

template <class M>
std::shared_ptr<M> Sequential::get(int64_t index) const {
  return detail::cast_child<M>(*this, (*this)[index], index);
}

template <class M>
std::shared_ptr<M> ModuleList::get(int64_t index) const {
  return detail::cast_child<M>(*this, (*this)[index], index);
}

}  // namespace vireo::nn
