// CPU softmax, log_softmax and the fused cross-entropy, forward and backward.
//
// Two layouts of the [outer, extent, inner] block:
//   inner == 1 (softmax over the last dimension): each row is contiguous; loops run along it.
//   inner > 1: a block of up to kInnerBlock neighbouring rows is processed at once, so the loops run
//   along the contiguous inner axis (per-row state — maximum, sum — lives in small arrays).
// Work is split over rows (or row blocks) only; each row is reduced in order by one thread, so results do
// not depend on the thread count. exp is exp_kernel (engine/cpu/vector_exp.h): vectorizable in f32.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/cpu/dtype_support.h"
#include "engine/cpu/parallel.h"
#include "engine/cpu/vector_exp.h"
#include "engine/kernels/softmax.h"

namespace vireo::cpu {
namespace {

constexpr int64_t kInnerBlock = 128;

// Calls body(o, i0, len) for every (outer position, block of inner positions), split across threads;
// `row_cost` is the work per inner position (in elements touched).
template <class Body>
void for_each_block(int64_t outer, int64_t inner, int64_t row_cost, Body&& body) {
  const int64_t block = inner == 1 ? 1 : kInnerBlock;
  const int64_t blocks = (inner + block - 1) / block;
  const int64_t task_cost = std::max<int64_t>(1, row_cost * std::min(inner, block));
  parallel_for(0, outer * blocks, std::max<int64_t>(1, 32768 / task_cost), [&](int64_t lo, int64_t hi) {
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t o = task / blocks, i0 = (task % blocks) * block;
      body(o, i0, std::min(inner, i0 + block) - i0);
    }
  });
}

// ---- softmax / log_softmax ----

template <class T>
void softmax_row(const T* x, T* y, int64_t n, bool log) {
  T m = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t r = 0; r < n; ++r) m = x[r] > m ? x[r] : m;  // not std::max, which GCC leaves scalar
  T s = 0;
  if (log) {
#pragma omp simd reduction(+ : s)
    for (int64_t r = 0; r < n; ++r) s += exp_kernel(x[r] - m);
    const T shift = m + std::log(s);
#pragma omp simd
    for (int64_t r = 0; r < n; ++r) y[r] = x[r] - shift;
    return;
  }
#pragma omp simd reduction(+ : s)
  for (int64_t r = 0; r < n; ++r) {
    const T e = exp_kernel(x[r] - m);
    y[r] = e;
    s += e;
  }
  const T scale = T(1) / s;
#pragma omp simd
  for (int64_t r = 0; r < n; ++r) y[r] *= scale;
}

// Rows i0 … i0 + len − 1 of one outer position; x and y point at element (r = 0, i = i0).
template <class T>
void softmax_block(const T* x, T* y, int64_t extent, int64_t inner, int64_t len, bool log) {
  T m[kInnerBlock], s[kInnerBlock];
  std::fill(m, m + len, -std::numeric_limits<T>::infinity());
  std::fill(s, s + len, T(0));
  for (int64_t r = 0; r < extent; ++r) {
    const T* xr = x + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) m[i] = xr[i] > m[i] ? xr[i] : m[i];
  }
  for (int64_t r = 0; r < extent; ++r) {
    const T* xr = x + r * inner;
    T* yr = y + r * inner;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
      const T e = exp_kernel(xr[i] - m[i]);
      if (!log) yr[i] = e;
      s[i] += e;
    }
  }
  // Reuse s as the per-row constant: the scale 1/Σ, or the shift m + log Σ.
  for (int64_t i = 0; i < len; ++i) s[i] = log ? m[i] + std::log(s[i]) : T(1) / s[i];
  for (int64_t r = 0; r < extent; ++r) {
    const T* xr = x + r * inner;
    T* yr = y + r * inner;
    if (log) {
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) yr[i] = xr[i] - s[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) yr[i] *= s[i];
    }
  }
}

template <class T>
void softmax_typed(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool log, const Tensor& y) {
  const T* xp = static_cast<const T*>(x.raw_data());
  T* yp = static_cast<T*>(y.raw_data());
  if (extent == 0) return;
  for_each_block(outer, inner, 3 * extent, [&](int64_t o, int64_t i0, int64_t len) {
    const int64_t at = o * extent * inner + i0;
    if (inner == 1) softmax_row(xp + at, yp + at, extent, log);
    else softmax_block(xp + at, yp + at, extent, inner, len, log);
  });
}

