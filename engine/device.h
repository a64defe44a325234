// Where a tensor lives. Every op front end hands its work to the kernel registered for the device of its
// inputs (engine/dispatch.h), so a new backend adds kernels without touching the ops.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace vireo {

enum class DeviceType : uint8_t { cpu = 0, cuda = 1 };
inline constexpr int kDeviceTypeCount = 2;

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static constexpr Device cpu() { return {DeviceType::cpu, 0}; }
  static constexpr Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
  // Parses "cpu", "cuda" or "cuda:N"; throws vireo::Error on anything else.
  static Device parse(const std::string& text);

  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  friend bool operator==(const Device& a, const Device& b) { return a.type == b.type && a.index == b.index; }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

inline std::ostream& operator<<(std::ostream& os, const Device& device) { return os << device.str(); }

// True when this build has the CUDA backend and a GPU is visible; false otherwise (never throws).
bool cuda_available();

}  // namespace vireo
