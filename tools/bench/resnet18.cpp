// bench_resnet18: one full ResNet-18 (CIFAR stem) training step — forward, cross-entropy, backward, SGD
// with momentum 0.9 and weight decay 5e-4 — on synthetic 3×32×32 inputs, exactly the workload of
// ../shared/bench/pytorch/bench_resnet18_cifar.py, written straight against engine ops (the nn modules
// arrive with their own issue). Prints one JSON line: median/min/max images/s and peak RSS.
//
//   bench_resnet18 [--batch 64] [--steps 20] [--warmup 3] [--threads 2]
#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "engine/ops.h"

using namespace vireo;

namespace {

struct BatchNorm {
  Tensor weight, bias, running_mean, running_var;
  explicit BatchNorm(int64_t channels)
      : weight(ones({channels}).requires_grad_()), bias(zeros({channels}).requires_grad_()),
        running_mean(zeros({channels})), running_var(ones({channels})) {}
  Tensor operator()(const Tensor& x) const { return batch_norm(x, running_mean, running_var, weight, bias, true); }
};

// torchvision's initialization: kaiming normal, fan_out, gain √2.
Tensor conv_weight(int64_t out, int64_t in, int64_t k, Generator& g) {
  return mul(randn({out, in, k, k}, {}, &g), std::sqrt(2.0 / static_cast<double>(out * k * k))).requires_grad_();
}

struct BasicBlock {
  Tensor conv1, conv2, downsample;
  BatchNorm bn1, bn2, bn_down;
  int64_t stride;
  BasicBlock(int64_t in, int64_t out, int64_t stride, Generator& g)
      : conv1(conv_weight(out, in, 3, g)), conv2(conv_weight(out, out, 3, g)),
        downsample(stride != 1 || in != out ? conv_weight(out, in, 1, g) : Tensor()), bn1(out), bn2(out),
        bn_down(out), stride(stride) {}

  Tensor operator()(const Tensor& x) const {
    Tensor h = relu(bn1(conv2d(x, conv1, {}, {.stride = {stride, stride}, .padding = {1, 1}})));
    h = bn2(conv2d(h, conv2, {}, {.padding = {1, 1}}));
    Tensor shortcut = downsample.defined() ? bn_down(conv2d(x, downsample, {}, {.stride = {stride, stride}})) : x;
    return relu(add(h, shortcut));
  }
  void collect(std::vector<Tensor>& out) const {
    for (const Tensor& t : {conv1, bn1.weight, bn1.bias, conv2, bn2.weight, bn2.bias}) out.push_back(t);
    if (downsample.defined())
      for (const Tensor& t : {downsample, bn_down.weight, bn_down.bias}) out.push_back(t);
  }
};

struct ResNet18 {
  Tensor stem;
  BatchNorm stem_bn{64};
  std::vector<BasicBlock> blocks;
  Tensor fc_weight, fc_bias;

  explicit ResNet18(Generator& g) : stem(conv_weight(64, 3, 3, g)) {
    int64_t in = 64;
    for (int64_t width : {64, 128, 256, 512}) {
      const int64_t stride = width == 64 ? 1 : 2;
      blocks.emplace_back(in, width, stride, g);
      blocks.emplace_back(width, width, 1, g);
      in = width;
    }
    const double bound = 1.0 / std::sqrt(512.0);
    fc_weight = add(mul(rand({10, 512}, {}, &g), 2 * bound), -bound).requires_grad_();
    fc_bias = add(mul(rand({10}, {}, &g), 2 * bound), -bound).requires_grad_();
  }

  Tensor operator()(const Tensor& x) const {
    Tensor h = relu(stem_bn(conv2d(x, stem, {}, {.padding = {1, 1}})));
    for (const BasicBlock& block : blocks) h = block(h);
    return linear(adaptive_avg_pool2d(h, {1, 1}).flatten(1), fc_weight, fc_bias);
  }

  std::vector<Tensor> parameters() const {
    std::vector<Tensor> out{stem, stem_bn.weight, stem_bn.bias};
    for (const BasicBlock& block : blocks) block.collect(out);
    out.push_back(fc_weight);
    out.push_back(fc_bias);
    return out;
  }
};

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 64, steps = 20, warmup = 3, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int64_t value = std::atoll(argv[i + 1]);
    if (flag == "--batch") batch = value;
    else if (flag == "--steps") steps = value;
    else if (flag == "--warmup") warmup = value;
    else if (flag == "--threads") threads = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  omp_set_num_threads(static_cast<int>(threads));
  Generator g(0);
  ResNet18 model(g);
  const std::vector<Tensor> parameters = model.parameters();
  std::vector<Tensor> momentum;
  for (const Tensor& p : parameters) momentum.push_back(zeros_like(p));
  Tensor x = randn({batch, 3, 32, 32}, {}, &g);
  Tensor y = randint(0, 10, {batch}, {.dtype = DType::i64}, &g);

  auto step = [&] {
    for (const Tensor& p : parameters) p.zero_grad();
    Tensor loss = cross_entropy(model(x), y);
    loss.backward();
    NoGrad no_grad;
    // torch.optim.SGD: d = g + wd·p; v = 0.9·v + d; p −= lr·v
    for (size_t i = 0; i < parameters.size(); ++i) {
      Tensor d = add(parameters[i].grad(), mul(parameters[i], 5e-4));
      momentum[i].mul_(0.9).add_(d);
      Tensor p = parameters[i];
      p.add_(momentum[i], -0.1);
    }
    return loss.item();
  };

  for (int64_t i = 0; i < warmup; ++i) step();
  const size_t system_allocations_before = allocator_for(Device::cpu()).stats().system_allocations;
  std::vector<double> seconds;
  double loss = 0;
  for (int64_t i = 0; i < steps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    loss = step();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                          : 0.5 * (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]);
  const MemoryStats memory = allocator_for(Device::cpu()).stats();
  std::printf("{\"model\": \"resnet18_cifar\", \"batch\": %lld, \"threads\": %lld, \"steps\": %lld, "
              "\"img_per_s\": %.2f, \"img_per_s_min\": %.2f, \"img_per_s_max\": %.2f, \"step_ms_median\": %.1f, "
              "\"peak_rss_mib\": %.1f, \"peak_tensor_mib\": %.1f, \"new_system_allocations_after_warmup\": %zu, "
              "\"final_loss\": %.4f}\n",
              static_cast<long long>(batch), static_cast<long long>(threads), static_cast<long long>(steps),
              batch / median, batch / sorted.back(), batch / sorted.front(), median * 1e3, peak_rss_mib(),
              memory.peak_bytes_in_use / 1048576.0, memory.system_allocations - system_allocations_before, loss);
  return 0;
}