template <class T>
void softmax_backward_typed(const Tensor& y, const Tensor& g, int64_t outer, int64_t extent, int64_t inner, bool log,
                            const Tensor& dx) {
  const T* yp = static_cast<const T*>(y.raw_data());
  const T* gp = static_cast<const T*>(g.raw_data());
  T* dp = static_cast<T*>(dx.raw_data());
  if (extent == 0) return;
  for_each_block(outer, inner, 3 * extent, [&](int64_t o, int64_t i0, int64_t len) {
    const int64_t at = o * extent * inner + i0;
    const T* yb = yp + at;
    const T* gb = gp + at;
    T* db = dp + at;
    if (inner == 1) {
      // softmax: Σ g·y; log_softmax: Σ g.
      T total = 0;
      if (log) {
#pragma omp simd reduction(+ : total)
        for (int64_t r = 0; r < extent; ++r) total += gb[r];
#pragma omp simd
        for (int64_t r = 0; r < extent; ++r) db[r] = gb[r] - exp_kernel(yb[r]) * total;
      } else {
#pragma omp simd reduction(+ : total)
        for (int64_t r = 0; r < extent; ++r) total += gb[r] * yb[r];
#pragma omp simd
        for (int64_t r = 0; r < extent; ++r) db[r] = yb[r] * (gb[r] - total);
      }
      return;
    }
    T total[kInnerBlock];
    std::fill(total, total + len, T(0));
    for (int64_t r = 0; r < extent; ++r) {
      const T* yr = yb + r * inner;
      const T* gr = gb + r * inner;
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) total[i] += log ? gr[i] : gr[i] * yr[i];
    }
    for (int64_t r = 0; r < extent; ++r) {
      const T* yr = yb + r * inner;
      const T* gr = gb + r * inner;
      T* dr = db + r * inner;
      if (log) {
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) dr[i] = gr[i] - exp_kernel(yr[i]) * total[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) dr[i] = yr[i] * (gr[i] - total[i]);
      }
    }
  });
}

void softmax(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool log, const Tensor& y) {
  switch (x.dtype()) {
    case DType::f32: return softmax_typed<float>(x, outer, extent, inner, log, y);
    case DType::f64: return softmax_typed<double>(x, outer, extent, inner, log, y);
    case DType::i64: fail("softmax: needs a floating tensor, got ", describe(x));
    default: refuse_dtype(log ? "log_softmax" : "softmax", x.dtype());
  }
}

void softmax_backward(const Tensor& y, const Tensor& g, int64_t outer, int64_t extent, int64_t inner, bool log,
                      const Tensor& dx) {
  switch (y.dtype()) {
    case DType::f32: return softmax_backward_typed<float>(y, g, outer, extent, inner, log, dx);
    case DType::f64: return softmax_backward_typed<double>(y, g, outer, extent, inner, log, dx);
    case DType::i64: fail("softmax_backward: needs a floating tensor, got ", describe(y));
    default: refuse_dtype(log ? "log_softmax_backward" : "softmax_backward", y.dtype());
  }
}

// ---- cross-entropy with class indices ----

template <class T>
void cross_entropy_typed(const Tensor& logits, const Tensor& target, int64_t outer, int64_t classes, int64_t inner,
                         double smoothing, int64_t ignore_index, const Tensor& loss, const Tensor& lse) {
  const T* xp = static_cast<const T*>(logits.raw_data());
  const int64_t* tp = target.data<int64_t>();
  T* lp = static_cast<T*>(loss.raw_data());
  T* sp = static_cast<T*>(lse.raw_data());
  for (int64_t k = 0; k < outer * inner; ++k)
    if (tp[k] != ignore_index && (tp[k] < 0 || tp[k] >= classes))
      fail("cross_entropy: target class index ", tp[k], " is out of range for ", classes, " classes");
  const T keep = static_cast<T>(1.0 - smoothing), spread = static_cast<T>(smoothing / static_cast<double>(classes));
  for_each_block(outer, inner, 2 * classes, [&](int64_t o, int64_t i0, int64_t len) {
    const T* x = xp + o * classes * inner + i0;
    const int64_t at = o * inner + i0;
    T m[kInnerBlock], s[kInnerBlock], sum_x[kInnerBlock];
    std::fill(m, m + len, -std::numeric_limits<T>::infinity());
    std::fill(s, s + len, T(0));
    std::fill(sum_x, sum_x + len, T(0));
    if (inner == 1) {
      T mv = m[0], sv = 0, xv = 0;
#pragma omp simd reduction(max : mv)
      for (int64_t c = 0; c < classes; ++c) mv = x[c] > mv ? x[c] : mv;
#pragma omp simd reduction(+ : sv, xv)
      for (int64_t c = 0; c < classes; ++c) {
        sv += exp_kernel(x[c] - mv);
        xv += x[c];
      }
      m[0] = mv, s[0] = sv, sum_x[0] = xv;
    } else {
      for (int64_t c = 0; c < classes; ++c) {
        const T* xr = x + c * inner;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) m[i] = xr[i] > m[i] ? xr[i] : m[i];
      }
      for (int64_t c = 0; c < classes; ++c) {
        const T* xr = x + c * inner;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          s[i] += exp_kernel(xr[i] - m[i]);
          sum_x[i] += xr[i];
        }
      }
    }
    for (int64_t i = 0; i < len; ++i) {
      const T log_sum = m[i] + std::log(s[i]);
      const int64_t t = tp[at + i];
      sp[at + i] = log_sum;
      lp[at + i] = t == ignore_index ? T(0) : log_sum - keep * x[t * inner + i] - spread * sum_x[i];
    }
  });
}

