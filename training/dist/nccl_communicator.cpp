// NCCL collectives on this rank's GPU (nccl_communicator.h). Each call is queued on the engine's CUDA stream
// (cuda::stream()), so it runs after the kernels that produced its input and before those that read its
// output, and the host does not wait for it.
#include "training/dist/nccl_communicator.h"

#include <nccl.h>

#include "engine/cuda/common.h"
#include "engine/error.h"

namespace vireo::training::dist {
namespace {

void check_nccl(ncclResult_t result, const char* call) {
  if (result != ncclSuccess) fail("NCCL: ", call, " failed: ", ncclGetErrorString(result));
}

size_t byte_size(const Tensor& x) { return static_cast<size_t>(x.numel()) * element_size(x.dtype()); }

void check_operand(const Tensor& x, const char* op) {
  VIREO_CHECK(x.defined() && x.device().is_cuda() && x.is_contiguous(), "NCCL ", op,
              ": expects a contiguous CUDA tensor, got ", describe(x));
}

class NcclCommunicator final : public DeviceCommunicator {
 public:
  explicit NcclCommunicator(Communicator& host) {
    ncclUniqueId id{};
    if (host.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host.broadcast(&id, sizeof id, 0);
    check_nccl(ncclCommInitRank(&comm_, host.size(), id, host.rank()), "ncclCommInitRank");
  }
  // Not destroyed: the communicator lives as long as the process (like the CUDA allocator), and at exit the
  // driver may already be gone.

  void all_reduce_sum(const Tensor& values) override {
    check_operand(values, "all_reduce_sum");
    VIREO_CHECK(values.dtype() == DType::f32 || values.dtype() == DType::f64,
                "NCCL all_reduce_sum: takes f32 or f64 values, got ", values.dtype());
    const ncclDataType_t type = values.dtype() == DType::f32 ? ncclFloat32 : ncclFloat64;
    check_nccl(ncclAllReduce(values.raw_data(), values.raw_data(), static_cast<size_t>(values.numel()), type, ncclSum,
                             comm_, cuda::stream()),
               "ncclAllReduce");
  }
  void broadcast(const Tensor& values, int root) override {
    check_operand(values, "broadcast");
    check_nccl(ncclBroadcast(values.raw_data(), values.raw_data(), byte_size(values), ncclUint8, root, comm_,
                             cuda::stream()),
               "ncclBroadcast");
  }
  void all_gather(const Tensor& sent, const Tensor& received) override {
    check_operand(sent, "all_gather");
    check_operand(received, "all_gather");
    check_nccl(ncclAllGather(sent.raw_data(), received.raw_data(), byte_size(sent), ncclUint8, comm_, cuda::stream()),
               "ncclAllGather");
  }

 private:
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<DeviceCommunicator> make_nccl_communicator(Communicator& host) {
  return std::make_unique<NcclCommunicator>(host);
}

}  // namespace vireo::training::dist
