// The NCCL backend of DeviceCommunicator (device_communicator.h); compiled only when the build has NCCL.
#pragma once

#include <memory>

#include "training/dist/device_communicator.h"

namespace vireo::training::dist {

// An NCCL communicator of all the ranks of `host`, on this process's current GPU: rank 0 makes the unique id
// and broadcasts it over `host`, then every rank joins (ncclCommInitRank). Every rank must call it together.
std::unique_ptr<DeviceCommunicator> make_nccl_communicator(Communicator& host);

}  // namespace vireo::training::dist