template <class T>
void cross_entropy_backward_typed(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& grad_loss,
                                  int64_t outer, int64_t classes, int64_t inner, double smoothing,
                                  int64_t ignore_index, const Tensor& grad_logits) {
  const T* xp = static_cast<const T*>(logits.raw_data());
  const int64_t* tp = target.data<int64_t>();
  const T* sp = static_cast<const T*>(lse.raw_data());
  const T* gp = static_cast<const T*>(grad_loss.raw_data());
  T* dp = static_cast<T*>(grad_logits.raw_data());
  const T keep = static_cast<T>(1.0 - smoothing), spread = static_cast<T>(smoothing / static_cast<double>(classes));
  for_each_block(outer, inner, 2 * classes, [&](int64_t o, int64_t i0, int64_t len) {
    const int64_t base = o * classes * inner + i0, at = o * inner + i0;
    const T* x = xp + base;
    T* d = dp + base;
    // Ignored positions get g = 0, which zeroes their whole column.
    auto weight = [&](int64_t i) { return tp[at + i] == ignore_index ? T(0) : gp[at + i]; };
    T g[kInnerBlock];
    if (inner == 1) {
      const T gv = weight(0), sv = sp[at];
#pragma omp simd
      for (int64_t c = 0; c < classes; ++c) d[c] = gv * (exp_kernel(x[c] - sv) - spread);
      g[0] = gv;
    } else {
      T shift[kInnerBlock];
      for (int64_t i = 0; i < len; ++i) {
        g[i] = weight(i);
        shift[i] = sp[at + i];
      }
      for (int64_t c = 0; c < classes; ++c) {
        const T* xr = x + c * inner;
        T* dr = d + c * inner;
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) dr[i] = g[i] * (exp_kernel(xr[i] - shift[i]) - spread);
      }
    }
    for (int64_t i = 0; i < len; ++i)
      if (tp[at + i] != ignore_index) d[tp[at + i] * inner + i] -= g[i] * keep;
  });
}

void cross_entropy(const Tensor& logits, const Tensor& target, int64_t outer, int64_t classes, int64_t inner,
                   double smoothing, int64_t ignore_index, const Tensor& loss, const Tensor& lse) {
  switch (logits.dtype()) {
    case DType::f32:
      return cross_entropy_typed<float>(logits, target, outer, classes, inner, smoothing, ignore_index, loss, lse);
    case DType::f64:
      return cross_entropy_typed<double>(logits, target, outer, classes, inner, smoothing, ignore_index, loss, lse);
    case DType::i64: fail("cross_entropy: logits must be floating, got ", describe(logits));
    default: refuse_dtype("cross_entropy", logits.dtype());
  }
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& grad_loss,
                            int64_t outer, int64_t classes, int64_t inner, double smoothing, int64_t ignore_index,
                            const Tensor& grad_logits) {
  switch (logits.dtype()) {
    case DType::f32:
      return cross_entropy_backward_typed<float>(logits, target, lse, grad_loss, outer, classes, inner, smoothing,
                                                 ignore_index, grad_logits);
    case DType::f64:
      return cross_entropy_backward_typed<double>(logits, target, lse, grad_loss, outer, classes, inner, smoothing,
                                                  ignore_index, grad_logits);
    case DType::i64: fail("cross_entropy_backward: logits must be floating, got ", describe(logits));
    default: refuse_dtype("cross_entropy_backward", logits.dtype());
  }
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::softmax, DeviceType::cpu, softmax);
VIREO_REGISTER_KERNEL(kernels::softmax_backward, DeviceType::cpu, softmax_backward);
VIREO_REGISTER_KERNEL(kernels::cross_entropy, DeviceType::cpu, cross_entropy);
VIREO_REGISTER_KERNEL(kernels::cross_entropy_backward, DeviceType::cpu, cross_entropy_backward);

}  // namespace vireo::cpu
