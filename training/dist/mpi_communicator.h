// The MPI backend of the Communicator (communicator.h): OpenMPI ranks started by
//   mpirun -np N build/bin/vireo train RECIPE …
// Each collective is MPI's own (MPI_Allreduce, MPI_Bcast, MPI_Allgather; MPI_Iallreduce for the gradient
// buckets), watched by a thread: when one waits longer than the collective timeout for the other ranks
// (VIREO_COLLECTIVE_TIMEOUT seconds in the environment, 300 by default) — a rank hangs, or stopped — the
// waiting rank prints
//   vireo: rank 0: all_reduce_sum waited 300 s for the other ranks (did one die?); ending the job
// and exits, and mpirun ends the others. A rank that dies outright is noticed sooner by mpirun itself,
// which ends the job naming the rank ("mpirun noticed that process rank 1 … exited on signal 9").
#pragma once

#include <memory>

#include "training/dist/communicator.h"

namespace vireo::training::dist {

// Initializes MPI (MPI_Init_thread, funneled) and returns the MPI_COMM_WORLD communicator; finalizes MPI
// when destroyed.
std::unique_ptr<Communicator> make_mpi_communicator();

}  // namespace vireo::training::dist
