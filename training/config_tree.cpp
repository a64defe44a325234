#include "training/config_tree.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "engine/error.h"

namespace vireo::training {

std::shared_ptr<ConfigNode> ConfigNode::find(const std::string& key) const {
  for (const auto& [name, value] : entries)
    if (name == key) return value;
  return nullptr;
}

namespace {

// ---- from yaml-cpp's tree to ours ----

std::string origin_of_mark(const std::string& source, const YAML::Mark& mark) {
  if (mark.is_null()) return source;
  return source + ":" + std::to_string(mark.line + 1);
}

std::shared_ptr<ConfigNode> convert(const YAML::Node& yaml, const std::string& source) {
  auto node = std::make_shared<ConfigNode>();
  node->origin = origin_of_mark(source, yaml.Mark());
  switch (yaml.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      node->kind = ConfigNode::Kind::null;
      break;
    case YAML::NodeType::Scalar:
      node->kind = ConfigNode::Kind::scalar;
      node->scalar = yaml.Scalar();
      node->quoted = yaml.Tag() == "!";  // yaml-cpp tags quoted scalars "!"
      break;
    case YAML::NodeType::Sequence:
      node->kind = ConfigNode::Kind::list;
      for (const auto& item : yaml) node->items.push_back(convert(item, source));
      break;
    case YAML::NodeType::Map:
      node->kind = ConfigNode::Kind::map;
      for (const auto& entry : yaml) {
        const YAML::Node& key = entry.first;
        if (!key.IsScalar())
          fail(origin_of_mark(source, key.Mark()), ": a key must be a plain name");
        const std::string name = key.Scalar();
        for (const auto& [existing, value] : node->entries)
          if (existing == name)
            fail(origin_of_mark(source, key.Mark()), ": key '", name, "' appears twice (first at ",
                 value->origin, ")");
        node->entries.emplace_back(name, convert(entry.second, source));
        // A key's origin is where the key is written, which is where a reader looks for it.
        node->entries.back().second->origin = origin_of_mark(source, key.Mark());
      }
      break;
  }
  return node;
}

std::shared_ptr<ConfigNode> parse_yaml(const std::string& text, const std::string& source) {
  try {
    return convert(YAML::Load(text), source);
  } catch (const YAML::Exception& e) {
    fail(origin_of_mark(source, e.mark), ": not valid YAML: ", e.msg);
  }
}

// ---- back to YAML text ----

void emit(YAML::Emitter& out, const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::null: out << YAML::Null; break;
    case ConfigNode::Kind::scalar:
      if (node.quoted) out << YAML::DoubleQuoted;
      out << node.scalar;
      break;
    case ConfigNode::Kind::list:
      out << YAML::BeginSeq;
      for (const auto& item : node.items) emit(out, *item);
      out << YAML::EndSeq;
      break;
    case ConfigNode::Kind::map:
      out << YAML::BeginMap;
      for (const auto& [key, value] : node.entries) {
        out << YAML::Key << key << YAML::Value;
        emit(out, *value);
      }
      out << YAML::EndMap;
      break;
  }
}

// ---- scalars ----

std::string without_underscores(const std::string& text) {
  std::string out;
  for (char c : text)
    if (c != '_') out += c;
  return out;
}

bool parse_double(const std::string& text, double& value) {
  std::string clean = without_underscores(text);
  if (!clean.empty() && clean[0] == '+') clean.erase(0, 1);
  if (clean == ".inf" || clean == "inf") { value = INFINITY; return true; }
  if (clean == "-.inf" || clean == "-inf") { value = -INFINITY; return true; }
  if (clean.empty()) return false;
  const char* end = clean.data() + clean.size();
  auto [ptr, ec] = std::from_chars(clean.data(), end, value);
  return ec == std::errc() && ptr == end;
}

bool parse_integer(const std::string& text, int64_t& value) {
  std::string clean = without_underscores(text);
  if (!clean.empty() && clean[0] == '+') clean.erase(0, 1);
  const char* end = clean.data() + clean.size();
  auto [ptr, ec] = std::from_chars(clean.data(), end, value);
  if (ec == std::errc() && ptr == end) return true;
  // 1e6 or 50000.0: a number written in float notation that is a whole number is accepted.
  double as_double = 0;
  if (!parse_double(text, as_double) || std::floor(as_double) != as_double || std::fabs(as_double) > 9.0e15)
    return false;
  value = static_cast<int64_t>(as_double);
  return true;
}

bool parse_bool(const std::string& text, bool& value) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "yes" || lower == "on") { value = true; return true; }
  if (lower == "false" || lower == "no" || lower == "off") { value = false; return true; }
  return false;
}

