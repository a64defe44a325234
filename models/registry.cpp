// The model registry (models/registry.h): each model family declares its options once, through an
// OptionReader that both reads a key's value into the typed options struct and records the key as valid,
// so the list of valid keys in an error can never drift from what is actually read.
#include "models/registry.h"

#include <cmath>
#include <functional>
#include <optional>
#include <sstream>
#include <utility>

#include "models/p4_resnet.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"

namespace vireo::models {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ", ") + item;
  return s;
}

// "the integer 3", "the string \"cifr\"": how an ill-typed value is shown in an error.
std::string describe_value(const OptionValue& value) {
  std::ostringstream out;
  if (const auto* b = std::get_if<bool>(&value)) {
    out << "the boolean " << (*b ? "true" : "false");
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    out << "the integer " << *i;
  } else if (const auto* d = std::get_if<double>(&value)) {
    out << "the number " << *d;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    out << "the string \"" << *s << "\"";
  } else {
    out << "the list [";
    const auto& list = std::get<std::vector<int64_t>>(value);
    for (size_t k = 0; k < list.size(); ++k) out << (k ? ", " : "") << list[k];
    out << "]";
  }
  return out.str();
}

class OptionReader {
 public:
  OptionReader(std::string model, const ModelOptions& options) : model_(std::move(model)), options_(options) {}

  void integer(const std::string& key, int64_t& target) {
    if (const OptionValue* value = find(key)) target = as_integer(key, *value);
  }
  void integer(const std::string& key, std::optional<int64_t>& target) {
    if (const OptionValue* value = find(key)) target = as_integer(key, *value);
  }
  void number(const std::string& key, double& target) {
    const OptionValue* value = find(key);
    if (!value) return;
    if (const auto* d = std::get_if<double>(value))
      target = *d;
    else if (const auto* i = std::get_if<int64_t>(value))
      target = static_cast<double>(*i);
    else
      wrong_type(key, "a number", *value);
  }
  void boolean(const std::string& key, bool& target) {
    const OptionValue* value = find(key);
    if (!value) return;
    if (const auto* b = std::get_if<bool>(value))
      target = *b;
    else
      wrong_type(key, "a boolean", *value);
  }
  void integer_list(const std::string& key, std::vector<int64_t>& target) {
    const OptionValue* value = find(key);
    if (!value) return;
    if (const auto* list = std::get_if<std::vector<int64_t>>(value))
      target = *list;
    else
      wrong_type(key, "a list of integers", *value);
  }
  template <class Enum>
  void choice(const std::string& key, Enum& target, const std::vector<std::pair<std::string, Enum>>& choices) {
    const OptionValue* value = find(key);
    if (!value) return;
    std::vector<std::string> names;
    for (const auto& [name, option] : choices) names.push_back(name);
    const auto* text = std::get_if<std::string>(value);
    if (!text) wrong_type(key, "one of " + joined(names), *value);
    for (const auto& [name, option] : choices)
      if (*text == name) {
        target = option;
        return;
      }
    fail("create_model('", model_, "'): option '", key, "' must be one of ", joined(names), ", got \"", *text, "\"");
  }

  // After every read: any key that no read asked for is unknown.
  void reject_unknown() const {
    for (const auto& [key, value] : options_) {
      bool known = false;
      for (const auto& valid : keys_) known = known || valid == key;
      VIREO_CHECK(known, "create_model('", model_, "'): unknown option '", key, "'; valid options: ", joined(keys_));
    }
  }
  const std::vector<std::string>& keys() const { return keys_; }

 private:
  const OptionValue* find(const std::string& key) {
    keys_.push_back(key);
    const auto at = options_.find(key);
    return at == options_.end() ? nullptr : &at->second;
  }
  int64_t as_integer(const std::string& key, const OptionValue& value) const {
    if (const auto* i = std::get_if<int64_t>(&value)) return *i;
    if (const auto* d = std::get_if<double>(&value))
      if (std::isfinite(*d) && std::floor(*d) == *d && std::abs(*d) < 9.0e15) return static_cast<int64_t>(*d);
    wrong_type(key, "an integer", value);
  }
  [[noreturn]] void wrong_type(const std::string& key, const std::string& expected, const OptionValue& value) const {
    fail("create_model('", model_, "'): option '", key, "' must be ", expected, ", got ", describe_value(value));
  }

  std::string model_;
  const ModelOptions& options_;
  std::vector<std::string> keys_;
};

