// The CUDA backend's host-side face: which GPUs there are, what the driver and libraries are, and the few
// switches that change results (TF32). Includes no CUDA header, so tools and tests can use it in any build;
// in a build without the backend every function says so (cuda_devices() is empty, cuda_summary() says why).
#pragma once

#include <string>
#include <vector>

namespace vireo::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  size_t total_memory = 0;   // bytes
  int multiprocessors = 0;
};

// True when this build has the CUDA backend compiled in (nvcc was found at configure time).
bool built_with_cuda();
// The visible GPUs; empty without the backend, without a driver or without a GPU (never throws).
std::vector<DeviceInfo> cuda_devices();
// Lines for `vireo info`: toolkit, driver, cuDNN and cuBLAS versions, each device, or why there is none.
std::vector<std::string> cuda_summary();
// Throws vireo::Error with a clear message when the backend cannot run: no backend in this build, no driver,
// a driver older than the toolkit, no GPU, or a GPU the build has no code for. Called before the first
// CUDA allocation, so a recipe with run.device: cuda fails at start-up and says why.
void require_cuda(int device_index = 0);

// TF32 for f32 GEMMs and convolutions: faster on tensor cores, with a 10-bit mantissa in the products. Off by
// default so that CUDA results match the CPU's to f32 precision (the parity suite relies on it).
void set_allow_tf32(bool allow);
bool allow_tf32();

// The tensor-core attention forward (f16 and bf16, head dimension 64 or 128; engine/cuda/attention.cu): on by
// default; off runs those shapes through the CUDA-core kernel too, for the benchmark's comparison and the
// parity suite's check of both paths.
void set_tensor_core_attention(bool enabled);
bool tensor_core_attention();

// Waits for every kernel launched so far on the current device (timing, tests).
void synchronize();

}  // namespace vireo::cuda
