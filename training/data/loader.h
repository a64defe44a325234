// DataLoader: batches of V augmented views per example, built ahead of time by worker threads.
//
// Determinism: batch b of epoch e is a pure function of (seed, e, b) — the epoch's order is
// shuffled_order(n, seed, e), and view v of example i is drawn from RandomStream(seed, e, i, v) — so the
// batches are bit-identical for any number of workers, and a run resumed with seek({e, b}) sees exactly
// the batches an uninterrupted run would have seen from there.
//
//   DataLoader loader(fashion_mnist(Split::train), {view, view}, {.batch_size = 256, .workers = 2});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch)
//     for (Batch& batch : loader.epoch(epoch)) {
//       Tensor x1 = batch.views[0], x2 = batch.views[1];  // [B, C, H, W] f32
//       Tensor turns = batch.parameter(1, "random_quarter_turn", "quarter_turns");  // [B] f32
//       …
//     }
//
// Workers each build whole batches: examples decoded, every view's pipeline applied, and the results
// written straight into one contiguous [B, C, H, W] tensor per view. At most `prefetch` batches wait
// ahead of the consumer. An Error thrown while building a batch (a corrupt image, say) is rethrown by
// next() with its original message when the consumer reaches that batch. Destroying the loader mid-epoch
// stops the workers after the example they are on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/tensor.h"
#include "training/data/dataset.h"
#include "training/data/transforms.h"

namespace vireo::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool drop_last = false;  // leave out the last, smaller batch of each epoch
  int64_t workers = 2;     // threads building batches; 0 builds each batch in next(), in the calling thread
  int64_t prefetch = 0;    // batches built ahead of the consumer; 0 means two per worker
  uint64_t seed = 0;       // of the shuffle and of every augmentation
  // Data-parallel sharding (training/dist): batch_size is then the global batch, and this loader builds
  // only shard `shard` of `shards` of each — a contiguous slice, the first (size mod shards) slices one
  // example longer. The shards of one batch are disjoint and together the unsharded batch, with the same
  // augmentations (they are drawn per example), so any number of shards sees the same epoch.
  int64_t shard = 0, shards = 1;
};

struct Batch {
  int64_t epoch = 0, index = 0;  // where this batch sits: batch `index` of epoch `epoch`
  std::vector<Tensor> views;     // one [B, C, H, W] f32 tensor per view
  Tensor labels;                 // [B] i64
  std::vector<int64_t> indices;  // the dataset index of each example
  std::vector<std::vector<DrawnParameters>> drawn;  // drawn[view][example]: what that view's pipeline drew
  int64_t global_size = 0;       // the examples of the whole batch over every shard (size() unsharded)

  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  // The parameter `transform`.`key` drawn for every example of `view`, as a [B] f32 tensor.
  Tensor parameter(int64_t view, std::string_view transform, std::string_view key) const;
};

// The batch with its views and labels on `device` (the same batch when it is already there): the trainer
// sends each batch the loader built on the host to the model's GPU.
Batch to_device(const Batch& batch, Device device);

struct LoaderPosition {
  int64_t epoch = 0, batch = 0;
  friend bool operator==(const LoaderPosition&, const LoaderPosition&) = default;
};

class DataLoader {
 public:
  // One pipeline per view (an empty Pipeline gives the image as stored). Each view's pipeline must give
  // every example the same size, so that a batch stacks.
  DataLoader(std::shared_ptr<const Dataset> dataset, std::vector<Pipeline> views, LoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t num_views() const { return static_cast<int64_t>(views_.size()); }
  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return options_; }

  // The batch next() returns.
  LoaderPosition position() const;
  // Moves to batch `position.batch` of epoch `position.epoch` (a batch index equal to batches_per_epoch()
  // means the start of the next epoch); batches already built ahead are dropped.
  void seek(LoaderPosition position);
  // The batch at position(), after which the position moves on — into the next epoch after its last
  // batch. Rethrows the Error of a batch that failed to build (again on every call, until a seek).
  Batch next();
  // Builds batch `batch` of epoch `epoch` in the calling thread, bypassing the workers: the same batch
  // next() gives at that position.
  Batch load(int64_t epoch, int64_t batch) const;

  // The batches of one epoch from the current position (or from its start when the loader stands in
  // another epoch): for (Batch& batch : loader.epoch(e)) { … }.
  class EpochRange {
   public:
    struct End {};
    class Iterator {
     public:
      Batch& operator*() { return *batch_; }
      Batch* operator->() { return &*batch_; }
      Iterator& operator++();
      bool operator!=(End) const { return batch_.has_value(); }

     private:
      friend class EpochRange;
      Iterator(DataLoader* loader, int64_t epoch);
      DataLoader* loader_;
      int64_t epoch_;
      std::optional<Batch> batch_;
    };
    Iterator begin();
    End end() const { return {}; }

   private:
    friend class DataLoader;
    EpochRange(DataLoader* loader, int64_t epoch) : loader_(loader), epoch_(epoch) {}
    DataLoader* loader_;
    int64_t epoch_;
  };
  EpochRange epoch(int64_t epoch) { return EpochRange(this, epoch); }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  // Builds a batch; gives up (nullopt) when `cancel` becomes true between examples.
  std::optional<Batch> build(int64_t epoch, int64_t batch, const std::atomic<bool>* cancel) const;
  std::shared_ptr<const std::vector<int64_t>> order_for(int64_t epoch) const;
  LoaderPosition position_of(int64_t sequence) const;  // the sequence-th batch after the last seek
  void start_workers();
  void stop_workers();
  void worker_loop();

  std::shared_ptr<const Dataset> dataset_;
  std::vector<Pipeline> views_;
  LoaderOptions options_;
  int64_t batches_per_epoch_ = 0;
  int64_t prefetch_ = 0;

  // Consumer and workers, under mutex_: batches are numbered 0, 1, … from the last seek (`start_`).
  mutable std::mutex mutex_;
  std::condition_variable work_available_, batch_ready_;
  LoaderPosition start_;
  int64_t claimed_ = 0;   // batches handed to workers
  int64_t consumed_ = 0;  // batches handed to the consumer
  std::map<int64_t, Slot> ready_;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::vector<std::thread> threads_;

  // Shuffled orders of the few most recent epochs (workers can straddle an epoch boundary).
  mutable std::mutex orders_mutex_;
  mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> orders_;
};

}  // namespace vireo::data
