// Communicator: the collective operations data-parallel training needs, over the processes ("ranks") of
// one job. The trainer (training/trainer.cpp) talks only to this interface; a backend implements it:
//
//   single process   world size 1, every collective the identity       (communicator.cpp)
//   MPI              OpenMPI ranks launched by mpirun                   (mpi_communicator.cpp)
// The buffers are host memory. GPU tensors travel over NCCL (device_communicator.h, bootstrapped over this
// interface's broadcast()) or through host memory over this one; collectives.h chooses per tensor.
//
// Every collective must be called by every rank, in the same order, with the same counts. A collective
// that waits longer than the timeout for the other ranks (one died, or hangs) ends the whole job with a
// message naming the waiting rank and the collective — never a silent hang.
//
// The process's communicator is world(): MPI when the process was started by mpirun (OpenMPI sets
// OMPI_COMM_WORLD_SIZE in each rank's environment), else the single-process one — so `vireo train` runs
// as a plain program without mpirun, exactly as before.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/dtype.h"

namespace vireo::training::dist {

// A nonblocking all-reduce in flight (start_all_reduce_sum): wait() returns when the sum has arrived.
class PendingReduction {
 public:
  virtual ~PendingReduction() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string backend() const = 0;  // "single", "mpi"

  // In place: `values` (count elements of `dtype`: f32, f64 or i64) becomes their elementwise sum over
  // the ranks.
  virtual void all_reduce_sum(void* values, int64_t count, DType dtype) = 0;
  // The same, started now and finished by the returned handle's wait(): a backend that progresses in the
  // background overlaps it with the caller's work (the gradient buckets of a backward pass).
  virtual std::unique_ptr<PendingReduction> start_all_reduce_sum(void* values, int64_t count, DType dtype) = 0;
  // In place: every rank's `bytes` becomes rank `root`'s.
  virtual void broadcast(void* bytes, int64_t size, int root) = 0;
  // `received` (size() × bytes_per_rank) becomes the ranks' `sent` buffers in rank order.
  virtual void all_gather(const void* sent, void* received, int64_t bytes_per_rank) = 0;
  // Wall seconds this rank has spent inside collectives so far: moving data and waiting for slower ranks.
  virtual double collective_seconds() const { return 0.0; }
  // Ends every rank of the job at once (after a rank's error), with exit code `code`.
  [[noreturn]] virtual void abort(int code) = 0;
};

// World size 1: every collective leaves its buffers as they are (a sum over one rank).
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "single"; }
  void all_reduce_sum(void*, int64_t, DType) override {}
  std::unique_ptr<PendingReduction> start_all_reduce_sum(void* values, int64_t count, DType dtype) override;
  void broadcast(void*, int64_t, int) override {}
  void all_gather(const void* sent, void* received, int64_t bytes_per_rank) override;
  [[noreturn]] void abort(int code) override;
};

// The process's communicator, created on first use (MPI_Init when launched by mpirun) and finalized at
// exit.
Communicator& world();

// True when this process was started by mpirun (OMPI_COMM_WORLD_SIZE is set), without initializing MPI.
bool launched_by_mpirun();

}  // namespace vireo::training::dist
