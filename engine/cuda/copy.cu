// CUDA kernels for moving values: host↔device transfers (host → device through pinned staging buffers),
// strided copies with dtype conversion, and fill.
// Conversions follow the CPU's (engine/cpu/copy.cpp): floating → integer truncates toward zero through
// i64, anything → bool is "nonzero", → f16/bf16 rounds to nearest even exactly once from any source.
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <type_traits>

#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/kernels/copy.h"
#include "engine/staging_ring.h"

namespace vireo::cuda {
namespace {

template <class T>
constexpr bool is_16bit_float = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Host and device: fill converts its value on the host with the same rules.
template <class Dst, class Src>
__host__ __device__ inline Dst convert(Src value) {
  if constexpr (std::is_same_v<Src, Dst>) {
    return value;
  } else if constexpr (is_16bit_float<Src>) {
    return convert<Dst>(load(value));  // every f16 and bf16 value is exact in f32
  } else if constexpr (std::is_same_v<Dst, bool>) {
    return value != Src(0);
  } else if constexpr (std::is_same_v<Dst, __half>) {
    if constexpr (std::is_same_v<Src, double>) return __double2half(value);
    else if constexpr (std::is_same_v<Src, float>) return __float2half_rn(value);
    else return __ll2half_rn(static_cast<long long>(value));
  } else if constexpr (std::is_same_v<Dst, __nv_bfloat16>) {
    if constexpr (std::is_same_v<Src, double>) return __double2bfloat16(value);
    else if constexpr (std::is_same_v<Src, float>) return __float2bfloat16_rn(value);
    else return __ll2bfloat16_rn(static_cast<long long>(value));
  } else if constexpr (std::is_integral_v<Dst> && std::is_floating_point_v<Src>) {
    return static_cast<Dst>(static_cast<int64_t>(value));
  } else {
    return static_cast<Dst>(value);
  }
}

template <class Src, class Dst>
__global__ void copy_contiguous(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    dst[i] = convert<Dst>(src[i]);
}

template <class Src, class Dst>
__global__ void copy_strided(const Src* __restrict__ src, Dst* __restrict__ dst, int64_t n, OffsetCalculator<2> calc) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t offsets[2];
    calc.offsets(i, offsets);
    dst[offsets[1]] = convert<Dst>(src[offsets[0]]);
  }
}

void copy(const Tensor& src, const Tensor& dst) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_all(src.dtype(), [&](auto src_tag) {
    dispatch_all(dst.dtype(), [&](auto dst_tag) {
      using Src = decltype(src_tag);
      using Dst = decltype(dst_tag);
      const Src* s = static_cast<const Src*>(src.raw_data());
      Dst* d = static_cast<Dst*>(dst.raw_data());
      if (src.is_contiguous() && dst.is_contiguous()) {
        if constexpr (std::is_same_v<Src, Dst>) {
          VIREO_CUDA_CHECK(cudaMemcpyAsync(d, s, n * sizeof(Dst), cudaMemcpyDeviceToDevice, stream()));
        } else {
          copy_contiguous<<<blocks_for(n), kThreads, 0, stream()>>>(s, d, n);
          VIREO_CUDA_CHECK_LAUNCH();
        }
        return;
      }
      const auto calc = make_offset_calculator<2>(dst.shape(), {&src.strides(), &dst.strides()});
      copy_strided<<<blocks_for(n), kThreads, 0, stream()>>>(s, d, n, calc);
      VIREO_CUDA_CHECK_LAUNCH();
    });
  });
}

template <class T>
__global__ void fill_strided(T* __restrict__ dst, T value, int64_t n, OffsetCalculator<1> calc) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t offsets[1];
    calc.offsets(i, offsets);
    dst[offsets[0]] = value;
  }
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_all(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Converted once on the host, by the rules the copy kernels use, so the kernel stores the bits.
    const T converted = convert<T>(value);
    const auto calc = make_offset_calculator<1>(dst.shape(), {&dst.strides()});
    fill_strided<<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(dst.raw_data()), converted, n, calc);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// Between the host and the GPU (both contiguous, one dtype). A copy to the host waits for it, so the caller
// may read the values; a copy from pageable host memory returns once CUDA has staged the bytes, so the
// caller may free its buffer.
// ---- host → device through pinned staging (engine/staging_ring.h) ----

