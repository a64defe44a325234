// Throughput of the indexing, pad, sort/topk, cumsum and softmax/cross-entropy kernels on f32 at typical
// training sizes. Prints the best time of each op over a number of runs (the least disturbed by other
// work on a shared machine) and its effective memory traffic (bytes read and written once each / time),
// the figure these memory-bound kernels are judged by.
//   build/bin/bench_indexing_sort_loss
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include <omp.h>

#include "engine/ops.h"

using namespace vireo;

namespace {

double best_ms(const std::function<void()>& body, int reps = 15) {
  body();  // warm the pool and the caches
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return *std::min_element(times.begin(), times.end());
}

void report(const char* name, double ms, double bytes) {
  std::printf("%-44s %9.3f ms %8.1f GB/s\n", name, ms, bytes / (ms * 1e6));
}

}  // namespace

int main() {
  NoGrad no_grad;
  const double f = 4.0, l = 8.0;  // bytes per f32 / i64
  std::printf("threads: %d (OMP_NUM_THREADS sets it)\n", omp_get_max_threads());

  {
    Tensor x = randn({1024, 1000});
    report("softmax [1024, 1000] dim -1", best_ms([&] { softmax(x, -1); }), 2 * f * x.numel());
    report("log_softmax [1024, 1000] dim -1", best_ms([&] { log_softmax(x, -1); }), 2 * f * x.numel());
    Tensor xs = randn({32, 64, 196});
    report("softmax [32, 64, 196] dim 1", best_ms([&] { softmax(xs, 1); }), 2 * f * xs.numel());
  }
  {
    // Forward + backward through autograd, as a training step does it.
    set_grad_enabled(true);
    Tensor x = randn({1024, 1000});
    x.requires_grad_();
    Tensor y = softmax(x, -1), g = randn({1024, 1000});
    report("softmax backward [1024, 1000]", best_ms([&] {
             x.zero_grad();
             y.backward(g, true);
           }),
           3 * f * x.numel());
    Tensor target = randint(0, 1000, {1024});
    report("cross_entropy fwd [1024, 1000]", best_ms([&] { cross_entropy(x.detach(), target); }), f * x.numel());
    report("cross_entropy fwd+bwd [1024, 1000]", best_ms([&] {
             x.zero_grad();
             cross_entropy(x, target).backward();
           }),
           3 * f * x.numel());
    Tensor spatial = randn({16, 21, 64, 64});
    spatial.requires_grad_();
    Tensor labels = randint(0, 21, {16, 64, 64});
    report("cross_entropy fwd+bwd [16, 21, 64, 64]", best_ms([&] {
             spatial.zero_grad();
             cross_entropy(spatial, labels).backward();
           }),
           3 * f * spatial.numel());
    set_grad_enabled(false);
  }
  {
    Tensor table = randn({50000, 256});
    Tensor rows = randint(0, 50000, {8192});
    report("index_select [50000, 256] 8192 rows", best_ms([&] { index_select(table, 0, rows); }),
           2 * f * 8192 * 256 + l * 8192);
    Tensor x = randn({512, 512});
    Tensor idx = randint(0, 512, {512, 512});
    report("gather [512, 512] dim 1", best_ms([&] { gather(x, 1, idx); }), (2 * f + l) * x.numel());
    report("scatter_add [512, 512] dim 1", best_ms([&] { scatter_add(x, 1, idx, x); }), (3 * f + l) * x.numel());
    report("gather [512, 512] dim 0", best_ms([&] { gather(x, 0, idx); }), (2 * f + l) * x.numel());
  }
  {
    Tensor x = randn({32, 64, 56, 56});
    report("pad reflect [32, 64, 56, 56] (1,1,1,1)", best_ms([&] { pad(x, {1, 1, 1, 1}, PadMode::reflect); }),
           2 * f * x.numel());
    report("pad constant [32, 64, 56, 56] (1,1,1,1)", best_ms([&] { pad(x, {1, 1, 1, 1}); }), 2 * f * x.numel());
    set_grad_enabled(true);
    Tensor leaf = x.detach();
    leaf.requires_grad_();
    Tensor out = pad(leaf, {1, 1, 1, 1}, PadMode::reflect);
    Tensor g = randn(out.shape());
    // The gradient's delivery into the leaf (a copy) is part of the figure, as in a training step.
    report("pad reflect backward [32, 64, 56, 56]", best_ms([&] {
             leaf.zero_grad();
             out.backward(g, true);
           }),
           4 * f * x.numel());
    set_grad_enabled(false);
  }
  {
    Tensor x = randn({1024, 1000});
    report("sort [1024, 1000] dim -1", best_ms([&] { sort(x, -1); }, 5), (2 * f + l) * x.numel());
    report("topk k=5 [1024, 1000] dim -1", best_ms([&] { topk(x, 5); }), f * x.numel());
    report("cumsum [1024, 1000] dim -1", best_ms([&] { cumsum(x, -1); }), 2 * f * x.numel());
    report("cumsum [1024, 1000] dim 0", best_ms([&] { cumsum(x, 0); }), 2 * f * x.numel());
  }
  return 0;
}