// Text that YAML would read back as something else (a number, a boolean, null, empty) is written quoted.
bool needs_quotes(const std::string& text) {
  double number = 0;
  bool flag = false;
  return text.empty() || parse_double(text, number) || parse_bool(text, flag) || text == "null" || text == "~";
}

std::string describe_node(const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::null: return "nothing";
    case ConfigNode::Kind::scalar: return "'" + node.scalar + "'";
    case ConfigNode::Kind::list: return "a list";
    case ConfigNode::Kind::map: return "a map";
  }
  return "?";
}

std::shared_ptr<ConfigNode> scalar_node(std::string text, bool quoted = false) {
  auto node = std::make_shared<ConfigNode>();
  node->kind = ConfigNode::Kind::scalar;
  node->scalar = std::move(text);
  node->quoted = quoted;
  return node;
}

std::string format_double(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  // Keep it readable: the shortest text that reads back to the same double.
  for (int precision = 1; precision <= 17; ++precision) {
    std::ostringstream shorter;
    shorter.precision(precision);
    shorter << value;
    double back = 0;
    if (parse_double(shorter.str(), back) && back == value) return shorter.str();
  }
  return out.str();
}

// Whether a key from the command line is text a recipe could hold: well-formed UTF-8 (no overlong forms,
// surrogates or code points past U+10FFFF) without control characters. Keys read from a file come through
// yaml-cpp, which decodes them; an override's key does not, and raw bytes in it would be written into the
// resolved recipe as they are, where a reader takes them for something else (0xFE 0xFF at the start of the
// file reads as a UTF-16 byte-order mark).
bool is_text_key(const std::string& key) {
  for (size_t i = 0; i < key.size();) {
    const auto lead = static_cast<unsigned char>(key[i]);
    if (lead < 0x80) {
      if (lead < 0x20 || lead == 0x7F) return false;
      ++i;
      continue;
    }
    size_t length;
    uint32_t code, smallest;
    if ((lead & 0xE0) == 0xC0) length = 2, code = lead & 0x1F, smallest = 0x80;
    else if ((lead & 0xF0) == 0xE0) length = 3, code = lead & 0x0F, smallest = 0x800;
    else if ((lead & 0xF8) == 0xF0) length = 4, code = lead & 0x07, smallest = 0x10000;
    else return false;
    if (i + length > key.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(key[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

// Levenshtein distance, for "did you mean".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

// ---- ConfigTree ----

ConfigTree::ConfigTree() : root_(std::make_shared<ConfigNode>()), source_("<resolved>") {
  root_->kind = ConfigNode::Kind::map;
}

ConfigTree ConfigTree::parse(const std::string& text, const std::string& source) {
  ConfigTree tree;
  tree.source_ = source;
  tree.root_ = parse_yaml(text, source);
  if (tree.root_->kind == ConfigNode::Kind::null) {  // an empty file is an empty recipe
    tree.root_->kind = ConfigNode::Kind::map;
  }
  if (tree.root_->kind != ConfigNode::Kind::map)
    fail(source, ": a recipe must be a map of sections (key: value), not ", describe_node(*tree.root_));
  return tree;
}

ConfigTree ConfigTree::load(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, ": cannot read the recipe (no such file or no permission)");
  std::stringstream text;
  text << file.rdbuf();
  return parse(text.str(), path);
}

void ConfigTree::apply_override(const std::string& assignment) {
  const auto equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0)
    fail("command line: '", assignment, "' is not an override (write key.path=value)");
  const std::string path = assignment.substr(0, equals);
  const std::string origin = "command line (" + assignment + ")";
  auto value = parse_yaml(assignment.substr(equals + 1), origin);
  value->origin = origin;

  std::vector<std::string> parts;
  std::stringstream stream(path);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) fail(origin, ": empty key in '", path, "'");
    if (!is_text_key(part)) fail(origin, ": key '", part, "' holds a control character or bytes that are not UTF-8 text");
    parts.push_back(part);
  }
  std::shared_ptr<ConfigNode> node = root_;
  for (size_t i = 0; i < parts.size(); ++i) {
    const bool last = i + 1 == parts.size();
    const std::string& part = parts[i];
    if (node->kind == ConfigNode::Kind::list) {
      int64_t index = -1;
      if (!parse_integer(part, index) || index < 0 || index >= static_cast<int64_t>(node->items.size()))
        fail(origin, ": '", part, "' is not an index of the list at ", node->origin, " (it has ",
             node->items.size(), " items)");
      if (last) node->items[index] = value;
      else node = node->items[index];
      continue;
    }
    if (node->kind == ConfigNode::Kind::null) node->kind = ConfigNode::Kind::map;
    if (node->kind != ConfigNode::Kind::map)
      fail(origin, ": cannot set '", part, "' inside ", describe_node(*node), " (at ", node->origin, ")");
    auto existing = node->find(part);
    if (last) {
      if (existing) {
        for (auto& entry : node->entries)
          if (entry.first == part) entry.second = value;
      } else {
        node->entries.emplace_back(part, value);
      }
    } else {
      if (!existing) {
        existing = std::make_shared<ConfigNode>();
        existing->kind = ConfigNode::Kind::map;
        existing->origin = origin;
        node->entries.emplace_back(part, existing);
      }
      node = existing;
    }
  }
}

std::string ConfigTree::to_yaml() const {
  YAML::Emitter out;
  emit(out, *root_);
  return std::string(out.c_str()) + "\n";
}

// ---- ConfigSection ----

ConfigSection::ConfigSection(std::shared_ptr<ConfigNode> node, std::string path, std::shared_ptr<ConfigNode> resolved)
    : node_(std::move(node)), path_(std::move(path)), resolved_(std::move(resolved)) {}

ConfigSection ConfigSection::root(const ConfigTree& tree, const ConfigTree& resolved) {
  return ConfigSection(tree.root(), "", resolved.root());
}

std::string ConfigSection::path_of(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::string ConfigSection::origin_of(const std::string& key) const {
  if (node_) {
    if (auto value = node_->find(key)) return value->origin;
    return node_->origin;
  }
  return "recipe";
}

void ConfigSection::fail_at(const std::string& key, const std::string& message) const {
  fail(origin_of(key), ": ", path_of(key), ": ", message);
}

bool ConfigSection::has(const std::string& key) const {
  if (!node_ || node_->kind != ConfigNode::Kind::map) return false;
  auto value = node_->find(key);
  return value && value->kind != ConfigNode::Kind::null;
}

std::vector<std::string> ConfigSection::keys() const {
  std::vector<std::string> names;
  if (node_)
    for (const auto& [name, value] : node_->entries) names.push_back(name);
  return names;
}

std::shared_ptr<ConfigNode> ConfigSection::lookup(const std::string& key) const {
  if (!node_) return nullptr;
  auto value = node_->find(key);
  if (!value) return nullptr;
  value->used = true;
  if (value->kind == ConfigNode::Kind::null) return nullptr;  // `key:` with nothing reads as absent
  return value;
}

std::shared_ptr<ConfigNode> ConfigSection::resolved_slot(const std::string& key) const {
  if (!resolved_) return nullptr;
  if (auto existing = resolved_->find(key)) return existing;
  auto slot = std::make_shared<ConfigNode>();
  resolved_->entries.emplace_back(key, slot);
  return slot;
}

namespace {
void record(const std::shared_ptr<ConfigNode>& slot, std::shared_ptr<ConfigNode> value) {
  if (slot) *slot = *value;
}
std::shared_ptr<ConfigNode> list_node(const std::vector<std::string>& texts, bool quoted) {
  auto node = std::make_shared<ConfigNode>();
  node->kind = ConfigNode::Kind::list;
  for (const auto& text : texts) node->items.push_back(scalar_node(text, quoted));
  return node;
}
}  // namespace

double ConfigSection::get(const std::string& key, double fallback) const {
  double value = fallback;
  if (auto node = lookup(key)) {
    if (node->kind != ConfigNode::Kind::scalar || !parse_double(node->scalar, value))
      fail_at(key, "expected a number, got " + describe_node(*node));
  }
  record(resolved_slot(key), scalar_node(format_double(value)));
  return value;
}

int64_t ConfigSection::get(const std::string& key, int64_t fallback) const {
  int64_t value = fallback;
  if (auto node = lookup(key)) {
    if (node->kind != ConfigNode::Kind::scalar || !parse_integer(node->scalar, value))
      fail_at(key, "expected a whole number, got " + describe_node(*node));
  }
  record(resolved_slot(key), scalar_node(std::to_string(value)));
  return value;
}

int ConfigSection::get(const std::string& key, int fallback) const {
  const int64_t value = get(key, static_cast<int64_t>(fallback));
  if (value < INT32_MIN || value > INT32_MAX) fail_at(key, "the value " + std::to_string(value) + " is too large");
  return static_cast<int>(value);
}

bool ConfigSection::get(const std::string& key, bool fallback) const {
  bool value = fallback;
  if (auto node = lookup(key)) {
    if (node->kind != ConfigNode::Kind::scalar || node->quoted || !parse_bool(node->scalar, value))
      fail_at(key, "expected true or false, got " + describe_node(*node));
  }
  record(resolved_slot(key), scalar_node(value ? "true" : "false"));
  return value;
}

std::string ConfigSection::get(const std::string& key, const std::string& fallback) const {
  std::string value = fallback;
  if (auto node = lookup(key)) {
    if (node->kind != ConfigNode::Kind::scalar) fail_at(key, "expected a text value, got " + describe_node(*node));
    value = node->scalar;
  }
  record(resolved_slot(key), scalar_node(value, needs_quotes(value)));
  return value;
}

namespace {
// A list value, or a single scalar read as a list of one.
std::vector<std::shared_ptr<ConfigNode>> list_items(const ConfigNode& node) {
  if (node.kind == ConfigNode::Kind::list) return node.items;
  return {std::make_shared<ConfigNode>(node)};
}
}  // namespace

std::vector<double> ConfigSection::get(const std::string& key, const std::vector<double>& fallback) const {
  std::vector<double> values = fallback;
  if (auto node = lookup(key)) {
    values.clear();
    for (const auto& item : list_items(*node)) {
      double value = 0;
      if (item->kind != ConfigNode::Kind::scalar || !parse_double(item->scalar, value))
        fail_at(key, "expected a list of numbers, got " + describe_node(*item) + " in it");
      values.push_back(value);
    }
  }
  std::vector<std::string> texts;
  for (double value : values) texts.push_back(format_double(value));
  record(resolved_slot(key), list_node(texts, false));
  return values;
}

std::vector<int64_t> ConfigSection::get(const std::string& key, const std::vector<int64_t>& fallback) const {
  std::vector<int64_t> values = fallback;
  if (auto node = lookup(key)) {
    values.clear();
    for (const auto& item : list_items(*node)) {
      int64_t value = 0;
      if (item->kind != ConfigNode::Kind::scalar || !parse_integer(item->scalar, value))
        fail_at(key, "expected a list of whole numbers, got " + describe_node(*item) + " in it");
      values.push_back(value);
    }
  }
  std::vector<std::string> texts;
  for (int64_t value : values) texts.push_back(std::to_string(value));
  record(resolved_slot(key), list_node(texts, false));
  return values;
}

std::vector<std::string> ConfigSection::get(const std::string& key, const std::vector<std::string>& fallback) const {
  std::vector<std::string> values = fallback;
  if (auto node = lookup(key)) {
    values.clear();
    for (const auto& item : list_items(*node)) {
      if (item->kind != ConfigNode::Kind::scalar)
        fail_at(key, "expected a list of text values, got " + describe_node(*item) + " in it");
      values.push_back(item->scalar);
    }
  }
  bool quoted = false;
  for (const auto& value : values) quoted = quoted || needs_quotes(value);
  record(resolved_slot(key), list_node(values, quoted));
  return values;
}

double ConfigSection::require_number(const std::string& key) const {
  if (!has(key)) fail_at(key, "is required (a number)");
  return get(key, 0.0);
}

int64_t ConfigSection::require_integer(const std::string& key) const {
  if (!has(key)) fail_at(key, "is required (a whole number)");
  return get(key, int64_t{0});
}

std::string ConfigSection::require_string(const std::string& key) const {
  if (!has(key)) fail_at(key, "is required");
  return get(key, std::string());
}

std::string ConfigSection::choice(const std::string& key, const std::string& fallback,
                                  const std::vector<std::string>& choices) const {
  const std::string value = get(key, fallback);
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    std::string list;
    for (const auto& option : choices) list += (list.empty() ? "" : ", ") + option;
    fail_at(key, "'" + value + "' is not one of: " + list);
  }
  return value;
}

ConfigSection ConfigSection::section(const std::string& key) const {
  auto node = lookup(key);
  if (node && node->kind != ConfigNode::Kind::map) fail_at(key, "expected a section (key: value lines), got " + describe_node(*node));
  std::shared_ptr<ConfigNode> slot = resolved_slot(key);
  if (slot && slot->kind != ConfigNode::Kind::map) {
    slot->kind = ConfigNode::Kind::map;
    slot->entries.clear();
  }
  return ConfigSection(node, path_of(key), slot);
}

std::vector<ConfigSection> ConfigSection::section_list(const std::string& key) const {
  std::vector<ConfigSection> sections;
  auto node = lookup(key);
  std::shared_ptr<ConfigNode> slot = resolved_slot(key);
  if (slot) {
    slot->kind = ConfigNode::Kind::list;
    slot->items.clear();
  }
  if (!node) return sections;
  if (node->kind != ConfigNode::Kind::list) fail_at(key, "expected a list of sections, got " + describe_node(*node));
  for (size_t i = 0; i < node->items.size(); ++i) {
    const auto& item = node->items[i];
    const std::string item_path = path_of(key) + "." + std::to_string(i);
    if (item->kind != ConfigNode::Kind::map)
      fail(item->origin, ": ", item_path, ": expected a section (key: value lines), got ", describe_node(*item));
    std::shared_ptr<ConfigNode> item_slot;
    if (slot) {
      item_slot = std::make_shared<ConfigNode>();
      item_slot->kind = ConfigNode::Kind::map;
      slot->items.push_back(item_slot);
    }
    sections.emplace_back(item, item_path, item_slot);
  }
  return sections;
}

namespace {
// `resolved` holds the keys the program asked for in this map: the candidates for "did you mean".
void check_used(const ConfigNode& node, const ConfigNode* resolved, const std::string& path) {
  if (node.kind == ConfigNode::Kind::map) {
    for (const auto& [key, value] : node.entries) {
      const std::string key_path = path.empty() ? key : path + "." + key;
      const ConfigNode* resolved_value = resolved ? resolved->find(key).get() : nullptr;
      if (!value->used) {
        std::string suggestion;
        size_t best = 3;  // suggest only near misses
        if (resolved)
          for (const auto& [known, unused] : resolved->entries) {
            const size_t distance = edit_distance(key, known);
            if (distance < best) { best = distance; suggestion = known; }
          }
        fail(value->origin, ": unknown key ", key_path,
             suggestion.empty() ? std::string() : " (did you mean " + suggestion + "?)");
      }
      check_used(*value, resolved_value, key_path);
    }
  } else if (node.kind == ConfigNode::Kind::list) {
    for (size_t i = 0; i < node.items.size(); ++i) {
      const ConfigNode* resolved_item =
          resolved && resolved->kind == ConfigNode::Kind::list && i < resolved->items.size() ? resolved->items[i].get() : nullptr;
      check_used(*node.items[i], resolved_item, path + "." + std::to_string(i));
    }
  }
}
}  // namespace

void ConfigSection::check_all_used() const {
  if (node_) check_used(*node_, resolved_.get(), path_);
}

}  // namespace vireo::training
