// The CUDA backend's runtime: device selection and start-up checks, the stream and library handles, the
// caching allocator (engine/block_pool.h over cudaMalloc) and the facts `vireo info` prints.
//
// One GPU per process: the first CUDA tensor selects its device (cuda:N), and a later request for another
// index is refused with a message — data-parallel training runs one process per GPU.
#include <cuda.h>

#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "engine/block_pool.h"
#include "engine/cuda/common.h"
#include "engine/cuda/runtime.h"
#include "engine/storage.h"

namespace vireo::cuda {

void fail_cuda(const char* call, const char* file, int line, const char* message) {
  fail("CUDA error in ", call, " (", file, ":", line, "): ", message);
}

namespace {

std::string version_string(int version) {  // 12040 → "12.4"
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

// Everything the backend holds for the one device it serves.
struct Runtime {
  std::mutex mutex;
  // The selected device, -1 until the first use. Atomic: every GPU allocation and handle lookup reads it
  // without the mutex (it is written once, under the mutex, after the handles exist).
  std::atomic<int> device{-1};
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cublasLtHandle_t cublas_lt = nullptr;
  cudnnHandle_t cudnn = nullptr;
  bool allow_tf32 = false;
};

Runtime& runtime() {
  static Runtime* state = new Runtime();  // never destroyed: tensors in statics release into it at exit
  return *state;
}

// Why the backend cannot run, or "" when it can use device `index`.
std::string unusable_reason(int index) {
  int driver = 0, toolkit = 0;
  cudaRuntimeGetVersion(&toolkit);
  if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0)
    return "no NVIDIA driver is loaded (the toolkit is CUDA " + version_string(toolkit) + ")";
  if (driver < toolkit)
    return "the NVIDIA driver supports CUDA " + version_string(driver) + ", older than the toolkit this build uses (CUDA " +
           version_string(toolkit) + "); update the driver or build with an older toolkit";
  int count = 0;
  if (const cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return std::string("no GPU is usable: ") + cudaGetErrorString(status);
  }
  if (count == 0) return "no GPU is visible (CUDA_VISIBLE_DEVICES?)";
  if (index < 0 || index >= count)
    return "cuda:" + std::to_string(index) + " does not exist; " + std::to_string(count) + " GPU(s) are visible";
  return "";
}

// cudaMalloc and cudaFree for the block pool: null when out of memory.
class CudaSegments final : public SegmentSource {
 public:
  void* allocate(size_t bytes) override {
    void* pointer = nullptr;
    if (cudaMalloc(&pointer, bytes) != cudaSuccess) {
      cudaGetLastError();  // out of memory is not sticky; clear it so later checks do not see it
      return nullptr;
    }
    return pointer;
  }
  void release(void* pointer) override {
    // Blocks may still be in use by queued kernels: wait for them before the memory goes back.
    cudaStreamSynchronize(runtime().stream);
    cudaFree(pointer);
  }
  std::string name() const override { return "cuda:" + std::to_string(runtime().device.load()); }
};

class CudaAllocator final : public Allocator {
 public:
  // Storage and DeviceBuffer select the device (require_cuda with their index) before asking; anyone else
  // reaching the pool first gets cuda:0.
  void* allocate(size_t bytes) override {
    if (runtime().device < 0) require_cuda(0);
    std::lock_guard lock(mutex_);
    return pool_.allocate(bytes);
  }
  void release(void* pointer, size_t) override {
    std::lock_guard lock(mutex_);
    pool_.release(pointer);
  }
  MemoryStats stats() const override {
    std::lock_guard lock(mutex_);
    return pool_.stats();
  }
  void reset_peak() override {
    std::lock_guard lock(mutex_);
    pool_.reset_peak();
  }
  void empty_cache() override {
    std::lock_guard lock(mutex_);
    pool_.empty_cache();
  }

