// Collectives on GPU memory, for data-parallel training with one GPU per rank (NCCL).
//
// The trainer and the collectives (collectives.h) move a CUDA tensor between ranks in one of two ways:
//   NCCL    when this build has it (nccl.h and libnccl under /usr/local/cuda at configure time) and every
//           node has a GPU for each of its ranks: ncclAllReduce / ncclBroadcast / ncclAllGather on the
//           tensors themselves, queued on the engine's CUDA stream in order with the kernels around them;
//   host    otherwise (ranks sharing a GPU, or no NCCL): copied to host memory, sent over the host
//           communicator (MPI), copied back.
// Every rank takes the same way: the choice is agreed over the host communicator when it is first made.
//
// Which GPU: with several ranks, `run.device: cuda` means cuda:(L mod G) for the rank's local rank L on its
// node (OpenMPI's OMPI_COMM_WORLD_LOCAL_RANK) and the node's G visible GPUs.
#pragma once

#include "engine/tensor.h"
#include "training/dist/communicator.h"

namespace vireo::training::dist {

class DeviceCommunicator {
 public:
  virtual ~DeviceCommunicator() = default;
  // In place: `values` (contiguous f32 or f64 on this rank's GPU) becomes the elementwise sum over the ranks.
  virtual void all_reduce_sum(const Tensor& values) = 0;
  // In place: every rank's `values` (contiguous, any dtype) becomes rank `root`'s.
  virtual void broadcast(const Tensor& values, int root) = 0;
  // `received` (contiguous, size() times the bytes of `sent`) becomes the ranks' `sent` tensors in rank order.
  virtual void all_gather(const Tensor& sent, const Tensor& received) = 0;
};

// True when this build has the NCCL backend.
bool built_with_nccl();

// This process's rank on its node and the number of ranks there (0 and 1 without mpirun).
int local_rank();
int local_size();

// The GPU index of this rank: local_rank() mod `gpus` (gpus > 0).
int rank_gpu(int gpus);

// The job's NCCL communicator over `host`, or null when CUDA tensors go through host memory instead (see
// above). Only world() gets one; it is created on first use by every rank together (a collective).
DeviceCommunicator* device_communicator(Communicator& host);

}  // namespace vireo::training::dist
