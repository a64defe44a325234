// The choice between NCCL and host memory for CUDA tensors (device_communicator.h).
#include "training/dist/device_communicator.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "engine/cuda/runtime.h"
#include "engine/error.h"
#ifdef VIREO_NCCL
#include "training/dist/nccl_communicator.h"
#endif

namespace vireo::training::dist {
namespace {

// A non-negative integer from OpenMPI's environment, or `fallback` when it is not set.
int environment_count(const char* name, int fallback) {
  const char* text = std::getenv(name);
  if (!text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  VIREO_CHECK(end != text && *end == '\0' && value >= 0, name, ": expected a non-negative integer, got '", text, "'");
  return static_cast<int>(value);
}

}  // namespace

bool built_with_nccl() {
#ifdef VIREO_NCCL
  return true;
#else
  return false;
#endif
}

int local_rank() { return environment_count("OMPI_COMM_WORLD_LOCAL_RANK", 0); }
int local_size() { return environment_count("OMPI_COMM_WORLD_LOCAL_SIZE", 1); }

int rank_gpu(int gpus) {
  VIREO_CHECK(gpus > 0, "rank_gpu: no GPU to place rank ", local_rank(), " on");
  return local_rank() % gpus;
}

DeviceCommunicator* device_communicator(Communicator& host) {
  if (&host != &world() || host.size() == 1) return nullptr;
  // Decided once, by every rank together: NCCL only when every rank can use it.
  static const std::unique_ptr<DeviceCommunicator> communicator = [&host]() -> std::unique_ptr<DeviceCommunicator> {
    const int gpus = static_cast<int>(cuda::cuda_devices().size());
    int64_t able = built_with_nccl() && gpus > 0 && local_size() <= gpus ? 1 : 0;
    host.all_reduce_sum(&able, 1, DType::i64);
    if (able != host.size()) return nullptr;
#ifdef VIREO_NCCL
    return make_nccl_communicator(host);
#else
    return nullptr;
#endif
  }();
  return communicator.get();
}

}  // namespace vireo::training::dist