// Copies under this size go straight from pageable memory: the driver takes small ones into its command
// stream at once, and a 1 MiB staging buffer per scalar in flight would be waste.
constexpr size_t kStagedCopyMin = size_t{64} << 10;

// cudaHostAlloc and CUDA events for the ring; events are recorded on the current device's stream.
class CudaStaging final : public StagingBackend {
 public:
  void* allocate_pinned(size_t bytes) override {
    void* pointer = nullptr;
    if (cudaHostAlloc(&pointer, bytes, cudaHostAllocDefault) != cudaSuccess) {
      cudaGetLastError();  // not sticky: the copy falls back to pageable memory
      return nullptr;
    }
    return pointer;
  }
  void free_pinned(void* pointer) override { cudaFreeHost(pointer); }
  void* create_fence() override {
    cudaEvent_t event = nullptr;
    VIREO_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
    return event;
  }
  void destroy_fence(void* fence) override { cudaEventDestroy(static_cast<cudaEvent_t>(fence)); }
  void record(void* fence) override { VIREO_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(fence), stream())); }
  bool has_passed(void* fence) override {
    const cudaError_t status = cudaEventQuery(static_cast<cudaEvent_t>(fence));  // success also when never recorded
    if (status == cudaErrorNotReady) return false;
    VIREO_CUDA_CHECK(status);
    return true;
  }
  void wait(void* fence) override { VIREO_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(fence))); }
};

// One ring per GPU, behind one lock (loader threads and the training thread may both transfer). Never
// destroyed, like the caching allocator: at exit the driver may already be gone.
struct Staging {
  std::mutex mutex;
  CudaStaging backend;
  std::map<int, std::unique_ptr<StagingRing>> rings;
};
Staging& staging() {
  static Staging* instance = new Staging();
  return *instance;
}

bool is_pinned(const void* pointer) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attributes.type == cudaMemoryTypeHost;
}

// Queues the copy of `bytes` from pageable `src` through a pinned buffer; false when the ring has none to
// give (the caller copies directly).
bool staged_host_to_device(void* dst, const void* src, size_t bytes) {
  Staging& state = staging();
  std::lock_guard lock(state.mutex);
  std::unique_ptr<StagingRing>& ring = state.rings[current_device()];
  if (!ring) ring = std::make_unique<StagingRing>(state.backend);
  void* buffer = ring->acquire(bytes);
  if (!buffer) return false;
  std::memcpy(buffer, src, bytes);
  const cudaError_t status = cudaMemcpyAsync(dst, buffer, bytes, cudaMemcpyHostToDevice, stream());
  ring->release(buffer);  // the fence goes behind the copy (or behind nothing, if it failed)
  VIREO_CUDA_CHECK(status);
  return true;
}

// Host → device copies from pageable memory of 64 KiB or more go through the staging ring, so they are
// queued without waiting for the GPU and the source may change as soon as this returns; device → host waits
// for the copy (the caller reads the result next).
void transfer(const Tensor& src, const Tensor& dst) {
  VIREO_CHECK(src.is_contiguous() && dst.is_contiguous() && src.dtype() == dst.dtype(),
              "transfer: needs contiguous tensors of one dtype, got ", src.dtype(), " and ", dst.dtype());
  const size_t bytes = static_cast<size_t>(src.numel()) * element_size(src.dtype());
  if (bytes == 0) return;
  const cudaMemcpyKind kind = src.device().is_cpu()   ? cudaMemcpyHostToDevice
                              : dst.device().is_cpu() ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  if (kind == cudaMemcpyHostToDevice && bytes >= kStagedCopyMin && !is_pinned(src.raw_data()) &&
      staged_host_to_device(dst.raw_data(), src.raw_data(), bytes))
    return;
  VIREO_CUDA_CHECK(cudaMemcpyAsync(dst.raw_data(), src.raw_data(), bytes, kind, stream()));
  if (kind == cudaMemcpyDeviceToHost) VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::copy, DeviceType::cuda, copy);
VIREO_REGISTER_KERNEL(kernels::fill, DeviceType::cuda, fill);
VIREO_REGISTER_KERNEL(kernels::transfer, DeviceType::cuda, transfer);

}  // namespace vireo::cuda
