// CPU kernels of the Approx-BP activations (engine/kernels/approx_activation.h). Work is split by bytes of
// the packed codes, so no two threads ever write the same byte.
#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/kernels/approx_activation.h"

namespace vireo::cpu {
namespace {

constexpr int64_t kBytesPerTask = 4096;

template <class T>
void pack_typed(const Tensor& x, const std::array<double, 3>& thresholds, const Tensor& packed) {
  const T* xp = static_cast<const T*>(x.raw_data());
  uint8_t* out = static_cast<uint8_t*>(packed.raw_data());
  const int64_t n = x.numel();
  const T c0 = static_cast<T>(thresholds[0]), c1 = static_cast<T>(thresholds[1]), c2 = static_cast<T>(thresholds[2]);
  parallel_for(0, packed.numel(), kBytesPerTask, [&](int64_t lo, int64_t hi) {
    for (int64_t byte = lo; byte < hi; ++byte) {
      uint8_t value = 0;
      for (int64_t slot = 0, i = byte * 4; slot < 4 && i < n; ++slot, ++i) {
        const T v = xp[i];
        const int code = (v > c0) + (v > c1) + (v > c2);
        value |= static_cast<uint8_t>(code << (2 * slot));
      }
      out[byte] = value;
    }
  });
}

void pack(const Tensor& x, const std::array<double, 3>& thresholds, const Tensor& packed) {
  switch (x.dtype()) {
    case DType::f32: return pack_typed<float>(x, thresholds, packed);
    case DType::f64: return pack_typed<double>(x, thresholds, packed);
    default: refuse_dtype("pack_activation_codes", x.dtype());
  }
}

void unpack(const Tensor& packed, const Tensor& codes) {
  const uint8_t* in = static_cast<const uint8_t*>(packed.raw_data());
  uint8_t* out = static_cast<uint8_t*>(codes.raw_data());
  const int64_t n = codes.numel();
  for (int64_t i = 0; i < n; ++i) out[i] = (in[i / 4] >> (2 * (i % 4))) & 3;
}

template <class T>
void backward_typed(const Tensor& packed, const Tensor& grad_output, const std::array<double, 4>& slopes,
                    const Tensor& grad_input) {
  const uint8_t* in = static_cast<const uint8_t*>(packed.raw_data());
  const T* dy = static_cast<const T*>(grad_output.raw_data());
  T* dx = static_cast<T*>(grad_input.raw_data());
  const int64_t n = grad_input.numel();
  const T table[4] = {static_cast<T>(slopes[0]), static_cast<T>(slopes[1]), static_cast<T>(slopes[2]),
                      static_cast<T>(slopes[3])};
  parallel_for(0, packed.numel(), kBytesPerTask, [&](int64_t lo, int64_t hi) {
    for (int64_t byte = lo; byte < hi; ++byte) {
      const uint8_t value = in[byte];
      for (int64_t slot = 0, i = byte * 4; slot < 4 && i < n; ++slot, ++i)
        dx[i] = dy[i] * table[(value >> (2 * slot)) & 3];
    }
  });
}

void backward(const Tensor& packed, const Tensor& grad_output, const std::array<double, 4>& slopes,
              const Tensor& grad_input) {
  switch (grad_input.dtype()) {
    case DType::f32: return backward_typed<float>(packed, grad_output, slopes, grad_input);
    case DType::f64: return backward_typed<double>(packed, grad_output, slopes, grad_input);
    default: refuse_dtype("approx_activation_backward", grad_input.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::pack_activation_codes, DeviceType::cpu, pack);
VIREO_REGISTER_KERNEL(kernels::unpack_activation_codes, DeviceType::cpu, unpack);
VIREO_REGISTER_KERNEL(kernels::approx_activation_backward, DeviceType::cpu, backward);

}  // namespace vireo::cpu
