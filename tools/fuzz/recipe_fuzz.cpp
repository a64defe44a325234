// Fuzz target: YAML recipes and command-line overrides (training/config_tree.h).
//
// What it feeds: the input is split at NUL bytes. The first piece is the recipe text, given to
// ConfigTree::parse; each later piece (at most 8) is a `key.path=value` assignment given to
// ConfigTree::apply_override, as `vireo train R.yaml optimizer.lr=0.1 …` does. The tree is then read the
// way a training run reads it, except that no key is known in advance: every key of every section is read
// through ConfigSection with one typed getter (number, whole number, int, bool, text, a list of each kind,
// a choice or a required form, picked by the key's name), maps are read as nested sections and lists as
// lists of sections; then check_all_used looks for unread keys, and both trees are written back with
// to_yaml.
//
// What counts as a bug: any crash, sanitizer report or timeout; an exception that is not vireo::Error
// (a bad recipe, a wrongly typed value or a bad override must be refused with one); and a resolved recipe
// (the tree of values read, saved in every run folder) that does not parse back as a recipe.
//
// yaml-cpp is Debian's uninstrumented build: coverage guides the fuzzer through this project's code
// (the conversion to ConfigNode, the readers, the overrides), not through yaml-cpp's own parser.
//
// Seeds (tools/fuzz/corpus/recipe, written by tools/fuzz/make_corpus.py): recipes shaped like the real
// ones — nested sections, a pipeline list of transforms, numbers as 1e-4 and 50_000, quoted strings,
// flow lists, anchors and aliases — some with overrides after a NUL; and the inputs of past findings
// (finding_*.bin).
#include <functional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "fuzz_support.h"
#include "training/config_tree.h"

using vireo::training::ConfigNode;
using vireo::training::ConfigSection;
using vireo::training::ConfigTree;

namespace {

constexpr size_t kMaxOverrides = 8;

// Runs one read; a refusal of it is fine and the walk goes on to the next read.
void attempt(const std::function<void()>& read) {
  try {
    read();
  } catch (const vireo::Error&) {
  }
}

// The typed reads a training run makes of a key. Each key gets one of them, picked by a hash of its name:
// a mutated name tries another reader, and an input costs one read per key (a refusal is an exception,
// and many of them per key would slow the fuzzer tenfold).
void read_typed(const ConfigSection& section, const std::string& key) {
  size_t hash = 0;
  for (unsigned char c : key) hash = hash * 31 + c;
  switch (hash % 13) {
    case 0: section.get(key, 0.5); break;
    case 1: section.get(key, int64_t{7}); break;
    case 2: section.get(key, 3); break;
    case 3: section.get(key, true); break;
    case 4: section.get(key, "text"); break;
    case 5: section.get(key, std::vector<double>{0.25}); break;
    case 6: section.get(key, std::vector<int64_t>{1, 2}); break;
    case 7: section.get(key, std::vector<std::string>{"a"}); break;
    case 8: section.choice(key, "sgd", {"sgd", "adam", "adamw"}); break;
    case 9: section.require_number(key); break;
    case 10: section.require_integer(key); break;
    case 11: section.require_string(key); break;
    default: section.fail_at(key, "a check made by the caller");
  }
}

// Reads every key of `section`, whose map is `node`, and descends into nested sections and lists of
// sections the way a training run reads `optimizer:` or `data.pipeline:`.
void read_everything(const ConfigSection& section, const ConfigNode& node) {
  for (const auto& entry : node.entries) {
    const std::string& key = entry.first;
    const ConfigNode* value = entry.second.get();
    section.has(key);
    section.origin_of(key);
    attempt([&] { read_typed(section, key); });
    if (value->kind == ConfigNode::Kind::map) {
      attempt([&] { read_everything(section.section(key), *value); });
    } else if (value->kind == ConfigNode::Kind::list) {
      attempt([&] {
        const std::vector<ConfigSection> items = section.section_list(key);
        for (size_t i = 0; i < items.size(); ++i) read_everything(items[i], *value->items[i]);
      });
    }
  }
  // Keys nobody wrote: defaults recorded, required ones refused.
  attempt([&] { section.get("absent", 1.0); });
  attempt([&] { section.require_string("absent"); });
  attempt([&] { section.check_all_used(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> pieces(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] != 0) pieces.back() += static_cast<char>(data[i]);
    else if (pieces.size() <= kMaxOverrides) pieces.emplace_back();
  }
  try {
    ConfigTree tree = ConfigTree::parse(pieces[0], "fuzz.yaml");
    for (size_t i = 1; i < pieces.size(); ++i) attempt([&] { tree.apply_override(pieces[i]); });
    const ConfigTree resolved;
    read_everything(ConfigSection::root(tree, resolved), *tree.root());
    tree.to_yaml();
    const std::string resolved_text = resolved.to_yaml();
    try {
      ConfigTree::parse(resolved_text, "resolved.yaml");
    } catch (const vireo::Error& error) {
      std::fprintf(stderr, "resolved recipe:\n%s\nrefused: %s\n", resolved_text.c_str(), error.what());
      vireo::fuzz::expect(false, "the resolved recipe parses back");
    }
  } catch (const vireo::Error&) {
    // A refusal: what a malformed recipe must get.
  }
  return 0;
}
