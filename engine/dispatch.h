// The single dispatch point. Each primitive kernel is a `Kernel<void(Args...)>`: a table with one function
// pointer per device type. Op front ends (engine/ops/*.cpp) check arguments and call `kernel(device, ...)`;
// backends fill the table from their own files (engine/cpu/*.cpp now, engine/cuda/*.cu later) with
// `VIREO_REGISTER_KERNEL(kernel, DeviceType::cpu, function)`. A device with no kernel gets a clear Error.
#pragma once

#include <utility>

#include "engine/device.h"
#include "engine/error.h"

namespace vireo {

template <class Signature>
class Kernel;

template <class... Args>
class Kernel<void(Args...)> {
 public:
  using Function = void (*)(Args...);

  constexpr explicit Kernel(const char* name) : name_(name) {}

  void set(DeviceType type, Function function) { functions_[static_cast<int>(type)] = function; }
  bool has(DeviceType type) const { return functions_[static_cast<int>(type)] != nullptr; }
  const char* name() const { return name_; }

  template <class... CallArgs>
  void operator()(Device device, CallArgs&&... args) const {
    Function function = functions_[static_cast<int>(device.type)];
    if (!function) fail(name_, ": no kernel for device ", device, " in this build");
    function(std::forward<CallArgs>(args)...);
  }

 private:
  const char* name_;
  Function functions_[kDeviceTypeCount] = {};
};

namespace detail {
struct KernelRegistrar {
  template <class K, class F>
  KernelRegistrar(K& kernel, DeviceType type, F function) { kernel.set(type, function); }
};
}  // namespace detail

}  // namespace vireo

#define VIREO_CONCAT_INNER(a, b) a##b
#define VIREO_CONCAT(a, b) VIREO_CONCAT_INNER(a, b)
// Registers a backend function in a kernel table at library load (vireo_engine is a shared library, so
// every backend file's registrations run).
#define VIREO_REGISTER_KERNEL(kernel, device_type, function) \
  static const ::vireo::detail::KernelRegistrar VIREO_CONCAT(vireo_registrar_, __LINE__)(kernel, device_type, function)
