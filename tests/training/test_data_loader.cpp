// DataLoader: bit-identical batches for 0, 1 and 3 workers, shuffling as a permutation per epoch,
// drop_last, resuming at (epoch, batch), errors from workers, shutdown mid-epoch, and the batch layout.
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "gradcheck.h"
#include "training/data/geometric.h"
#include "training/data/idx.h"
#include "training/data/loader.h"
#include "training/data/synthetic.h"

using namespace vireo;
using namespace vireo::data;
using vireo::testing::check_error;

namespace {

std::shared_ptr<const Dataset> synthetic(int64_t size, int64_t channels = 3) {
  return std::make_shared<const SyntheticDataset>(
      SyntheticOptions{.size = size, .num_classes = 5, .channels = channels, .height = 12, .width = 12, .seed = 1});
}

// Two views with most of the random transforms, as an SSL recipe would have.
std::vector<Pipeline> two_views() {
  Pipeline first, second;
  first.add(RandomResizedCrop({.size = {8, 8}, .scale = {0.3, 1.0}})).add(RandomHorizontalFlip());
  first.add(ColorJitter({.brightness = 0.4, .contrast = 0.4, .saturation = 0.4, .hue = 0.1, .p = 0.8}));
  second.add(RandomQuarterTurn()).add(RandomRotation({.degrees = {-20, 20}})).add(CenterCrop({.size = {8, 8}}));
  second.add(GaussianBlur({.kernel_size = 3})).add(RandomSolarize()).add(Normalize({.mean = {0.5f}, .std = {0.25f}}));
  return {first, second};
}

// Everything a batch holds, flattened, for exact comparison.
struct Flat {
  std::vector<std::vector<double>> views;
  std::vector<double> labels;
  std::vector<int64_t> indices;
  std::vector<double> drawn;
  LoaderPosition position;
  bool operator==(const Flat&) const = default;
};

Flat flatten(const Batch& batch) {
  Flat flat;
  for (const Tensor& view : batch.views) flat.views.push_back(view.to_vector());
  flat.labels = batch.labels.to_vector();
  flat.indices = batch.indices;
  for (const auto& per_view : batch.drawn)
    for (const DrawnParameters& drawn : per_view)
      for (const auto& entry : drawn.entries()) flat.drawn.push_back(entry.value);
  flat.position = {batch.epoch, batch.index};
  return flat;
}

std::vector<Flat> run_epochs(DataLoader& loader, int64_t epochs) {
  std::vector<Flat> batches;
  for (int64_t epoch = 0; epoch < epochs; ++epoch)
    for (Batch& batch : loader.epoch(epoch)) batches.push_back(flatten(batch));
  return batches;
}

// A dataset whose example `bad` throws, and that can be slowed down to catch workers mid-batch.
class Faulty final : public Dataset {
 public:
  Faulty(int64_t size, int64_t bad, std::chrono::microseconds delay = {}) : size_(size), bad_(bad), delay_(delay) {}
  int64_t size() const override { return size_; }
  int64_t num_classes() const override { return 2; }
  Example get(int64_t index) const override {
    ++calls;
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    if (index == bad_) fail("Faulty: example ", index, " is unreadable");
    return {Image(2, 2, 1, static_cast<float>(index)), index % 2};
  }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t size_, bad_;
  std::chrono::microseconds delay_;
};

}  // namespace

TEST_CASE("loader batches are bit-identical for 0 1 and 3 workers") {
  const auto dataset = synthetic(45);
  std::vector<std::vector<Flat>> runs;
  for (int64_t workers : {0, 1, 3}) {
    DataLoader loader(dataset, two_views(), {.batch_size = 8, .workers = workers, .prefetch = 2, .seed = 42});
    runs.push_back(run_epochs(loader, 2));
  }
  REQUIRE(runs[0].size() == 12);  // ceil(45 / 8) = 6 batches per epoch
  CHECK(runs[1] == runs[0]);
  CHECK(runs[2] == runs[0]);
  // load() gives any batch directly, identical to what iteration gave.
  DataLoader direct(dataset, two_views(), {.batch_size = 8, .seed = 42});
  CHECK(flatten(direct.load(1, 3)) == runs[0][9]);
  // Another seed changes the batches.
  DataLoader other(dataset, two_views(), {.batch_size = 8, .seed = 43});
  CHECK(!(flatten(other.load(1, 3)) == runs[0][9]));
}

