// Convolution speed on a ResNet-18 CIFAR layer: x [64, 64, 32, 32], weight [64, 64, 3, 3], padding 1, f32.
// Times the three kernels (forward, backward-input, backward-weight) and one autograd forward+backward,
// each as the best of several runs after a warm-up, and prints ms and GFLOP/s (2·N·C_out·OH·OW·C_in·kH·kW
// per kernel).
//
//   OMP_NUM_THREADS=2 build/bin/bench_conv [batch channels size repeats]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "engine/cpu/parallel.h"
#include "engine/kernels/conv.h"
#include "engine/ops.h"

using namespace vireo;

namespace {

double best_ms(int repeats, const std::function<void()>& body) {
  body();  // warm-up: first-touch of buffers, thread start
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    const auto stop = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(stop - start).count());
  }
  return best;
}

void report(const char* what, double ms, double flops) {
  std::printf("%-28s %9.2f ms  %8.1f GFLOP/s\n", what, ms, flops / (ms * 1e6));
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = argc > 1 ? std::atoll(argv[1]) : 64;
  const int64_t channels = argc > 2 ? std::atoll(argv[2]) : 64;
  const int64_t size = argc > 3 ? std::atoll(argv[3]) : 32;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 5;

  kernels::Conv2dGeometry g;
  g.batch = batch;
  g.in_channels = g.out_channels = channels;
  g.in_height = g.in_width = g.out_height = g.out_width = size;
  g.kernel_h = g.kernel_w = 3;
  g.pad_h = g.pad_w = 1;

  Generator generator(1);
  Tensor x = randn({batch, channels, size, size}, {}, &generator);
  Tensor w = mul(randn({channels, channels, 3, 3}, {}, &generator), 0.05);
  Tensor dy = randn({batch, channels, size, size}, {}, &generator);
  Tensor y = empty({batch, channels, size, size}), dx = empty(x.shape()), dw = empty(w.shape());
  const double flops = 2.0 * batch * channels * size * size * channels * 9;

  std::printf("conv2d 3x3 pad 1, x [%lld, %lld, %lld, %lld] f32, %d threads\n", static_cast<long long>(batch),
              static_cast<long long>(channels), static_cast<long long>(size), static_cast<long long>(size),
              cpu::max_threads());
  const double forward = best_ms(repeats, [&] { kernels::conv2d_forward(x.device(), g, x, w, Tensor(), y); });
  const double input_grad = best_ms(repeats, [&] { kernels::conv2d_input_grad(x.device(), g, dy, w, Tensor(), dx); });
  const double weight_grad = best_ms(repeats, [&] { kernels::conv2d_weight_grad(x.device(), g, x, dy, dw); });
  report("forward", forward, flops);
  report("backward-input", input_grad, flops);
  report("backward-weight", weight_grad, flops);
  report("sum of the three", forward + input_grad + weight_grad, 3 * flops);

  // The same work through the public op and autograd (bias included, as a layer would have it).
  Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
  Tensor bias = zeros({channels}).requires_grad_();
  const double step = best_ms(repeats, [&] {
    xl.zero_grad();
    wl.zero_grad();
    bias.zero_grad();
    conv2d(xl, wl, bias, {.padding = {1, 1}}).backward(dy);
  });
  report("autograd forward+backward", step, 3 * flops);
  return 0;
}
