// SyncBatchNorm (sync_batch_norm.h): the replica sum of every BatchNorm layer is the all-reduce.
#include "training/dist/sync_batch_norm.h"

#include "engine/nn/normalization.h"
#include "training/dist/collectives.h"

namespace vireo::training::dist {

int64_t synchronize_batch_norm(nn::Module& model, Communicator& communicator) {
  if (communicator.size() == 1) return 0;
  int64_t layers = 0;
  for (const auto& module : model.modules())
    if (auto* batch_norm = dynamic_cast<nn::BatchNorm*>(module.get())) {
      batch_norm->set_replica_sum([&communicator](const Tensor& x) { return all_reduce_sum(x, communicator); });
      ++layers;
    }
  return layers;
}

}  // namespace vireo::training::dist
