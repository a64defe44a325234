// Activation checkpointing: a function of tensors (a module's forward, a block range) that keeps none of
// its intermediate activations during the forward, and recomputes them in the backward.
//
//   forward:  y = f(x) under NoGrad — the graph holds x and one node, nothing from inside f
//   backward: y = f(x) again with gradients on, then backward through that fresh graph with dy
//
// Peak memory drops from the activations of every checkpointed block to those of one block (plus each
// block's input); the price is a second forward. The recomputation replays the default generator's
// stream from the same offset (dropout draws the same mask) and restores `state` (BatchNorm's running
// statistics) afterwards, so it does not update them twice. Forward hooks inside f: a hook that only
// observes (returns nothing: feature capture, response collection) sees each forward once, not its
// recomputation — the values would be the same, the capture a duplicate; a hook that replaces an output
// (a steering intervention) fires in both passes, so the recomputed graph is the one the forward computed.
// Parameter gradients go straight into the parameters' .grad during the recomputed backward.
#pragma once

#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace vireo::nn {

using CheckpointedFunction = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// `parameters`: the leaves f reads besides its inputs (a module's parameters()); `state`: tensors f updates
// in place (a module's buffers()). `function` must stay callable until the backward has run.
Tensor checkpoint(CheckpointedFunction function, const std::vector<Tensor>& inputs,
                  const std::vector<Tensor>& parameters = {}, const std::vector<Tensor>& state = {});

// Is this thread inside a checkpointed function's recomputation (during the backward)?
bool in_checkpoint_recomputation();

}  // namespace vireo::nn
