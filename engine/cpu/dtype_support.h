// Which element types the CPU kernels compute in, and the one refusal for the others.
//
// CPU kernels compute in f32 and f64, and in i64 where integer math means something (arithmetic,
// comparisons, sums, sorting, indexing). f16, bf16, i32, u8 and bool are storage types on the CPU: a kernel
// that met one and fell through to a float or double loop would read its bytes as another type. So every
// CPU kernel's dtype switch ends in refuse_dtype(), which names the op and the dtype and says what to do.
// Only the copy and fill kernels (engine/cpu/copy.cpp) handle every dtype.
#pragma once

#include "engine/dtype.h"
#include "engine/error.h"

namespace vireo::cpu {

[[noreturn]] inline void refuse_dtype(const char* op, DType dtype) {
  if (dtype == DType::i64) fail(op, ": needs a floating tensor, got i64");
  fail(op, ": the CPU kernels do not compute in ", dtype, "; ", dtype, " is a storage type on the CPU (convert with ",
       is_floating(dtype) ? ".to(DType::f32)" : ".to(DType::i64) or .to(DType::f32)", " first)");
}

// Runs body(T{}) with T = float or double; refuses every other dtype.
template <class Body>
void dispatch_floating(const char* op, DType dtype, Body&& body) {
  switch (dtype) {
    case DType::f32: return body(float{});
    case DType::f64: return body(double{});
    default: refuse_dtype(op, dtype);
  }
}

}  // namespace vireo::cpu
