// SyncBatchNorm: every BatchNorm layer of a model normalizes, in training, with the statistics of the
// global batch — all ranks' examples together — rather than of its own rank's shard. Without it a
// data-parallel run with per-rank batch B would normalize over B examples and train a different model
// than one process with batch B·ranks; with it the two are the same computation (the 2-rank-vs-1-rank test
// of tests/dist). The arithmetic is BatchNorm's own (engine/nn/normalization.h, "Synchronized"); this
// file only hands each layer the differentiable replica sum (collectives.h).
//
// BYOL's projector and predictor BatchNorms (ssl/heads.h) and its target network's are layers of the
// method module like any other, so one call on the trained module synchronizes them all.
#pragma once

#include <cstdint>

#include "engine/nn/module.h"
#include "training/dist/communicator.h"

namespace vireo::training::dist {

// Synchronizes every BatchNorm layer of `model` over `communicator` (which must outlive the model's
// training); returns how many layers it found. A no-op returning 0 on a single process.
int64_t synchronize_batch_norm(nn::Module& model, Communicator& communicator);

}  // namespace vireo::training::dist