TEST_CASE("batches stack views as B C H W with labels and drawn parameters per example") {
  const auto dataset = synthetic(20);
  DataLoader loader(dataset, two_views(), {.batch_size = 6, .shuffle = false, .workers = 2, .seed = 7});
  loader.next();
  Batch batch = loader.next();
  REQUIRE(batch.views.size() == 2);
  CHECK(batch.views[0].shape() == Shape{6, 3, 8, 8});
  CHECK(batch.views[1].shape() == Shape{6, 3, 8, 8});
  CHECK(batch.views[0].dtype() == DType::f32);
  CHECK(batch.labels.dtype() == DType::i64);
  CHECK(batch.epoch == 0);
  CHECK(batch.index == 1);
  CHECK(batch.indices == std::vector<int64_t>{6, 7, 8, 9, 10, 11});
  CHECK(batch.labels.to_vector()[4] == static_cast<double>(dataset->get(10).label));
  // View 1 of example 10 (row 4 of the batch) is its pipeline applied with the stream
  // (seed, epoch, example index, view) — not the row, so batch size and order do not matter.
  RandomStream random(7, 0, 10, 1);
  DrawnParameters drawn;
  const Image expected = two_views()[1](dataset->get(10).image, random, &drawn);
  const std::vector<double> view = batch.views[1].to_vector();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x)
        REQUIRE(view[static_cast<size_t>(((4 * 3 + c) * 8 + y) * 8 + x)] == expected.at(y, x, c));
  const Tensor turns = batch.parameter(1, "random_quarter_turn", "quarter_turns");
  CHECK(turns.shape() == Shape{6});
  CHECK(turns.to_vector()[4] == drawn.get("random_quarter_turn", "quarter_turns"));
  check_error([&] { batch.parameter(2, "random_quarter_turn", "quarter_turns"); }, {"Batch::parameter", "view 2"});
  CHECK(loader.position() == LoaderPosition{0, 2});
}

TEST_CASE("shuffling visits every example once per epoch in an order that depends on seed and epoch") {
  const auto dataset = synthetic(37);
  DataLoader loader(dataset, {Pipeline()}, {.batch_size = 5, .workers = 2, .seed = 3});
  std::vector<std::vector<int64_t>> orders;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int64_t> order;
    for (Batch& batch : loader.epoch(epoch)) order.insert(order.end(), batch.indices.begin(), batch.indices.end());
    REQUIRE(order.size() == 37);
    CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 37);
    CHECK(*std::min_element(order.begin(), order.end()) == 0);
    CHECK(*std::max_element(order.begin(), order.end()) == 36);
    CHECK(order == shuffled_order(37, 3, static_cast<uint64_t>(epoch)));
    orders.push_back(order);
  }
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);
  CHECK(shuffled_order(37, 4, 0) != orders[0]);
  // Without shuffling, the dataset order.
  DataLoader in_order(dataset, {Pipeline()}, {.batch_size = 5, .shuffle = false, .workers = 1});
  std::vector<int64_t> order;
  for (Batch& batch : in_order.epoch(0)) order.insert(order.end(), batch.indices.begin(), batch.indices.end());
  for (int64_t i = 0; i < 37; ++i) CHECK(order[static_cast<size_t>(i)] == i);
}

TEST_CASE("drop_last leaves out the smaller last batch") {
  const auto dataset = synthetic(50);
  DataLoader keep(dataset, {Pipeline()}, {.batch_size = 8, .workers = 1});
  DataLoader drop(dataset, {Pipeline()}, {.batch_size = 8, .drop_last = true, .workers = 1});
  CHECK(keep.batches_per_epoch() == 7);
  CHECK(drop.batches_per_epoch() == 6);
  std::vector<int64_t> kept_sizes, dropped_sizes;
  for (Batch& batch : keep.epoch(0)) kept_sizes.push_back(batch.size());
  for (Batch& batch : drop.epoch(0)) dropped_sizes.push_back(batch.size());
  CHECK(kept_sizes == std::vector<int64_t>{8, 8, 8, 8, 8, 8, 2});
  CHECK(dropped_sizes == std::vector<int64_t>{8, 8, 8, 8, 8, 8});
  CHECK(keep.position() == LoaderPosition{1, 0});
  check_error([&] { DataLoader(synthetic(5), {Pipeline()}, {.batch_size = 8, .drop_last = true}); },
              {"DataLoader", "5 examples", "no full batch of 8"});
}