 private:
  mutable std::mutex mutex_;
  CudaSegments segments_;
  BlockPool pool_{segments_};
};

CudaAllocator& cuda_allocator() {
  static CudaAllocator* allocator = new CudaAllocator();  // never destroyed, like the CPU pool
  return *allocator;
}

// Installs the allocator when vireo_engine loads; nothing touches the GPU until the first allocation.
const bool g_installed = [] {
  set_allocator(DeviceType::cuda, &cuda_allocator());
  return true;
}();

}  // namespace

void require_cuda(int device_index) {
  Runtime& state = runtime();
  if (state.device == device_index) return;  // the common case, on every GPU allocation: no lock
  std::lock_guard lock(state.mutex);
  if (state.device >= 0) {
    VIREO_CHECK(device_index == state.device, "this process uses cuda:", state.device.load(), "; cuda:", device_index,
                " was asked for too (Vireo runs one GPU per process: start one process per GPU)");
    return;
  }
  if (const std::string reason = unusable_reason(device_index); !reason.empty())
    fail("CUDA is not usable for cuda:", device_index, ": ", reason);
  cudaDeviceProp properties{};
  VIREO_CUDA_CHECK(cudaGetDeviceProperties(&properties, device_index));
  const int capability = properties.major * 10 + properties.minor;
  VIREO_CHECK(capability >= VIREO_CUDA_MIN_ARCH, "cuda:", device_index, " (", properties.name, ") has compute capability ",
              properties.major, ".", properties.minor, "; this build has code for sm_", VIREO_CUDA_MIN_ARCH,
              " and newer (configure with -DCMAKE_CUDA_ARCHITECTURES=", capability, ")");
  VIREO_CUDA_CHECK(cudaSetDevice(device_index));
  VIREO_CUDA_CHECK(cudaStreamCreateWithFlags(&state.stream, cudaStreamNonBlocking));
  VIREO_CUBLAS_CHECK(cublasCreate(&state.cublas));
  VIREO_CUBLAS_CHECK(cublasSetStream(state.cublas, state.stream));
  VIREO_CUBLAS_CHECK(cublasSetMathMode(state.cublas, state.allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  VIREO_CUBLAS_CHECK(cublasLtCreate(&state.cublas_lt));
  VIREO_CUDNN_CHECK(cudnnCreate(&state.cudnn));
  VIREO_CUDNN_CHECK(cudnnSetStream(state.cudnn, state.stream));
  state.device = device_index;
}

int current_device() {
  if (runtime().device < 0) require_cuda(0);
  return runtime().device;
}

cudaStream_t stream() {
  if (runtime().device < 0) require_cuda(0);
  return runtime().stream;
}
cublasHandle_t cublas() {
  if (runtime().device < 0) require_cuda(0);
  return runtime().cublas;
}
cublasLtHandle_t cublas_lt() {
  if (runtime().device < 0) require_cuda(0);
  return runtime().cublas_lt;
}
cudnnHandle_t cudnn() {
  if (runtime().device < 0) require_cuda(0);
  return runtime().cudnn;
}

DeviceBuffer::DeviceBuffer(size_t bytes, int device_index)
    : bytes_(bytes), device_index_(device_index < 0 ? current_device() : device_index) {
  require_cuda(device_index_);  // as a Storage does: the pool serves the one selected device
  data_ = allocator_for(Device::cuda(device_index)).allocate(bytes);
}
DeviceBuffer::~DeviceBuffer() {
  if (data_) allocator_for(Device::cuda(device_index_)).release(data_, bytes_);
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : data_(other.data_), bytes_(other.bytes_), device_index_(other.device_index_) {
  other.data_ = nullptr;
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_) allocator_for(Device::cuda(device_index_)).release(data_, bytes_);
    data_ = other.data_;
    bytes_ = other.bytes_;
    device_index_ = other.device_index_;
    other.data_ = nullptr;
  }
  return *this;
}

bool built_with_cuda() { return true; }

std::vector<DeviceInfo> cuda_devices() {
  std::vector<DeviceInfo> devices;
  if (!unusable_reason(0).empty()) return devices;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) return devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, i) != cudaSuccess) continue;
    devices.push_back({i, properties.name, properties.major, properties.minor, properties.totalGlobalMem,
                       properties.multiProcessorCount});
  }
  return devices;
}

std::vector<std::string> cuda_summary() {
  std::vector<std::string> lines;
  int toolkit = 0, driver = 0;
  cudaRuntimeGetVersion(&toolkit);
  cudaDriverGetVersion(&driver);
  lines.push_back("CUDA toolkit " + version_string(toolkit) + " (built for sm_" + std::to_string(VIREO_CUDA_MIN_ARCH) +
                  "+), driver " + (driver ? "CUDA " + version_string(driver) : std::string("not loaded")));
  const size_t cudnn = cudnnGetVersion();
  int cublas_version = 0;
  cublasGetProperty(MAJOR_VERSION, &cublas_version);
  int cublas_minor = 0;
  cublasGetProperty(MINOR_VERSION, &cublas_minor);
  lines.push_back("cuDNN " + std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) + "." +
                  std::to_string(cudnn % 100) + ", cuBLAS " + std::to_string(cublas_version) + "." +
                  std::to_string(cublas_minor) + ", TF32 " + (allow_tf32() ? "on" : "off"));
  if (const std::string reason = unusable_reason(0); !reason.empty()) {
    lines.push_back("no usable GPU: " + reason);
    return lines;
  }
  for (const DeviceInfo& device : cuda_devices())
    lines.push_back("cuda:" + std::to_string(device.index) + " " + device.name + ", compute capability " +
                    std::to_string(device.major) + "." + std::to_string(device.minor) + ", " +
                    std::to_string(device.total_memory >> 20) + " MiB, " + std::to_string(device.multiprocessors) +
                    " SMs");
  return lines;
}

void set_allow_tf32(bool allow) {
  Runtime& state = runtime();
  std::lock_guard lock(state.mutex);
  state.allow_tf32 = allow;
  if (state.cublas)
    VIREO_CUBLAS_CHECK(cublasSetMathMode(state.cublas, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
}
bool allow_tf32() { return runtime().allow_tf32; }

namespace {
std::atomic<bool> tensor_core_attention_enabled{true};
}  // namespace
void set_tensor_core_attention(bool enabled) { tensor_core_attention_enabled = enabled; }
bool tensor_core_attention() { return tensor_core_attention_enabled; }

void synchronize() {
  if (runtime().device >= 0) VIREO_CUDA_CHECK(cudaStreamSynchronize(runtime().stream));
}

}  // namespace vireo::cuda

namespace vireo {
bool cuda_available() { return cuda::unusable_reason(0).empty(); }
}  // namespace vireo
