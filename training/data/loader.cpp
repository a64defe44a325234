// DataLoader: batch building, the worker threads with their bounded reorder buffer, seeking.
#include "training/data/loader.h"

#include <algorithm>

namespace vireo::data {

Batch to_device(const Batch& batch, Device device) {
  Batch out = batch;
  for (Tensor& view : out.views) view = view.to(device);
  if (out.labels.defined()) out.labels = out.labels.to(device);
  return out;
}

Tensor Batch::parameter(int64_t view, std::string_view transform, std::string_view key) const {
  VIREO_CHECK(view >= 0 && view < static_cast<int64_t>(drawn.size()), "Batch::parameter: view ", view,
              " is out of range for ", drawn.size(), " views");
  Tensor values = Tensor::empty({size()});
  float* out = values.data<float>();
  for (int64_t i = 0; i < size(); ++i)
    out[i] = static_cast<float>(drawn[static_cast<size_t>(view)][static_cast<size_t>(i)].get(transform, key));
  return values;
}

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, std::vector<Pipeline> views, LoaderOptions options)
    : dataset_(std::move(dataset)), views_(std::move(views)), options_(options) {
  VIREO_CHECK(dataset_ != nullptr, "DataLoader: no dataset");
  VIREO_CHECK(!views_.empty(), "DataLoader: no views (give one pipeline per view; an empty Pipeline for none)");
  VIREO_CHECK(options_.batch_size > 0, "DataLoader: batch_size ", options_.batch_size, " must be positive");
  VIREO_CHECK(options_.workers >= 0, "DataLoader: workers ", options_.workers, " is negative");
  VIREO_CHECK(options_.prefetch >= 0, "DataLoader: prefetch ", options_.prefetch, " is negative");
  const int64_t n = dataset_->size();
  VIREO_CHECK(n > 0, "DataLoader: the dataset is empty");
  VIREO_CHECK(n <= 0xFFFFFFFFll, "DataLoader: ", n, " examples: random streams number examples in 32 bits");
  batches_per_epoch_ = options_.drop_last ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  VIREO_CHECK(batches_per_epoch_ > 0, "DataLoader: ", n, " examples make no full batch of ", options_.batch_size,
              " (drop_last is set)");
  VIREO_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards, "DataLoader: shard ",
              options_.shard, " of ", options_.shards, " does not exist");
  const int64_t smallest_batch = std::min(options_.batch_size, n - (batches_per_epoch_ - 1) * options_.batch_size);
  VIREO_CHECK(smallest_batch >= options_.shards, "DataLoader: the last batch of ", smallest_batch,
              " examples leaves some of the ", options_.shards, " shards empty");
  prefetch_ = options_.prefetch > 0 ? options_.prefetch : 2 * options_.workers;
}

DataLoader::~DataLoader() { stop_workers(); }

std::shared_ptr<const std::vector<int64_t>> DataLoader::order_for(int64_t epoch) const {
  std::lock_guard lock(orders_mutex_);
  auto it = orders_.find(epoch);
  if (it != orders_.end()) return it->second;
  auto order = std::make_shared<const std::vector<int64_t>>(
      shuffled_order(dataset_->size(), options_.seed, static_cast<uint64_t>(epoch)));
  orders_[epoch] = order;
  constexpr size_t kEpochsKept = 3;
  if (orders_.size() > kEpochsKept) orders_.erase(orders_.begin());
  return order;
}

