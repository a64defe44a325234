// The MPI backend (mpi_communicator.h): nonblocking MPI collectives, each waited for with a deadline.
#include "training/dist/mpi_communicator.h"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
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


// Ends the process when a collective has waited longer than the timeout: a thread that wakes a few
// times a second and looks at when the collective in progress (if any) began. MPI's own blocking
// collectives do the waiting (they are its fastest); the watchdog only keeps a missing rank from turning
// into a hang. It exits the process, which mpirun sees as a rank failing, and so ends every other rank.
class CollectiveWatchdog {
 public:
  CollectiveWatchdog(int rank, double timeout_seconds)
      : rank_(rank), timeout_seconds_(timeout_seconds), thread_([this] { watch(); }) {}
  ~CollectiveWatchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    woken_.notify_one();
    thread_.join();
  }
  void begin(const char* collective) {
    collective_.store(collective);
    started_.store(now_nanoseconds());
  }
  void end() {
    const int64_t started = started_.exchange(0);
    collective_nanoseconds_ += now_nanoseconds() - started;
  }
  double collective_seconds() const { return static_cast<double>(collective_nanoseconds_) * 1e-9; }

 private:
  static int64_t now_nanoseconds() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void watch() {
    const auto period = std::chrono::duration<double>(std::min(0.1, timeout_seconds_ / 4.0));
    std::unique_lock<std::mutex> lock(mutex_);
    while (!woken_.wait_for(lock, period, [this] { return stopping_; })) {
      const int64_t started = started_.load();
      if (started == 0 || static_cast<double>(now_nanoseconds() - started) * 1e-9 < timeout_seconds_) continue;
      std::fprintf(stderr, "vireo: rank %d: %s waited %g s for the other ranks (did one die?); ending the job\n",
                   rank_, collective_.load(), timeout_seconds_);
      std::fflush(stderr);
      std::_Exit(1);
    }
  }

  const int rank_;
  const double timeout_seconds_;
  std::atomic<const char*> collective_{""};
  std::atomic<int64_t> started_{0};  // steady-clock nanoseconds; 0 when no collective is in progress
  int64_t collective_nanoseconds_ = 0;  // the total of the finished collectives (read by the caller's thread)
  std::mutex mutex_;
  std::condition_variable woken_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

// A collective in progress, for the watchdog's eyes.
class Watched {
 public:
  Watched(CollectiveWatchdog& watchdog, const char* collective) : watchdog_(watchdog) { watchdog_.begin(collective); }
  ~Watched() { watchdog_.end(); }

 private:
  CollectiveWatchdog& watchdog_;
};

class MpiReduction final : public PendingReduction {
 public:
  MpiReduction(MPI_Request request, CollectiveWatchdog& watchdog) : request_(request), watchdog_(watchdog) {}
  void wait() override {
    Watched watched(watchdog_, "all_reduce_sum");
    MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }

 private:
  MPI_Request request_;
  CollectiveWatchdog& watchdog_;
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
    watchdog_ = std::make_unique<CollectiveWatchdog>(rank_, collective_timeout_seconds());
  }
  ~MpiCommunicator() override {
    watchdog_.reset();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return "mpi"; }
  double collective_seconds() const override { return watchdog_->collective_seconds(); }

  void all_reduce_sum(void* values, int64_t count, DType dtype) override {
    Watched watched(*watchdog_, "all_reduce_sum");
    MPI_Allreduce(MPI_IN_PLACE, values, checked_count(count, "all_reduce_sum"), mpi_type(dtype), MPI_SUM,
                  MPI_COMM_WORLD);
  }
  std::unique_ptr<PendingReduction> start_all_reduce_sum(void* values, int64_t count, DType dtype) override {
    MPI_Request request;
    MPI_Iallreduce(MPI_IN_PLACE, values, checked_count(count, "all_reduce_sum"), mpi_type(dtype), MPI_SUM,
                   MPI_COMM_WORLD, &request);
    return std::make_unique<MpiReduction>(request, *watchdog_);
  }
  void broadcast(void* bytes, int64_t size, int root) override {
    Watched watched(*watchdog_, "broadcast");
    MPI_Bcast(bytes, checked_count(size, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD);
  }
  void all_gather(const void* sent, void* received, int64_t bytes_per_rank) override {
    Watched watched(*watchdog_, "all_gather");
    const int count = checked_count(bytes_per_rank, "all_gather");
    MPI_Allgather(sent, count, MPI_BYTE, received, count, MPI_BYTE, MPI_COMM_WORLD);
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // MPI_Abort does not return; this tells the compiler so
  }

 private:
  int rank_ = 0, size_ = 1;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

}  // namespace vireo::training::dist
