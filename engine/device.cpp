#include "engine/device.h"

#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace vireo {

Device Device::parse(const std::string& text) {
  if (text == "cpu") return cpu();
  if (text == "cuda") return cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string number = text.substr(5);
    if (!number.empty() && number.find_first_not_of("0123456789") == std::string::npos)
      return cuda(std::stoi(number));
  }
  fail("unknown device '", text, "': expected cpu, cuda or cuda:N");
}

#ifndef VIREO_HAS_CUDA
bool cuda_available() { return false; }
#endif

}  // namespace vireo

// A build without the CUDA backend (no nvcc at configure time): every question about CUDA has one answer.
#ifndef VIREO_HAS_CUDA
namespace vireo::cuda {
bool built_with_cuda() { return false; }
std::vector<DeviceInfo> cuda_devices() { return {}; }
std::vector<std::string> cuda_summary() { return {"CUDA: not built (no nvcc at /usr/local/cuda when this build was configured)"}; }
void require_cuda(int index) {
  fail("CUDA is not usable for cuda:", index, ": this build has no CUDA backend (nvcc was not found when it was configured; install the "
       "CUDA toolkit under /usr/local/cuda and configure again)");
}
void set_allow_tf32(bool) {}
bool allow_tf32() { return false; }
void set_tensor_core_attention(bool) {}
bool tensor_core_attention() { return false; }
void synchronize() {}
}  // namespace vireo::cuda
#endif
