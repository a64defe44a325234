// The single-process communicator and world(), the choice of backend (communicator.h).
#include "training/dist/communicator.h"

#include <cstdlib>
#include <cstring>

#include "training/dist/mpi_communicator.h"

namespace vireo::training::dist {
namespace {

class CompletedReduction final : public PendingReduction {
 public:
  void wait() override {}
};

}  // namespace

std::unique_ptr<PendingReduction> SingleProcessCommunicator::start_all_reduce_sum(void*, int64_t, DType) {
  return std::make_unique<CompletedReduction>();
}

void SingleProcessCommunicator::all_gather(const void* sent, void* received, int64_t bytes_per_rank) {
  if (sent != received) std::memmove(received, sent, static_cast<size_t>(bytes_per_rank));
}

void SingleProcessCommunicator::abort(int code) { std::exit(code); }

bool launched_by_mpirun() { return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr; }

Communicator& world() {
  static const std::unique_ptr<Communicator> communicator =
      launched_by_mpirun() ? make_mpi_communicator() : std::unique_ptr<Communicator>(new SingleProcessCommunicator);
  return *communicator;
}

}  // namespace vireo::training::dist
