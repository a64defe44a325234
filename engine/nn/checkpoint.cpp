// Activation checkpointing (engine/nn/checkpoint.h).
#include "engine/nn/checkpoint.h"

#include "engine/autograd.h"
#include "engine/random.h"

namespace vireo::nn {
namespace {

// Turns gradient recording on for a scope (the recomputation runs inside a backward, which has it off).
class EnableGrad {
 public:
  EnableGrad() : previous_(grad_enabled()) { set_grad_enabled(true); }
  ~EnableGrad() { set_grad_enabled(previous_); }
  EnableGrad(const EnableGrad&) = delete;
  EnableGrad& operator=(const EnableGrad&) = delete;

 private:
  bool previous_;
};

thread_local int recomputation_depth = 0;  // nested checkpoints recompute inside a recomputation

// Marks this thread as recomputing for a scope.
class Recomputation {
 public:
  Recomputation() { ++recomputation_depth; }
  ~Recomputation() { --recomputation_depth; }
  Recomputation(const Recomputation&) = delete;
  Recomputation& operator=(const Recomputation&) = delete;
};

std::vector<Tensor> detached(const std::vector<Tensor>& tensors) {
  std::vector<Tensor> out;
  out.reserve(tensors.size());
  for (const Tensor& t : tensors) out.push_back(t.defined() ? t.detach() : Tensor());
  return out;
}

}  // namespace

bool in_checkpoint_recomputation() { return recomputation_depth > 0; }

Tensor checkpoint(CheckpointedFunction function, const std::vector<Tensor>& inputs,
                  const std::vector<Tensor>& parameters, const std::vector<Tensor>& state) {
  std::vector<Tensor> recorded = inputs;
  recorded.insert(recorded.end(), parameters.begin(), parameters.end());
  if (!needs_grad(recorded)) return function(inputs);

  const uint64_t generator_offset = default_generator().offset();
  const std::vector<Tensor> saved_inputs = detached(inputs);
  std::vector<bool> input_wants_grad;
  for (const Tensor& t : inputs) input_wants_grad.push_back(t.defined() && t.requires_grad());
  Tensor output;
  {
    NoGrad no_grad;
    output = function(saved_inputs);
  }
  VIREO_CHECK(output.defined(), "checkpoint: the checkpointed function returned an undefined tensor");

  const size_t input_count = inputs.size(), recorded_count = recorded.size();
  return record(
      "checkpoint", output, recorded,
      [function = std::move(function), saved_inputs, input_wants_grad, state, generator_offset, input_count,
       recorded_count](const Tensor& grad_output) {
        std::vector<Tensor> leaves;
        for (size_t i = 0; i < input_count; ++i) {
          Tensor leaf = saved_inputs[i].defined() ? saved_inputs[i].detach() : Tensor();
          if (input_wants_grad[i]) leaf.requires_grad_(true);
          leaves.push_back(leaf);
        }
        std::vector<Tensor> state_before;
        for (const Tensor& t : state) state_before.push_back(t.defined() ? t.clone() : Tensor());
        Generator& generator = default_generator();
        const uint64_t offset_now = generator.offset();
        generator.set_offset(generator_offset);
        Tensor recomputed;
        {
          EnableGrad enable_grad;
          Recomputation recomputation;
          recomputed = function(leaves);
        }
        generator.set_offset(offset_now);
        for (size_t i = 0; i < state.size(); ++i)
          if (state[i].defined()) Tensor(state[i]).copy_(state_before[i]);

        std::vector<Tensor> grads(recorded_count);
        if (!recomputed.requires_grad()) return grads;  // nothing inside depends on a gradient-wanting leaf
        run_backward({recomputed}, {grad_output}, false);
        for (size_t i = 0; i < input_count; ++i)
          if (input_wants_grad[i]) grads[i] = leaves[i].grad();
        return grads;  // the parameters' gradients were delivered to their .grad by the inner backward
      },
      saved_inputs);
}

}  // namespace vireo::nn
