// ConfigTree: a YAML document read into a plain tree that remembers where every value came from, and
// ConfigSection: a typed reader over it that records which keys were read.
//
// A recipe is a ConfigTree; the code that builds a training run reads it through ConfigSections
// (`section("optimizer").get("lr", 0.1)`), and afterwards asks for the keys nobody read: those are typos,
// reported with their file and line ("recipe.yaml:12: unknown key optimizer.lrr (did you mean lr?)").
// Every value read is also written, with defaults filled in, into a `resolved` tree: that is the
// resolved recipe saved in the run folder, so a run says exactly what it ran with.
//
// yaml-cpp parses the text; nothing of it leaks into this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vireo::training {

struct ConfigNode {
  enum class Kind { null, scalar, list, map };
  Kind kind = Kind::null;
  std::string scalar;                                       // Kind::scalar: the text as written
  bool quoted = false;                                      // "1" in quotes stays a string
  std::vector<std::shared_ptr<ConfigNode>> items;           // Kind::list
  std::vector<std::pair<std::string, std::shared_ptr<ConfigNode>>> entries;  // Kind::map, in file order
  std::string origin;   // "recipe.yaml:12" or "command line (optimizer.lr=0.1)"
  bool used = false;    // set when a reader consumed this key

  std::shared_ptr<ConfigNode> find(const std::string& key) const;  // null when absent
};

class ConfigTree {
 public:
  // Parses YAML text; `source` names it in errors (a path, or "<string>"). The top level must be a map.
  static ConfigTree parse(const std::string& text, const std::string& source);
  static ConfigTree load(const std::string& path);  // reads the file; a missing file names its path
  ConfigTree();

  // Applies `key.path=value` (value parsed as YAML, so lists and numbers work): creates missing maps,
  // replaces an existing value. Errors name the override.
  void apply_override(const std::string& assignment);

  const std::shared_ptr<ConfigNode>& root() const { return root_; }
  const std::string& source() const { return source_; }
  // The tree as YAML text (used for the resolved recipe).
  std::string to_yaml() const;

 private:
  std::shared_ptr<ConfigNode> root_;
  std::string source_;
};

// A typed view of one map in a ConfigTree. Reading a key marks it used and records the value (or the
// default) under the same path in `resolved`.
class ConfigSection {
 public:
  ConfigSection(std::shared_ptr<ConfigNode> node, std::string path, std::shared_ptr<ConfigNode> resolved);
  // The top-level section of a tree, recording into `resolved` (pass a fresh ConfigTree's root).
  static ConfigSection root(const ConfigTree& tree, const ConfigTree& resolved);

  bool has(const std::string& key) const;
  std::vector<std::string> keys() const;

  // Optional keys with a default; the *required* forms throw when the key is absent.
  double get(const std::string& key, double fallback) const;
  int64_t get(const std::string& key, int64_t fallback) const;
  int get(const std::string& key, int fallback) const;
  bool get(const std::string& key, bool fallback) const;
  std::string get(const std::string& key, const std::string& fallback) const;
  std::string get(const std::string& key, const char* fallback) const { return get(key, std::string(fallback)); }
  std::vector<double> get(const std::string& key, const std::vector<double>& fallback) const;
  std::vector<int64_t> get(const std::string& key, const std::vector<int64_t>& fallback) const;
  std::vector<std::string> get(const std::string& key, const std::vector<std::string>& fallback) const;

  double require_number(const std::string& key) const;
  int64_t require_integer(const std::string& key) const;
  std::string require_string(const std::string& key) const;

  // A string that must be one of `choices`; the error lists them.
  std::string choice(const std::string& key, const std::string& fallback,
                     const std::vector<std::string>& choices) const;

  // A nested map (an empty section when absent), and a list of maps (e.g. a pipeline of transforms).
  ConfigSection section(const std::string& key) const;
  std::vector<ConfigSection> section_list(const std::string& key) const;

  // Throws for the first key under this section that nothing read, with its origin and a suggestion.
  void check_all_used() const;

  // "optimizer.lr": the dotted path of a key in this section, for messages.
  std::string path_of(const std::string& key) const;
  // Where a key was written ("recipe.yaml:12"), or where this section was when the key is absent.
  std::string origin_of(const std::string& key) const;
  // An Error "origin: path: message" about a key (for checks the caller makes on a value it read).
  [[noreturn]] void fail_at(const std::string& key, const std::string& message) const;

 private:
  std::shared_ptr<ConfigNode> lookup(const std::string& key) const;  // marks used
  std::shared_ptr<ConfigNode> resolved_slot(const std::string& key) const;

  std::shared_ptr<ConfigNode> node_;      // may be null: an absent section reads as empty
  std::string path_;
  std::shared_ptr<ConfigNode> resolved_;  // the map this section records into
};

}  // namespace vireo::training
