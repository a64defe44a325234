// GradientReducer: the gradient all-reduce of data-parallel training, in buckets.
//
// After each rank's backward (of its loss weighted by n_r/N, see collectives.h), every trainable
// parameter's gradient becomes its sum over the ranks: g = Σ_r g_r, the gradient of the global batch's loss.
// One message per parameter would pay the latency of a collective hundreds of times a step; one message
// for the whole model would wait for the whole backward. So parameters are grouped, in reverse
// registration order (roughly the order backward finishes them), into buckets of about `bucket_bytes`;
// each bucket is packed into one flat buffer and its nonblocking all-reduce started at once, so that the
// reduction of bucket k travels while bucket k+1 is packed, and all are unpacked after the last wait.
// (Overlapping with backward itself, as PyTorch's DDP does, needs a "gradient ready" hook on leaves; the
// buckets are laid out so that such a hook can start each one as soon as its last gradient arrives.)
//
// A parameter that got no gradient on any rank (a frozen layer) keeps none, exactly as in one process:
// each bucket carries one extra element per parameter, 1 where this rank has a gradient, summed with the
// rest.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"
#include "training/dist/communicator.h"

namespace vireo::training::dist {

class GradientReducer {
 public:
  // `parameters`: the trainable parameters, the same list on every rank (f32 or f64, all on the CPU or all on
  // this rank's GPU: then the buckets are packed and reduced on the GPU, see device_communicator.h).
  GradientReducer(std::vector<Tensor> parameters, Communicator& communicator, int64_t bucket_bytes = 4 << 20);

  // Replaces every parameter's gradient by its sum over the ranks.
  void reduce();

  int64_t bucket_count() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    std::vector<Tensor> parameters;
    DType dtype = DType::f32;
  };
  Communicator& communicator_;
  std::vector<Bucket> buckets_;
};

}  // namespace vireo::training::dist
