// Element types on the GPU (nvcc only): Vireo's Half and BFloat16 are stored as __half and __nv_bfloat16
// (the same 16 bits), and kernels compute in Compute<T> — f32 for the 16-bit types, the type itself
// otherwise — loading with load() and storing with store(). dispatch_floating() picks T from a DType on the
// host, as engine/cpu/dtype_support.h does for the CPU, and refuses the rest with the op's name.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "engine/dtype.h"
#include "engine/error.h"

namespace vireo::cuda {

template <class T> struct ComputeType { using type = T; };
template <> struct ComputeType<__half> { using type = float; };
template <> struct ComputeType<__nv_bfloat16> { using type = float; };
template <class T> using Compute = typename ComputeType<T>::type;

template <class T>
__host__ __device__ __forceinline__ Compute<T> load(const T& value) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(value);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(value);
  else return value;
}

template <class T>
__host__ __device__ __forceinline__ T store(Compute<T> value) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(value);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(value);
  else return static_cast<T>(value);
}

// The device type that stores each DType (bool as one byte, like the CPU).
template <DType D> struct DeviceTypeOf;
template <> struct DeviceTypeOf<DType::f32> { using type = float; };
template <> struct DeviceTypeOf<DType::f64> { using type = double; };
template <> struct DeviceTypeOf<DType::i64> { using type = int64_t; };
template <> struct DeviceTypeOf<DType::f16> { using type = __half; };
template <> struct DeviceTypeOf<DType::bf16> { using type = __nv_bfloat16; };
template <> struct DeviceTypeOf<DType::i32> { using type = int32_t; };
template <> struct DeviceTypeOf<DType::u8> { using type = uint8_t; };
template <> struct DeviceTypeOf<DType::boolean> { using type = bool; };

[[noreturn]] inline void refuse_dtype(const char* op, DType dtype) {
  fail(op, ": the CUDA kernels do not compute in ", dtype, " (they compute in f32, f64, f16 and bf16",
       dtype == DType::i64 ? "; i64 holds indices" : "", ")");
}

// Runs body(T{}) with T = float, double, __half or __nv_bfloat16; refuses every other dtype.
template <class Body>
void dispatch_floating(const char* op, DType dtype, Body&& body) {
  switch (dtype) {
    case DType::f32: return body(float{});
    case DType::f64: return body(double{});
    case DType::f16: return body(__half{});
    case DType::bf16: return body(__nv_bfloat16{});
    default: refuse_dtype(op, dtype);
  }
}

// Runs body(T{}) with T = float, double, int64_t, __half or __nv_bfloat16: the dtypes that indexing and
// sorting kernels move and order (the CPU's f32, f64 and i64, and the GPU's 16-bit floats).
template <class Body>
void dispatch_floating_or_i64(const char* op, DType dtype, Body&& body) {
  switch (dtype) {
    case DType::f32: return body(float{});
    case DType::f64: return body(double{});
    case DType::i64: return body(int64_t{});
    case DType::f16: return body(__half{});
    case DType::bf16: return body(__nv_bfloat16{});
    default: fail(op, ": the CUDA kernels take f32, f64, i64, f16 and bf16 tensors here, not ", dtype);
  }
}

// Runs body(T{}) for every dtype (copies, fills, conversions).
template <class Body>
void dispatch_all(DType dtype, Body&& body) {
  switch (dtype) {
    case DType::f32: return body(float{});
    case DType::f64: return body(double{});
    case DType::i64: return body(int64_t{});
    case DType::f16: return body(__half{});
    case DType::bf16: return body(__nv_bfloat16{});
    case DType::i32: return body(int32_t{});
    case DType::u8: return body(uint8_t{});
    case DType::boolean: return body(bool{});
  }
}

}  // namespace vireo::cuda
