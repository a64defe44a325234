// Times the CUDA attention forward and backward at long sequence lengths in bf16 — issue 8's goal: the fused
// kernel at ≥ 50% of the GPU's bf16 tensor-core peak — through the tensor-core kernels and, at the shortest
// lengths, the CUDA-core ones (cuda::set_tensor_core_attention(false)) for comparison. PyTorch's
// F.scaled_dot_product_attention on the same shapes: tools/bench/pytorch_cuda/bench_attention.py.
//
//   build/bin/bench_attention_cuda [iterations]        (exits 3 with a message when no GPU is usable)
//
// Each line: the pass, the shape [B, H, L = S, D], causal or not, the median time of the iterations after two
// warm-up calls (each call waits for the GPU), the rate in TFLOP/s — 4·B·H·L·S·D flops per forward (Q·Kᵀ and
// P·V), 10·B·H·L·S·D per backward (S recomputed, dP, dV, dK, dQ), half with the causal rule: the convention of
// the FlashAttention papers — and that rate as a share of the dense bf16 peak of the GPU when it is known from
// its name (H100 SXM and H200: 989 TFLOP/s; H100 PCIe: 756).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>
#include <vector>

#include "engine/cuda/runtime.h"
#include "engine/kernels/attention.h"
#include "engine/ops.h"

using namespace vireo;

namespace {

// The dense (no sparsity) bf16 tensor-core peak in TFLOP/s from NVIDIA's datasheets; 0 when unknown.
double bf16_peak_tflops(const std::string& name) {
  if (name.find("H100") != std::string::npos) return name.find("PCIe") != std::string::npos ? 756.0 : 989.0;
  if (name.find("H200") != std::string::npos) return 989.0;
  return 0.0;
}

// The median wall time of `iterations` calls of body (after two warm-up calls), each waiting for the GPU.
template <class Body>
double median_ms(int iterations, const Body& body) {
  auto call = [&] {
    body();
    cuda::synchronize();
  };
  for (int i = 0; i < 2; ++i) call();
  std::vector<double> times;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 20;
  if (!cuda_available()) {
    std::fprintf(stderr, "bench_attention_cuda: no usable GPU:\n");
    for (const std::string& line : cuda::cuda_summary()) std::fprintf(stderr, "  %s\n", line.c_str());
    return 3;
  }
  const cuda::DeviceInfo device = cuda::cuda_devices().at(0);
  const double peak = bf16_peak_tflops(device.name);
  std::printf("%s, %d SMs; iterations: %d; bf16 peak: %s\n", device.name.c_str(), device.multiprocessors, iterations,
              peak > 0 ? (std::to_string(static_cast<int>(peak)) + " TFLOP/s (dense)").c_str() : "unknown");

  struct Shape4 {
    int64_t batch, heads, length, head_dim;
    bool causal, tensor_cores;
  };
  const std::vector<Shape4> shapes = {
      {4, 16, 1024, 128, false, false}, {4, 16, 1024, 128, false, true}, {4, 16, 2048, 128, false, true},
      {4, 16, 4096, 128, false, true},  {2, 16, 8192, 128, false, true}, {4, 16, 4096, 128, true, true},
      {4, 32, 4096, 64, false, true},   {4, 32, 1024, 64, false, false}, {4, 32, 1024, 64, false, true},
  };
  Generator generator(0);
  for (const Shape4& s : shapes) {
    const TensorOptions bf16{DType::bf16, Device::cuda()};
    auto operand = [&] {
      return randn({s.batch, s.heads, s.length, s.head_dim}, {}, &generator).to(DType::bf16).to(Device::cuda());
    };
    const Tensor q = operand(), k = operand(), v = operand();
    const Tensor out = Tensor::empty(q.shape(), bf16), lse = Tensor::empty({s.batch, s.heads, s.length}, bf16);
    const Tensor grad_out = operand();
    const Tensor dq = Tensor::empty(q.shape(), bf16), dk = Tensor::empty(k.shape(), bf16),
                 dv = Tensor::empty(v.shape(), bf16);
    const double scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
    cuda::set_tensor_core_attention(s.tensor_cores);
    const double forward_ms = median_ms(iterations, [&] {
      kernels::attention_forward(q.device(), q, k, v, Tensor(), s.causal, scale, out, lse);
    });
    const double backward_ms = median_ms(iterations, [&] {
      kernels::attention_backward(q.device(), q, k, v, Tensor(), s.causal, scale, out, lse, grad_out, dq, dk, dv);
    });
    // One product of an L×D by a D×S (or the like) is 2·L·S·D flops: 2 in the forward (S, P·V), 5 in the
    // backward (S again, dP, dV, dK, dQ); half of them with the causal rule.
    const double product = 2.0 * static_cast<double>(s.batch * s.heads) * static_cast<double>(s.length) *
                           static_cast<double>(s.length) * static_cast<double>(s.head_dim) * (s.causal ? 0.5 : 1.0);
    for (const auto& [pass, ms, products] : {std::tuple{"forward", forward_ms, 2.0},
                                             std::tuple{"backward", backward_ms, 5.0}}) {
      const double tflops = products * product / (ms * 1e-3) * 1e-12;
      std::printf("attention %s bf16 [%lld, %lld, %lld, %lld]%s %s: %.3f ms, %.1f TFLOP/s", pass,
                  static_cast<long long>(s.batch), static_cast<long long>(s.heads),
                  static_cast<long long>(s.length), static_cast<long long>(s.head_dim),
                  s.causal ? " causal" : "", s.tensor_cores ? "tensor cores" : "CUDA cores", ms, tflops);
      if (peak > 0) std::printf(" (%.1f%% of peak)", 100.0 * tflops / peak);
      std::printf("\n");
    }
  }
  cuda::set_tensor_core_attention(true);
  return 0;
}
