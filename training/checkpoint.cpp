// Training checkpoints as one safetensors file: sections of named tensors under prefixes, counters as 0-d
// i64 tensors (exact, unlike text), and the recipe in the metadata.
#include "training/checkpoint.h"

#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/safetensors.h"

#ifndef VIREO_VERSION
#define VIREO_VERSION "unknown"
#endif

namespace vireo::training {
namespace {

constexpr const char* kFormat = "vireo-training-checkpoint";
constexpr const char* kFormatVersion = "1";

Tensor integer_scalar(int64_t value) {
  Tensor tensor = Tensor::empty({}, {.dtype = DType::i64});
  *tensor.data<int64_t>() = value;
  return tensor;
}

// 64-bit unsigned counters (the generator's) travel bit-for-bit in an i64.
Tensor unsigned_scalar(uint64_t value) {
  int64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  return integer_scalar(bits);
}

void put_section(StateDict& out, const std::string& prefix, const StateDict& section) {
  for (const auto& [name, tensor] : section) out[prefix + "." + name] = tensor;
}

StateDict take_section(const StateDict& all, const std::string& prefix) {
  StateDict section;
  const std::string head = prefix + ".";
  for (const auto& [name, tensor] : all)
    if (name.compare(0, head.size(), head) == 0) section[name.substr(head.size())] = tensor;
  return section;
}

int64_t read_integer(const StateDict& all, const std::string& name, const std::string& path) {
  const auto found = all.find(name);
  if (found == all.end()) fail(path, ": not a complete training checkpoint (no ", name, ")");
  const Tensor& tensor = found->second;
  if (tensor.dtype() != DType::i64 || tensor.numel() != 1)
    fail(path, ": ", name, " must be one i64 value, got ", tensor.dtype(), " of shape ", to_string(tensor.shape()));
  return *tensor.contiguous().data<int64_t>();
}

}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  StateDict tensors;
  put_section(tensors, "model", checkpoint.model);
  put_section(tensors, "optimizer", checkpoint.optimizer);
  put_section(tensors, "scheduler", checkpoint.scheduler);
  put_section(tensors, "ema", checkpoint.ema);
  put_section(tensors, "trainer", checkpoint.trainer);
  tensors["rng.seed"] = unsigned_scalar(checkpoint.rng_seed);
  tensors["rng.offset"] = unsigned_scalar(checkpoint.rng_offset);
  tensors["position.epoch"] = integer_scalar(checkpoint.position.epoch);
  tensors["position.batch"] = integer_scalar(checkpoint.position.batch);
  tensors["position.samples_seen"] = integer_scalar(checkpoint.position.samples_seen);
  tensors["position.step"] = integer_scalar(checkpoint.position.step);
  const io::SafetensorsMetadata metadata = {
      {"format", kFormat},
      {"format_version", kFormatVersion},
      {"vireo_version", VIREO_VERSION},
      {"recipe", checkpoint.recipe_yaml},
      {"metrics_bytes", std::to_string(checkpoint.metrics_bytes)},
      {"last_evaluation", checkpoint.last_evaluation_json},
  };
  io::save_safetensors(path, tensors, metadata);
}

Checkpoint load_checkpoint(const std::string& path) {
  if (!std::filesystem::exists(path)) fail(path, ": no checkpoint there (nothing to resume from)");
  const io::SafetensorsReader reader(path);  // refuses a corrupt file, naming the path and the fault
  const io::SafetensorsMetadata& metadata = reader.metadata();
  const auto entry = [&](const char* key) -> const std::string& {
    const auto found = metadata.find(key);
    if (found == metadata.end()) fail(path, ": not a Vireo training checkpoint (no '", key, "' in its metadata)");
    return found->second;
  };
  if (entry("format") != kFormat) fail(path, ": not a Vireo training checkpoint (format '", entry("format"), "')");
  if (entry("format_version") != kFormatVersion)
    fail(path, ": checkpoint format version ", entry("format_version"), " is not the one this build reads (",
         kFormatVersion, ")");

  const StateDict all = reader.load_all();
  Checkpoint checkpoint;
  checkpoint.model = take_section(all, "model");
  checkpoint.optimizer = take_section(all, "optimizer");
  checkpoint.scheduler = take_section(all, "scheduler");
  checkpoint.ema = take_section(all, "ema");
  checkpoint.trainer = take_section(all, "trainer");
  const int64_t seed = read_integer(all, "rng.seed", path), offset = read_integer(all, "rng.offset", path);
  std::memcpy(&checkpoint.rng_seed, &seed, sizeof seed);
  std::memcpy(&checkpoint.rng_offset, &offset, sizeof offset);
  checkpoint.position.epoch = read_integer(all, "position.epoch", path);
  checkpoint.position.batch = read_integer(all, "position.batch", path);
  checkpoint.position.samples_seen = read_integer(all, "position.samples_seen", path);
  checkpoint.position.step = read_integer(all, "position.step", path);
  const TrainingPosition& p = checkpoint.position;
  if (p.epoch < 0 || p.batch < 0 || p.samples_seen < 0 || p.step < 0)
    fail(path, ": the position in the checkpoint is negative (epoch ", p.epoch, ", batch ", p.batch, ")");
  checkpoint.recipe_yaml = entry("recipe");
  checkpoint.last_evaluation_json = entry("last_evaluation");
  try {
    size_t used = 0;
    checkpoint.metrics_bytes = std::stoll(entry("metrics_bytes"), &used);
    if (used != entry("metrics_bytes").size() || checkpoint.metrics_bytes < 0) throw std::invalid_argument("");
  } catch (const std::exception&) {
    fail(path, ": metrics_bytes in the metadata is not a byte count: '", entry("metrics_bytes"), "'");
  }
  return checkpoint;
}

void load_module_state(nn::Module& module, const StateDict& state, const std::string& section,
                       const std::string& path, const std::string& model_name) {
  const StateDict own = module.state_dict();
  for (const auto& [name, tensor] : own) {
    const auto found = state.find(name);
    if (found == state.end())
      fail(path, ": ", section, ".", name, " is missing from the checkpoint (the recipe's model ", model_name,
           " has it; the checkpoint holds a different model)");
    if (found->second.shape() != tensor.shape())
      fail(path, ": ", section, ".", name, " has shape ", to_string(found->second.shape()),
           " in the checkpoint but ", to_string(tensor.shape()), " in the recipe's model ", model_name);
  }
  for (const auto& [name, tensor] : state)
    if (!own.count(name))
      fail(path, ": ", section, ".", name, " in the checkpoint has no place in the recipe's model ", model_name);
  module.load_state_dict(state);
}

void remove_stale_checkpoint_temporaries(const std::string& path) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";
  // engine/io/safetensors.cpp names them ".<file>.tmp.<pid>.<n>".
  const std::string prefix = "." + target.filename().string() + ".tmp.";
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error)) return;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error))
    if (entry.path().filename().string().compare(0, prefix.size(), prefix) == 0)
      std::filesystem::remove(entry.path(), error);
}

}  // namespace vireo::training