// ---- each family's options, read into its typed struct ----

ResNetOptions read_resnet(OptionReader& reader) {
  ResNetOptions o;
  reader.integer("num_classes", o.num_classes);
  reader.choice("stem", o.stem, {{"imagenet", Stem::imagenet}, {"cifar", Stem::cifar}});
  reader.integer("in_channels", o.in_channels);
  reader.number("width", o.width);
  reader.boolean("zero_init_residual", o.zero_init_residual);
  reader.choice("activation", o.activation,
                {{"relu", Activation::relu}, {"silu", Activation::silu}, {"gelu", Activation::gelu}});
  return o;
}

P4ResNetOptions read_p4_resnet(OptionReader& reader) {
  P4ResNetOptions o;
  reader.integer("in_channels", o.in_channels);
  reader.integer("width", o.width);
  reader.integer_list("blocks_per_stage", o.blocks_per_stage);
  reader.boolean("equivariant", o.equivariant);
  return o;
}

ViTOptions read_vit(OptionReader& reader) {
  ViTOptions o;
  reader.integer("image_size", o.image_size);
  reader.integer("in_channels", o.in_channels);
  reader.integer("patch_size", o.patch_size);
  reader.integer("depth", o.depth);
  reader.integer("width", o.width);
  reader.integer("heads", o.heads);
  reader.number("mlp_ratio", o.mlp_ratio);
  reader.boolean("qkv_bias", o.qkv_bias);
  reader.choice("pooling", o.pooling, {{"cls", Pooling::cls}, {"mean", Pooling::mean}});
  reader.integer("num_classes", o.num_classes);
  reader.number("dropout", o.dropout);
  reader.number("attention_dropout", o.attention_dropout);
  reader.number("layer_norm_eps", o.layer_norm_eps);
  return o;
}

UNetOptions read_unet(OptionReader& reader) {
  UNetOptions o;
  reader.integer("in_channels", o.in_channels);
  reader.integer("out_channels", o.out_channels);
  reader.integer("base_channels", o.base_channels);
  reader.integer_list("channel_multipliers", o.channel_multipliers);
  reader.integer("num_res_blocks", o.num_res_blocks);
  reader.integer_list("attention_levels", o.attention_levels);
  reader.integer("groups", o.groups);
  reader.integer("num_classes", o.num_classes);
  reader.number("dropout", o.dropout);
  return o;
}

// Reads a family's options and, when `build`, rejects unknown keys and constructs the model; with build
// false it only records the valid keys (model_option_names).
using Builder = std::function<std::shared_ptr<nn::Module>(OptionReader&, bool build)>;

template <class Options, class Model>
Builder builder(Options (*read)(OptionReader&), std::shared_ptr<Model> (*make)(Options)) {
  return [read, make](OptionReader& reader, bool build) -> std::shared_ptr<nn::Module> {
    const Options options = read(reader);
    if (!build) return nullptr;
    reader.reject_unknown();
    return make(options);
  };
}

const std::vector<std::pair<std::string, Builder>>& registry() {
  static const std::vector<std::pair<std::string, Builder>> entries = {
      {"resnet18", builder(read_resnet, resnet18)},   {"resnet34", builder(read_resnet, resnet34)},
      {"resnet50", builder(read_resnet, resnet50)},   {"vit_tiny", builder(read_vit, vit_tiny)},
      {"vit_small", builder(read_vit, vit_small)},    {"vit_base", builder(read_vit, vit_base)},
      {"vit", builder(read_vit, vit)},                {"ddpm_unet", builder(read_unet, ddpm_unet)},
      {"p4_resnet", builder(read_p4_resnet, p4_resnet)},
  };
  return entries;
}

const Builder& builder_for(const char* caller, const std::string& name) {
  for (const auto& [known, entry] : registry())
    if (known == name) return entry;
  fail(caller, ": unknown model '", name, "'; valid names: ", joined(model_names()));
}

}  // namespace

std::shared_ptr<nn::Module> create_model(const std::string& name, const ModelOptions& options) {
  OptionReader reader(name, options);
  return builder_for("create_model", name)(reader, true);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

std::vector<std::string> model_option_names(const std::string& name) {
  const ModelOptions none;
  OptionReader reader(name, none);
  builder_for("model_option_names", name)(reader, false);
  return reader.keys();
}

}  // namespace vireo::models