std::optional<Batch> DataLoader::build(int64_t epoch, int64_t batch, const std::atomic<bool>* cancel) const {
  VIREO_CHECK(epoch >= 0 && epoch <= 0xFFFFFFFFll, "DataLoader: epoch ", epoch, " is outside [0, 2^32)");
  VIREO_CHECK(batch >= 0 && batch < batches_per_epoch_, "DataLoader: batch ", batch, " is out of range for ",
              batches_per_epoch_, " batches per epoch");
  const int64_t n = dataset_->size(), global_first = batch * options_.batch_size;
  const int64_t global_count = std::min(options_.batch_size, n - global_first);
  // This shard's slice of the batch: shard s starts after s·⌊G/S⌋ + min(s, G mod S) examples.
  const int64_t share = global_count / options_.shards, longer = global_count % options_.shards;
  const int64_t first = global_first + options_.shard * share + std::min(options_.shard, longer);
  const int64_t count = share + (options_.shard < longer ? 1 : 0);
  const auto order = options_.shuffle ? order_for(epoch) : nullptr;
  const size_t view_count = views_.size();

  Batch out;
  out.epoch = epoch;
  out.index = batch;
  out.global_size = global_count;
  out.views.resize(view_count);
  out.labels = Tensor::empty({count}, {.dtype = DType::i64});
  out.indices.resize(static_cast<size_t>(count));
  out.drawn.assign(view_count, std::vector<DrawnParameters>(static_cast<size_t>(count)));
  std::vector<Image> shapes(view_count);  // the first example's view sizes (pixels left empty)
  int64_t* labels = out.labels.data<int64_t>();

  for (int64_t i = 0; i < count; ++i) {
    if (cancel && cancel->load(std::memory_order_relaxed)) return std::nullopt;
    const int64_t index = order ? (*order)[static_cast<size_t>(first + i)] : first + i;
    Example example = dataset_->get(index);
    VIREO_CHECK(example.label >= 0 && example.label < dataset_->num_classes(), "DataLoader: example ", index,
                " has label ", example.label, ", outside [0, ", dataset_->num_classes(), ")");
    out.indices[static_cast<size_t>(i)] = index;
    labels[i] = example.label;
    for (size_t v = 0; v < view_count; ++v) {
      // The last view may take the decoded image itself; earlier ones work on copies.
      Image image = v + 1 == view_count ? std::move(example.image) : example.image;
      RandomStream random(options_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index), v);
      views_[v].apply(image, random, out.drawn[v][static_cast<size_t>(i)]);
      Image& shape = shapes[v];
      if (i == 0) {
        shape.height = image.height, shape.width = image.width, shape.channels = image.channels;
        out.views[v] = Tensor::empty({count, image.channels, image.height, image.width});
      } else if (image.height != shape.height || image.width != shape.width || image.channels != shape.channels) {
        fail("DataLoader: view ", v, " of example ", index, " is ", describe(image), " (HxWxC) but the batch's first example gave ",
             describe(shape), ": each view's pipeline must end in one size (add a crop or a resize)");
      }
      write_chw(image, out.views[v].data<float>() + i * image.numel());
    }
  }
  return out;
}

Batch DataLoader::load(int64_t epoch, int64_t batch) const { return *build(epoch, batch, nullptr); }

LoaderPosition DataLoader::position_of(int64_t sequence) const {
  const int64_t total = start_.batch + sequence;
  return {start_.epoch + total / batches_per_epoch_, total % batches_per_epoch_};
}

LoaderPosition DataLoader::position() const {
  std::lock_guard lock(mutex_);
  return position_of(consumed_);
}

void DataLoader::seek(LoaderPosition position) {
  VIREO_CHECK(position.epoch >= 0 && position.batch >= 0 && position.batch <= batches_per_epoch_,
              "DataLoader::seek: epoch ", position.epoch, " batch ", position.batch, " (batches per epoch: ",
              batches_per_epoch_, ")");
  stop_workers();
  std::lock_guard lock(mutex_);
  start_ = position.batch == batches_per_epoch_ ? LoaderPosition{position.epoch + 1, 0} : position;
}

Batch DataLoader::next() {
  if (options_.workers == 0) {
    const LoaderPosition at = position();
    Batch batch = load(at.epoch, at.batch);
    std::lock_guard lock(mutex_);
    ++consumed_;
    return batch;
  }
  if (threads_.empty()) start_workers();
  std::unique_lock lock(mutex_);
  batch_ready_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
  auto slot = ready_.find(consumed_);
  if (slot->second.error) std::rethrow_exception(slot->second.error);  // kept: the next call fails alike
  Batch batch = std::move(*slot->second.batch);
  ready_.erase(slot);
  ++consumed_;
  lock.unlock();
  work_available_.notify_all();
  return batch;
}

void DataLoader::start_workers() {
  for (int64_t w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
}

void DataLoader::stop_workers() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    cancel_ = true;
  }
  work_available_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  std::lock_guard lock(mutex_);
  // Renumber from the current position, dropping what was built ahead.
  start_ = position_of(consumed_);
  claimed_ = consumed_ = 0;
  ready_.clear();
  stopping_ = false;
  cancel_ = false;
}

void DataLoader::worker_loop() {
  for (;;) {
    int64_t sequence;
    LoaderPosition at;
    {
      std::unique_lock lock(mutex_);
      work_available_.wait(lock, [&] { return stopping_ || claimed_ < consumed_ + prefetch_; });
      if (stopping_) return;
      sequence = claimed_++;
      at = position_of(sequence);
    }
    Slot slot;
    try {
      slot.batch = build(at.epoch, at.batch, &cancel_);
      if (!slot.batch) return;  // cancelled
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard lock(mutex_);
      ready_.emplace(sequence, std::move(slot));
    }
    batch_ready_.notify_all();
  }
}

DataLoader::EpochRange::Iterator::Iterator(DataLoader* loader, int64_t epoch) : loader_(loader), epoch_(epoch) {
  ++*this;
}

DataLoader::EpochRange::Iterator& DataLoader::EpochRange::Iterator::operator++() {
  batch_.reset();
  if (loader_->position().epoch == epoch_) batch_ = loader_->next();
  return *this;
}

DataLoader::EpochRange::Iterator DataLoader::EpochRange::begin() {
  if (loader_->position().epoch != epoch_) loader_->seek({epoch_, 0});
  return Iterator(loader_, epoch_);
}

}  // namespace vireo::data
