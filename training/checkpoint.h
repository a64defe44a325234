// Training checkpoints: everything a run needs to continue exactly where it stopped, in one safetensors
// file (engine/io/safetensors.h), written atomically — a temporary file, flushed to disk, renamed over the
// previous checkpoint — so that a run killed at any moment leaves either the old checkpoint or the new one.
//
//   model.<name>        the model's state dict (parameters and buffers)
//   optimizer.<name>    the optimizer's (momentum buffers, Adam moments, step counts, groups)
//   scheduler.<name>    the learning-rate scheduler's (samples seen, base learning rates)
//   ema.<name>          the EMA model's state dict, when the run keeps one
//   trainer.<name>      the loop's own running values (the loss averaged since the last log line)
//   rng.seed, rng.offset                       the default generator (0-d i64: dropout, noise)
//   position.epoch, .batch, .samples_seen, .step   where the loop stands (0-d i64)
//   __metadata__: format, format_version, vireo_version, recipe (the resolved recipe's YAML),
//                 metrics_bytes (the length of metrics.jsonl when it was written), last_evaluation (JSON)
//
// The data loader needs only the position: its batches are a pure function of (seed, epoch, batch).
#pragma once

#include <cstdint>
#include <string>

#include "engine/nn/module.h"
#include "engine/state_dict.h"

namespace vireo::training {

struct TrainingPosition {
  int64_t epoch = 0;         // the epoch the next batch belongs to
  int64_t batch = 0;         // the index of the next batch within that epoch
  int64_t samples_seen = 0;  // training examples consumed so far
  int64_t step = 0;          // optimizer steps taken so far
  friend bool operator==(const TrainingPosition&, const TrainingPosition&) = default;
};

struct Checkpoint {
  StateDict model, optimizer, scheduler, ema, trainer;  // ema empty when the run keeps no EMA model
  uint64_t rng_seed = 0, rng_offset = 0;
  TrainingPosition position;
  int64_t metrics_bytes = 0;
  std::string recipe_yaml;
  std::string last_evaluation_json = "{}";
};

// The file name inside a run folder.
inline constexpr const char* kCheckpointFile = "checkpoint.safetensors";

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// A missing, corrupt or foreign file (not written by save_checkpoint) is refused naming its path.
Checkpoint load_checkpoint(const std::string& path);

// Loads `state` (the checkpoint section `section`, e.g. "model") into `module`, first checking every key
// and shape so that a checkpoint of another model is refused naming the first key that does not fit:
//   "run/checkpoint.safetensors: model.conv1.weight has shape [16, 1, 3, 3] in the checkpoint but
//    [8, 1, 3, 3] in the recipe's model resnet18"
void load_module_state(nn::Module& module, const StateDict& state, const std::string& section,
                       const std::string& path, const std::string& model_name);

// Removes the temporary files a save interrupted by a kill may have left beside `path`.
void remove_stale_checkpoint_temporaries(const std::string& path);

}  // namespace vireo::training
