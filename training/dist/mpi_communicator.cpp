// The MPI backend (mpi_communicator.h): nonblocking MPI collectives, each waited for with a deadline.
#include "training/dist/mpi_communicator.h"

#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "engine/error.h"

namespace vireo::training::dist {
namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    default: fail("mpi: all_reduce_sum takes f32, f64 or i64 values, got ", dtype);
  }
}

// The collective timeout in seconds: VIREO_COLLECTIVE_TIMEOUT, else 300.
double collective_timeout_seconds() {
  const char* text = std::getenv("VIREO_COLLECTIVE_TIMEOUT");
  if (!text) return 300.0;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (end == text || *end != '\0' || !(seconds > 0.0))
    fail("VIREO_COLLECTIVE_TIMEOUT: expected a positive number of seconds, got '", text, "'");
  return seconds;
}

int checked_count(int64_t count, const char* collective) {
  VIREO_CHECK(count >= 0 && count <= 0x7fffffff, "mpi: ", collective, " of ", count,
              " elements exceeds MPI's int count");
  return static_cast<int>(count);
}


// Waits for `request`, polling; past the deadline the job is ended (the other ranks are not coming).
void wait_with_deadline(MPI_Request& request, const char* collective, int rank, double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  int done = 0;
  for (int64_t polls = 0;; ++polls) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (polls % 1024 == 1023 && std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "vireo: rank %d: %s waited %.0f s for the other ranks (did one die?); ending the job\n",
                   rank, collective, timeout_seconds);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    std::this_thread::yield();
  }
}

class MpiReduction final : public PendingReduction {
 public:
  MpiReduction(MPI_Request request, int rank, double timeout) : request_(request), rank_(rank), timeout_(timeout) {}
  void wait() override { wait_with_deadline(request_, "all_reduce_sum", rank_, timeout_); }

 private:
  MPI_Request request_;
  int rank_;
  double timeout_;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    timeout_ = collective_timeout_seconds();
  }
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }

  void all_reduce_sum(void* values, int64_t count, DType dtype) override {
    start_all_reduce_sum(values, count, dtype)->wait();
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum(void* values, int64_t count, DType dtype) override {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, checked_count(count, "all_reduce_sum"), mpi_type(dtype), MPI_SUM,
                   MPI_COMM_WORLD, &request);
    return std::make_unique<MpiReduction>(request, rank_, timeout_);
  }
  void broadcast(void* bytes, int64_t size, int root) override {
    MPI_Request request;
    MPI_Ibcast(bytes, checked_count(size, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD, &request);
    wait_with_deadline(request, "broadcast", rank_, timeout_);
  }
  void all_gather(const void* sent, void* received, int64_t bytes_per_rank) override {
    MPI_Request request;
    const int count = checked_count(bytes_per_rank, "all_gather");
    MPI_Iallgather(sent, count, MPI_BYTE, received, count, MPI_BYTE, MPI_COMM_WORLD, &request);
    wait_with_deadline(request, "all_gather", rank_, timeout_);
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this tells the compiler so
  }

 private:
  int rank_ = 0, size_ = 1;
  double timeout_ = 300.0;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace vireo::training::dist
