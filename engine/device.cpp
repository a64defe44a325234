#include "engine/device.h"

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
