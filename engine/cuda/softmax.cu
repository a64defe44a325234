// CUDA softmax, log_softmax and the fused cross-entropy, forward and backward, over the middle axis of a
// contiguous [outer, extent, inner] block (contracts and formulas: engine/kernels/softmax.h).
//
// Forward passes read each line twice. The first pass finds the maximum m and s = Σ exp(x − m) together,
// online as in flash attention (engine/cuda/reduce_math.h): every thread keeps (m, s) for its strided share
// of the line, rescaling s when a larger value arrives, and the line's group of threads merges the states
// as a tree (engine/cuda/line_reduce.cuh). The second pass writes exp(x − m)/s or x − (m + log s). The
// backward passes likewise reduce Σ g·y (or Σ g) per line, then write. The cross-entropy backward needs no
// reduction (the forward kept log Σ exp), so it is a plain elementwise kernel.
//
// Math runs in Compute<T> (f32 for f16/bf16), as the CPU's f32 kernels run in f32.
#include "engine/cuda/common.h"
#include "engine/cuda/device_types.cuh"
#include "engine/cuda/line_reduce.cuh"
#include "engine/cuda/reduce_math.h"
#include "engine/kernels/softmax.h"

namespace vireo::cuda {
namespace {

template <class C>
struct SoftmaxCombine {
  __device__ SoftmaxState<C> operator()(SoftmaxState<C> a, SoftmaxState<C> b) const { return softmax_combine(a, b); }
};

template <class C>
struct SumCombine {
  __device__ C operator()(C a, C b) const { return a + b; }
};

// The line's (m, s), known to every thread of its group.
template <class T>
__device__ SoftmaxState<Compute<T>> line_softmax_state(const T* __restrict__ x, const LineThread& t, int64_t extent) {
  using C = Compute<T>;
  SoftmaxState<C> state = softmax_identity<C>();
  if (t.line >= 0)
    for (int64_t r = t.lane; r < extent; r += t.group)
      state = softmax_combine(state, softmax_element(load(x[t.base + r * t.stride])));
  return softmax_finish(group_reduce(state, t, SoftmaxCombine<C>{}));
}

template <class T>
__global__ void softmax_forward(const T* __restrict__ x, T* __restrict__ y, int64_t outer, int64_t extent,
                                int64_t inner, bool log) {
  using C = Compute<T>;
  const LineThread t = line_thread(outer, extent, inner);
  const SoftmaxState<C> state = line_softmax_state(x, t, extent);
  if (t.line < 0) return;
  if (log) {
    const C shift = softmax_log_sum(state);
    for (int64_t r = t.lane; r < extent; r += t.group) {
      const int64_t at = t.base + r * t.stride;
      y[at] = store<T>(load(x[at]) - shift);
    }
  } else {
    const C scale = C(1) / state.sum;
    for (int64_t r = t.lane; r < extent; r += t.group) {
      const int64_t at = t.base + r * t.stride;
      y[at] = store<T>(std::exp(load(x[at]) - state.max) * scale);
    }
  }
}

// softmax: dx = y ⊙ (g − Σ g·y);  log_softmax: dx = g − exp(y) ⊙ Σ g.
template <class T>
__global__ void softmax_backward_kernel(const T* __restrict__ y, const T* __restrict__ g, T* __restrict__ dx,
                                        int64_t outer, int64_t extent, int64_t inner, bool log) {
  using C = Compute<T>;
  const LineThread t = line_thread(outer, extent, inner);
  C partial = C(0);
  if (t.line >= 0) {
    for (int64_t r = t.lane; r < extent; r += t.group) {
      const int64_t at = t.base + r * t.stride;
      partial += log ? load(g[at]) : load(g[at]) * load(y[at]);
    }
  }
  const C total = group_reduce(partial, t, SumCombine<C>{});
  if (t.line < 0) return;
  for (int64_t r = t.lane; r < extent; r += t.group) {
    const int64_t at = t.base + r * t.stride;
    const C yv = load(y[at]), gv = load(g[at]);
    dx[at] = store<T>(log ? gv - std::exp(yv) * total : yv * (gv - total));
  }
}

// The cross-entropy's per-line state: the softmax state and Σ x (for the label smoothing term).
template <class C>
struct CrossEntropyState {
  SoftmaxState<C> softmax;
  C sum_x;
};

template <class C>
struct CrossEntropyCombine {
  __device__ CrossEntropyState<C> operator()(CrossEntropyState<C> a, CrossEntropyState<C> b) const {
    return {softmax_combine(a.softmax, b.softmax), a.sum_x + b.sum_x};
  }
};

// Where a target outside [0, classes) is reported back to the host: a flag and the offending value.
struct TargetError {
  unsigned long long found;
  long long target;
};

// loss = lse − (1 − ε)·x_t − (ε/C)·Σ x, 0 where t is ignored; lse = log Σ exp x.
template <class T>
__global__ void cross_entropy_forward(const T* __restrict__ logits, const int64_t* __restrict__ target,
                                      int64_t outer, int64_t classes, int64_t inner, Compute<T> keep,
                                      Compute<T> spread, int64_t ignore_index, T* __restrict__ loss,
                                      T* __restrict__ lse, TargetError* __restrict__ error) {
  using C = Compute<T>;
  const LineThread t = line_thread(outer, classes, inner);
  CrossEntropyState<C> state{softmax_identity<C>(), C(0)};
  if (t.line >= 0) {
    for (int64_t c = t.lane; c < classes; c += t.group) {
      const C v = load(logits[t.base + c * t.stride]);
      state.softmax = softmax_combine(state.softmax, softmax_element(v));
      state.sum_x += v;
    }
  }
  state = group_reduce(state, t, CrossEntropyCombine<C>{});
  if (t.line < 0 || t.lane != 0) return;
  const C log_sum = softmax_log_sum(state.softmax);
  const int64_t k = target[t.line];
  lse[t.line] = store<T>(log_sum);
  if (k == ignore_index) {
    loss[t.line] = store<T>(C(0));
  } else if (k < 0 || k >= classes) {
    error->target = static_cast<long long>(k);  // any offending value will do for the message
    atomicExch(&error->found, 1ull);
    loss[t.line] = store<T>(C(0));  // never read: the host throws
  } else {
    loss[t.line] = store<T>(log_sum - keep * load(logits[t.base + k * t.stride]) - spread * state.sum_x);
  }
}

// dlogits_c = g·(exp(x_c − lse) − (1 − ε)·[c = t] − ε/C), 0 for ignored positions: one thread per element.
template <class T>
__global__ void cross_entropy_backward_kernel(const T* __restrict__ logits, const int64_t* __restrict__ target,
                                              const T* __restrict__ lse, const T* __restrict__ grad_loss,
                                              int64_t outer, int64_t classes, int64_t inner, Compute<T> keep,
                                              Compute<T> spread, int64_t ignore_index, T* __restrict__ grad_logits) {
  using C = Compute<T>;
  const int64_t n = outer * classes * inner;
  for (int64_t e = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; e < n; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t i = e % inner, c = (e / inner) % classes, o = e / (inner * classes);
    const int64_t line = o * inner + i;
    const int64_t k = target[line];
    if (k == ignore_index) {
      grad_logits[e] = store<T>(C(0));
      continue;
    }
    const C g = load(grad_loss[line]);
    C d = g * (std::exp(load(logits[e]) - load(lse[line])) - spread);
    if (c == k) d -= g * keep;
    grad_logits[e] = store<T>(d);
  }
}

void check_contiguous(const char* op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    VIREO_CHECK(t->is_contiguous(), op, ": the CUDA kernel takes contiguous tensors, got ", describe(*t));
}

void softmax(const Tensor& x, int64_t outer, int64_t extent, int64_t inner, bool log, const Tensor& y) {
  const char* op = log ? "log_softmax" : "softmax";
  check_contiguous(op, {&x, &y});
  if (outer * extent * inner == 0) return;
  dispatch_floating(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const LineGeometry g = line_geometry(outer, extent, inner);
    softmax_forward<T><<<static_cast<unsigned>(g.blocks), g.block, group_shared_bytes<SoftmaxState<Compute<T>>>(g),
                         stream()>>>(static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), outer,
                                     extent, inner, log);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void softmax_backward(const Tensor& y, const Tensor& g, int64_t outer, int64_t extent, int64_t inner, bool log,
                      const Tensor& dx) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_contiguous(op, {&y, &g, &dx});
  if (outer * extent * inner == 0) return;
  dispatch_floating(op, y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const LineGeometry geometry = line_geometry(outer, extent, inner);
    softmax_backward_kernel<T><<<static_cast<unsigned>(geometry.blocks), geometry.block,
                                 group_shared_bytes<Compute<T>>(geometry), stream()>>>(
        static_cast<const T*>(y.raw_data()), static_cast<const T*>(g.raw_data()), static_cast<T*>(dx.raw_data()),
        outer, extent, inner, log);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

void cross_entropy(const Tensor& logits, const Tensor& target, int64_t outer, int64_t classes, int64_t inner,
                   double smoothing, int64_t ignore_index, const Tensor& loss, const Tensor& lse) {
  check_contiguous("cross_entropy", {&logits, &target, &loss, &lse});
  VIREO_CHECK(target.dtype() == DType::i64, "cross_entropy: targets must be i64 class indices, got ", describe(target));
  if (outer * inner == 0) return;
  dispatch_floating("cross_entropy", logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    DeviceBuffer error(sizeof(TargetError), logits.device().index);
    VIREO_CUDA_CHECK(cudaMemsetAsync(error.data(), 0, sizeof(TargetError), stream()));
    const LineGeometry g = line_geometry(outer, classes, inner);
    cross_entropy_forward<T><<<static_cast<unsigned>(g.blocks), g.block,
                               group_shared_bytes<CrossEntropyState<C>>(g), stream()>>>(
        static_cast<const T*>(logits.raw_data()), static_cast<const int64_t*>(target.raw_data()), outer, classes,
        inner, static_cast<C>(1.0 - smoothing), static_cast<C>(smoothing / static_cast<double>(classes)),
        ignore_index, static_cast<T*>(loss.raw_data()), static_cast<T*>(lse.raw_data()), error.as<TargetError>());
    VIREO_CUDA_CHECK_LAUNCH();
    // The CPU kernel refuses a bad target; so must this one, which means waiting for the flag.
    TargetError found{};
    VIREO_CUDA_CHECK(cudaMemcpyAsync(&found, error.data(), sizeof(TargetError), cudaMemcpyDeviceToHost, stream()));
    VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
    if (found.found != 0)
      fail("cross_entropy: target class index ", found.target, " is out of range for ", classes, " classes");
  });
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& grad_loss,
                            int64_t outer, int64_t classes, int64_t inner, double smoothing, int64_t ignore_index,
                            const Tensor& grad_logits) {
  check_contiguous("cross_entropy_backward", {&logits, &target, &lse, &grad_loss, &grad_logits});
  const int64_t n = outer * classes * inner;
  if (n == 0) return;
  dispatch_floating("cross_entropy_backward", logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = Compute<T>;
    cross_entropy_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<const T*>(logits.raw_data()), static_cast<const int64_t*>(target.raw_data()),
        static_cast<const T*>(lse.raw_data()), static_cast<const T*>(grad_loss.raw_data()), outer, classes, inner,
        static_cast<C>(1.0 - smoothing), static_cast<C>(smoothing / static_cast<double>(classes)), ignore_index,
        static_cast<T*>(grad_logits.raw_data()));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::softmax, DeviceType::cuda, softmax);
VIREO_REGISTER_KERNEL(kernels::softmax_backward, DeviceType::cuda, softmax_backward);
VIREO_REGISTER_KERNEL(kernels::cross_entropy, DeviceType::cuda, cross_entropy);
VIREO_REGISTER_KERNEL(kernels::cross_entropy_backward, DeviceType::cuda, cross_entropy_backward);

}  // namespace vireo::cuda
