// Throughput of the data layer: one epoch of Fashion-MNIST's 60,000 training images through a DataLoader
// with two views of random resized crop + horizontal flip (the SSL setting), batches of 256, for 0, 1 and
// 2 workers; then the full SimCLR/BYOL colour pipeline on 3-channel 32×32 images (synthetic, held in
// memory like CIFAR).
// Prints examples per second (each example yields two augmented views) — the rate a training loop can
// consume without waiting on data — and the process CPU time per example, which tells, on a machine
// shared with other work, whether more workers cost more CPU (contention) or only wait for a core.
//   build/bin/bench_data_loader [workers...]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "training/data.h"

using namespace vireo;
using namespace vireo::data;

namespace {

volatile float g_sink;  // keeps the compiler from skipping reads of the batches

// Examples held decoded in memory, so that the colour benchmark times augmentation, not image synthesis.
class InMemory final : public Dataset {
 public:
  explicit InMemory(const Dataset& source) {
    for (int64_t i = 0; i < source.size(); ++i) examples_.push_back(source.get(i));
    classes_ = source.num_classes();
  }
  int64_t size() const override { return static_cast<int64_t>(examples_.size()); }
  Example get(int64_t index) const override { return examples_[static_cast<size_t>(index)]; }
  int64_t num_classes() const override { return classes_; }

 private:
  std::vector<Example> examples_;
  int64_t classes_ = 0;
};

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

struct Throughput {
  double examples_per_second, cpu_microseconds_per_example;
};

// Over one epoch, after the first batch (thread start-up) has arrived.
Throughput measure(const std::shared_ptr<const Dataset>& dataset, const std::vector<Pipeline>& views,
                           int64_t workers) {
  DataLoader loader(dataset, views, {.batch_size = 256, .drop_last = true, .workers = workers, .seed = 1});
  g_sink = loader.next().views[0].data<float>()[0];
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  int64_t examples = 0;
  for (Batch& batch : loader.epoch(0)) {
    examples += batch.size();
    g_sink = batch.views[1].data<float>()[0];
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = process_cpu_seconds() - cpu_start;
  return {static_cast<double>(examples) / seconds, 1e6 * cpu / static_cast<double>(examples)};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> worker_counts = {0, 1, 2};
  if (argc > 1) {
    worker_counts.clear();
    for (int i = 1; i < argc; ++i) worker_counts.push_back(std::atoll(argv[i]));
  }
  try {
    const std::shared_ptr<const Dataset> fashion = fashion_mnist(Split::train);
    Pipeline crop_flip;
    crop_flip.add(RandomResizedCrop({.size = {28, 28}, .scale = {0.2, 1.0}})).add(RandomHorizontalFlip());
    crop_flip.add(Normalize({.mean = {0.2860f}, .std = {0.3530f}}));
    for (int64_t workers : worker_counts) {
      const Throughput t = measure(fashion, {crop_flip, crop_flip}, workers);
      std::printf("Fashion-MNIST 28x28x1, 2 views crop+flip+normalize, %lld workers: %8.0f examples/s, %5.1f CPU us/example\n",
                  static_cast<long long>(workers), t.examples_per_second, t.cpu_microseconds_per_example);
    }

    const auto colour = std::make_shared<const InMemory>(
        SyntheticDataset({.size = 20000, .num_classes = 10, .channels = 3, .height = 32, .width = 32}));
    Pipeline simclr;
    simclr.add(RandomResizedCrop({.size = {32, 32}, .scale = {0.2, 1.0}})).add(RandomHorizontalFlip());
    simclr.add(ColorJitter({.brightness = 0.4, .contrast = 0.4, .saturation = 0.2, .hue = 0.1, .p = 0.8}));
    simclr.add(RandomGrayscale({.p = 0.2})).add(GaussianBlur({.kernel_size = 3, .p = 0.5})).add(RandomSolarize({.p = 0.2}));
    simclr.add(Normalize({.mean = {0.5f}, .std = {0.25f}}));
    for (int64_t workers : worker_counts) {
      const Throughput t = measure(colour, {simclr, simclr}, workers);
      std::printf("32x32x3, 2 views crop+flip+jitter+gray+blur+solarize, %lld workers: %8.0f examples/s, %5.1f CPU us/example\n",
                  static_cast<long long>(workers), t.examples_per_second, t.cpu_microseconds_per_example);
    }
  } catch (const Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
  return 0;
}
