// Times scaled dot-product attention and layer norm, forward and forward+backward, at the shapes of a
// ViT-Tiny block: batch 64, 3 heads, 65 tokens, head dim 64 (layer norm on [64, 65, 192]).
//
//   OMP_NUM_THREADS=2 build/bin/bench_attention [iterations]
//
// Prints the median and, in brackets, the fastest of the iterations (after two warm-up runs) in
// milliseconds — on a shared machine the fastest run is the one nobody else disturbed — and for attention the
// GEMM-equivalent rate: forward 2·B·L·S·(E + Ev) flops, backward 2·B·L·S·(3·E + 2·Ev) (scores recomputed,
// dP, dV, dQ, dK).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

#include "engine/cpu/parallel.h"
#include "engine/ops.h"

using namespace vireo;

namespace {

struct Timing {
  double median_ms, best_ms;
};

Timing time_ms(int iterations, const std::function<void()>& body) {
  for (int i = 0; i < 2; ++i) body();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 30;
  const int64_t batch = 64, heads = 3, tokens = 65, head_dim = 64, width = heads * head_dim;
  std::printf("threads: %d, iterations: %d, times: median [fastest]\n", cpu::max_threads(), iterations);

  Generator generator(0);
  Tensor q = randn({batch, heads, tokens, head_dim}, {}, &generator);
  Tensor k = randn({batch, heads, tokens, head_dim}, {}, &generator);
  Tensor v = randn({batch, heads, tokens, head_dim}, {}, &generator);
  Tensor grad_attention = randn({batch, heads, tokens, head_dim}, {}, &generator);
  const double bltt = 2.0 * batch * heads * tokens * tokens;
  const double forward_flops = bltt * (head_dim + head_dim), backward_flops = bltt * (3 * head_dim + 2 * head_dim);

  const Timing attention_forward = time_ms(iterations, [&] {
    NoGrad no_grad;
    scaled_dot_product_attention(q, k, v);
  });
  for (Tensor* t : {&q, &k, &v}) t->requires_grad_();
  const Timing attention_both = time_ms(iterations, [&] {
    for (Tensor* t : {&q, &k, &v}) t->zero_grad();
    scaled_dot_product_attention(q, k, v).backward(grad_attention);
  });
  std::printf("attention [%lld, %lld, %lld, %lld] f32: forward %.3f ms [%.3f] (%.1f GFLOP/s), forward+backward "
              "%.3f ms [%.3f] (%.1f GFLOP/s)\n",
              static_cast<long long>(batch), static_cast<long long>(heads), static_cast<long long>(tokens),
              static_cast<long long>(head_dim), attention_forward.median_ms, attention_forward.best_ms,
              forward_flops / attention_forward.median_ms * 1e-6, attention_both.median_ms, attention_both.best_ms,
              (forward_flops + backward_flops) / attention_both.median_ms * 1e-6);

  Tensor x = randn({batch, tokens, width}, {}, &generator);
  Tensor weight = randn({width}, {}, &generator), bias = randn({width}, {}, &generator);
  Tensor grad_norm = randn({batch, tokens, width}, {}, &generator);
  const Timing norm_forward = time_ms(iterations, [&] {
    NoGrad no_grad;
    layer_norm(x, {width}, weight, bias);
  });
  for (Tensor* t : {&x, &weight, &bias}) t->requires_grad_();
  const Timing norm_both = time_ms(iterations, [&] {
    for (Tensor* t : {&x, &weight, &bias}) t->zero_grad();
    layer_norm(x, {width}, weight, bias).backward(grad_norm);
  });
  std::printf("layer_norm [%lld, %lld, %lld] f32: forward %.3f ms [%.3f], forward+backward %.3f ms [%.3f]\n",
              static_cast<long long>(batch), static_cast<long long>(tokens), static_cast<long long>(width),
              norm_forward.median_ms, norm_forward.best_ms, norm_both.median_ms, norm_both.best_ms);
  return 0;
}