TEST_CASE("a loader resumed at an epoch and batch sees the batches of an uninterrupted run") {
  const auto dataset = synthetic(30);
  DataLoader uninterrupted(dataset, two_views(), {.batch_size = 4, .workers = 2, .seed = 11});
  const std::vector<Flat> all = run_epochs(uninterrupted, 3);  // 8 batches per epoch
  REQUIRE(all.size() == 24);
  // A run that stopped after batch 2 of epoch 1 (consumed batches 0..2) resumes at {1, 3}.
  DataLoader resumed(dataset, two_views(), {.batch_size = 4, .workers = 3, .seed = 11});
  resumed.seek({1, 3});
  std::vector<Flat> rest;
  for (int64_t epoch = 1; epoch < 3; ++epoch)
    for (Batch& batch : resumed.epoch(epoch)) rest.push_back(flatten(batch));
  REQUIRE(rest.size() == 24 - 11);
  for (size_t i = 0; i < rest.size(); ++i) CHECK(rest[i] == all[11 + i]);
  // next() runs on across epoch boundaries; seeking to the end of an epoch is the start of the next.
  resumed.seek({0, 8});
  CHECK(resumed.position() == LoaderPosition{1, 0});
  resumed.seek({0, 7});
  CHECK(flatten(resumed.next()) == all[7]);
  CHECK(flatten(resumed.next()) == all[8]);
  // Seeking while workers are ahead drops their batches.
  resumed.seek({2, 5});
  CHECK(flatten(resumed.next()) == all[21]);
  check_error([&] { resumed.seek({0, 9}); }, {"DataLoader::seek", "batch 9", "8"});
}

TEST_CASE("an error in a worker reaches the consumer with its message") {
  const auto dataset = std::make_shared<const Faulty>(40, 13);
  for (int64_t workers : {0, 2}) {
    DataLoader loader(dataset, {Pipeline()}, {.batch_size = 4, .shuffle = false, .workers = workers});
    for (int b = 0; b < 3; ++b) CHECK(loader.next().size() == 4);
    // Batch 3 holds examples 12–15.
    check_error([&] { loader.next(); }, {"Faulty: example 13 is unreadable"});
    check_error([&] { loader.next(); }, {"Faulty: example 13 is unreadable"});
    CHECK(loader.position() == LoaderPosition{0, 3});
    loader.seek({0, 4});
    CHECK(loader.next().indices.front() == 16);
  }
}

TEST_CASE("a loader destroyed mid-epoch stops its workers promptly") {
  // 400 examples at 1 ms each in batches of 50; two workers, four batches ahead. Batches 0 and 1 are
  // built side by side, then batches 2 and 3 are begun while the consumer takes batch 0 — and the loader
  // is destroyed. Finishing what was begun would take 200 gets; stopping at the next example, about 100.
  const auto dataset = std::make_shared<const Faulty>(400, -1, std::chrono::microseconds(1000));
  const auto start = std::chrono::steady_clock::now();
  {
    DataLoader loader(dataset, {Pipeline()}, {.batch_size = 50, .shuffle = false, .workers = 2, .prefetch = 4});
    CHECK(loader.next().size() == 50);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(dataset->calls.load() < 150);
  CHECK(seconds < 1.0);
}

TEST_CASE("views that do not end in one size are refused naming the view and example") {
  auto dataset = std::make_shared<const SyntheticDataset>(SyntheticOptions{.size = 16, .channels = 1, .height = 6, .width = 9});
  Pipeline turning;
  turning.add(RandomQuarterTurn());
  DataLoader loader(dataset, {Pipeline(), turning}, {.batch_size = 16, .shuffle = false, .workers = 1, .seed = 2});
  check_error([&] { loader.next(); }, {"DataLoader: view 1 of example", "the batch's first example gave", "one size"});
  check_error([&] { DataLoader(dataset, {}, {}); }, {"DataLoader", "no views"});
  check_error([&] { DataLoader(dataset, {Pipeline()}, {.batch_size = 0}); }, {"DataLoader", "batch_size 0"});
}

TEST_CASE("the Fashion-MNIST test split passes through a two-view loader once per epoch") {
  ::unsetenv("VIREO_DATA_ROOT");
  const std::shared_ptr<const Dataset> dataset = fashion_mnist(Split::test);
  Pipeline view;
  view.add(RandomResizedCrop({.size = {28, 28}, .scale = {0.2, 1.0}})).add(RandomHorizontalFlip());
  DataLoader loader(dataset, {view, view}, {.batch_size = 256, .workers = 2, .seed = 5});
  std::vector<int> seen(10000, 0);
  double label_sum = 0.0;
  for (Batch& batch : loader.epoch(0)) {
    REQUIRE(batch.views[0].shape()[1] == 1);
    for (int64_t index : batch.indices) ++seen[static_cast<size_t>(index)];
    label_sum += batch.labels.sum().item();
  }
  for (int count : seen) REQUIRE(count == 1);
  CHECK(label_sum == 1000.0 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7 + 8 + 9));
}
