// CPU optimizer kernels (engine/kernels/optim.h): each update is one loop over contiguous memory, split
// across threads by element range, that reads a parameter, its gradient and its state once and writes them
// back once. The flags of an update are loop invariants; the loops that touch a buffer only some
// configurations have are written separately, so no loop dereferences an absent buffer.
//
// Norms (LARS trust ratios, gradient clipping) are sums over many elements. To make them independent of the
// thread count, a tensor is cut into chunks whose size depends only on its length, each chunk is summed
// on its own (in parallel), and the chunk sums are added in chunk order.
//
// Every loop is a function of its own that receives the data pointers and scalars by value: a loop inside
// a lambda that reads them through its captures makes the compiler reload them after each store (they
// might alias), which turned the reductions into gathers, several times slower.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "engine/cpu/parallel.h"
#include "engine/kernels/optim.h"

namespace vireo::cpu {
namespace {

using kernels::AdamUpdate;
using kernels::LarsUpdate;
using kernels::SgdUpdate;

// Elements per thread below which waking another thread costs more than it saves (the updates are a few
// flops per element and bound by memory).
constexpr int64_t kUpdateGrain = 1 << 15;

// At most kMaxChunks chunks of at least kMinChunk elements: the partials fit in a stack array, so a
// reduction allocates nothing.
constexpr int64_t kMinChunk = 1 << 14;
constexpr int64_t kMaxChunks = 256;

// Reduces [0, n) as reduce_range(lo, hi) over fixed chunks, then folds the chunk results in order with
// combine, starting from identity.
template <class Partial, class ReduceRange, class Combine>
Partial reduce_in_fixed_chunks(int64_t n, Partial identity, ReduceRange reduce_range, Combine combine) {
  const int64_t chunk = std::max(kMinChunk, (n + kMaxChunks - 1) / kMaxChunks);
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::array<Partial, kMaxChunks> partial;
  parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) partial[c] = reduce_range(c * chunk, std::min(n, (c + 1) * chunk));
  });
  Partial total = identity;
  for (int64_t c = 0; c < chunks; ++c) total = combine(total, partial[c]);
  return total;
}

// ---- SGD ----

template <class T>
void sgd_range(T* p, const T* g, int64_t lo, int64_t hi, T lr, T weight_decay, bool decay, bool maximize) {
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    T d = maximize ? -g[i] : g[i];
    if (decay) d = d + weight_decay * p[i];
    p[i] = p[i] + -lr * d;
  }
}

template <class T>
void sgd_momentum_range(T* p, const T* g, T* buf, int64_t lo, int64_t hi, T lr, T weight_decay, T momentum, T keep,
                        bool decay, bool maximize, bool nesterov, bool first_step) {
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    T d = maximize ? -g[i] : g[i];
    if (decay) d = d + weight_decay * p[i];
    const T b = first_step ? d : buf[i] * momentum + keep * d;
    buf[i] = b;
    d = nesterov ? d + momentum * b : b;
    p[i] = p[i] + -lr * d;
  }
}

template <class T>
void sgd_update_typed(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdUpdate& u) {
  T* p = param.data<T>();
  const T* g = grad.data<T>();
  const T lr = static_cast<T>(u.lr), weight_decay = static_cast<T>(u.weight_decay);
  const bool decay = u.weight_decay != 0.0, maximize = u.maximize;
  if (u.momentum == 0.0) {
    parallel_for(0, param.numel(), kUpdateGrain, [=](int64_t lo, int64_t hi) {
      sgd_range(p, g, lo, hi, lr, weight_decay, decay, maximize);
    });
    return;
  }
  T* buf = momentum_buffer.data<T>();
  const T momentum = static_cast<T>(u.momentum), keep = static_cast<T>(1.0 - u.dampening);
  const bool nesterov = u.nesterov, first_step = u.first_step;
  parallel_for(0, param.numel(), kUpdateGrain, [=](int64_t lo, int64_t hi) {
    sgd_momentum_range(p, g, buf, lo, hi, lr, weight_decay, momentum, keep, decay, maximize, nesterov, first_step);
  });
}

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdUpdate& update) {
  if (param.dtype() == DType::f32) return sgd_update_typed<float>(param, grad, momentum_buffer, update);
  if (param.dtype() == DType::f64) return sgd_update_typed<double>(param, grad, momentum_buffer, update);
  fail("sgd_update: parameters must be f32 or f64, not ", param.dtype());
}

// ---- Adam / AdamW ----

// torch's lerp (ATen/native/Lerp.h): the form that is exact at whichever end the weight is near.
template <class T>
inline T lerp(T start, T end, T weight, bool weight_is_small) {
  return weight_is_small ? start + weight * (end - start) : end - (end - start) * (T(1) - weight);
}

// The loop invariants of one Adam update, in the operands' type.
template <class T>
struct AdamScalars {
  bool maximize, decoupled, coupled, average_weight_is_small;
  T weight_decay, decay_factor, average_weight, beta2, one_minus_beta2, bias_correction2_sqrt, eps, minus_step_size;
};

template <class T, bool kAmsgrad>
void adam_range(T* p, const T* g, T* m, T* v, T* v_max, int64_t lo, int64_t hi, const AdamScalars<T> s) {
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    T gi = s.maximize ? -g[i] : g[i];
    T pi = p[i];
    if (s.decoupled) pi = pi * s.decay_factor;
    if (s.coupled) gi = gi + s.weight_decay * pi;
    const T mi = lerp(m[i], gi, s.average_weight, s.average_weight_is_small);
    const T vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if constexpr (kAmsgrad) {
      second = (vi > v_max[i] || vi != vi) ? vi : v_max[i];  // torch.maximum: NaN wins
      v_max[i] = second;
    }
    const T denom = std::sqrt(second) / s.bias_correction2_sqrt + s.eps;
    p[i] = pi + s.minus_step_size * (mi / denom);
  }
}

template <class T>
void adam_update_typed(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                       const Tensor& max_exp_avg_sq, const AdamUpdate& u) {
  const AdamScalars<T> scalars{
      .maximize = u.maximize,
      .decoupled = u.decoupled_weight_decay && u.weight_decay != 0.0,
      .coupled = !u.decoupled_weight_decay && u.weight_decay != 0.0,
      .average_weight_is_small = std::abs(1.0 - u.beta1) < 0.5,
      .weight_decay = static_cast<T>(u.weight_decay),
      .decay_factor = static_cast<T>(1.0 - u.lr * u.weight_decay),
      .average_weight = static_cast<T>(1.0 - u.beta1),
      .beta2 = static_cast<T>(u.beta2),
      .one_minus_beta2 = static_cast<T>(1.0 - u.beta2),
      .bias_correction2_sqrt = static_cast<T>(u.bias_correction2_sqrt),
      .eps = static_cast<T>(u.eps),
      .minus_step_size = static_cast<T>(-u.step_size)};
  T* p = param.data<T>();
  const T* g = grad.data<T>();
  T* m = exp_avg.data<T>();
  T* v = exp_avg_sq.data<T>();
  if (u.amsgrad) {
    T* v_max = max_exp_avg_sq.data<T>();
    parallel_for(0, param.numel(), kUpdateGrain, [=](int64_t lo, int64_t hi) {
      adam_range<T, true>(p, g, m, v, v_max, lo, hi, scalars);
    });
  } else {
    parallel_for(0, param.numel(), kUpdateGrain, [=](int64_t lo, int64_t hi) {
      adam_range<T, false>(p, g, m, v, nullptr, lo, hi, scalars);
    });
  }
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor& max_exp_avg_sq, const AdamUpdate& update) {
  if (param.dtype() == DType::f32)
    return adam_update_typed<float>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, update);
  if (param.dtype() == DType::f64)
    return adam_update_typed<double>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, update);
  fail("adam_update: parameters must be f32 or f64, not ", param.dtype());
}

// ---- LARS ----

struct SquaredNorms {
  double param = 0.0;
  double update = 0.0;
};

// ‖p‖² and ‖d‖² over [lo, hi), d = g + weight_decay·p computed in T exactly as the update computes it.
template <class T>
SquaredNorms lars_squared_norms(const T* p, const T* g, T weight_decay, int64_t lo, int64_t hi) {
  double pp = 0.0, dd = 0.0;
#pragma omp simd reduction(+ : pp, dd)
  for (int64_t i = lo; i < hi; ++i) {
    const double pi = p[i], di = g[i] + weight_decay * p[i];
    pp += pi * pi;
    dd += di * di;
  }
  return SquaredNorms{pp, dd};
}

template <class T>
void lars_range(T* p, const T* g, T* buf, int64_t lo, int64_t hi, T lr, T weight_decay, T momentum, T ratio) {
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) {
    const T d = (g[i] + weight_decay * p[i]) * ratio;
    const T b = momentum * buf[i] + d;
    buf[i] = b;
    p[i] = p[i] - lr * b;
  }
}

template <class T>
void lars_update_typed(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const LarsUpdate& u,
                       double& trust_ratio) {
  T* p = param.data<T>();
  const T* g = grad.data<T>();
  T* buf = momentum_buffer.data<T>();
  const int64_t n = param.numel();
  const T weight_decay = static_cast<T>(u.weight_decay);

  trust_ratio = 1.0;
  if (u.adapt) {
    const SquaredNorms norms = reduce_in_fixed_chunks(
        n, SquaredNorms{},
        [=](int64_t lo, int64_t hi) { return lars_squared_norms(p, g, weight_decay, lo, hi); },
        [](SquaredNorms a, SquaredNorms b) { return SquaredNorms{a.param + b.param, a.update + b.update}; });
    const double param_norm = std::sqrt(norms.param), update_norm = std::sqrt(norms.update);
    if (param_norm > 0.0 && update_norm > 0.0) trust_ratio = u.trust_coefficient * param_norm / (update_norm + u.eps);
  }

  const T ratio = static_cast<T>(trust_ratio), momentum = static_cast<T>(u.momentum), lr = static_cast<T>(u.lr);
  parallel_for(0, n, kUpdateGrain, [=](int64_t lo, int64_t hi) {
    lars_range(p, g, buf, lo, hi, lr, weight_decay, momentum, ratio);
  });
}

void lars_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const LarsUpdate& update,
                 const Tensor& trust_ratio) {
  double ratio = 1.0;
  if (param.dtype() == DType::f32) lars_update_typed<float>(param, grad, momentum_buffer, update, ratio);
  else if (param.dtype() == DType::f64) lars_update_typed<double>(param, grad, momentum_buffer, update, ratio);
  else fail("lars_update: parameters must be f32 or f64, not ", param.dtype());
  *trust_ratio.data<double>() = ratio;
}

// ---- norms and scaling for gradient clipping ----

// max|x| with NaN propagating, as torch's inf-norm does.
struct MaxAbs {
  double value = 0.0;
  bool saw_nan = false;
};

template <class T>
MaxAbs largest_magnitude(const T* x, int64_t lo, int64_t hi) {
  double value = 0.0;
  int nan = 0;
#pragma omp simd reduction(max : value) reduction(| : nan)
  for (int64_t i = lo; i < hi; ++i) {
    const double a = std::abs(static_cast<double>(x[i]));
    value = std::max(value, a);
    nan |= a != a;
  }
  return MaxAbs{value, nan != 0};
}

template <class T>
double sum_of_squares(const T* x, int64_t lo, int64_t hi) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = lo; i < hi; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return sum;
}

template <class T>
double sum_of_magnitudes(const T* x, int64_t lo, int64_t hi) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = lo; i < hi; ++i) sum += std::abs(static_cast<double>(x[i]));
  return sum;
}

template <class T>
double sum_of_powers(const T* x, int64_t lo, int64_t hi, double power) {
  double sum = 0.0;
  for (int64_t i = lo; i < hi; ++i) sum += std::pow(std::abs(static_cast<double>(x[i])), power);
  return sum;
}

template <class T>
void norm_power_sum_typed(const Tensor& x, double norm_type, double& result) {
  const T* xp = x.data<T>();
  const int64_t n = x.numel();
  auto add = [](double a, double b) { return a + b; };
  if (std::isinf(norm_type)) {
    const MaxAbs largest = reduce_in_fixed_chunks(
        n, MaxAbs{}, [=](int64_t lo, int64_t hi) { return largest_magnitude(xp, lo, hi); },
        [](MaxAbs a, MaxAbs b) { return MaxAbs{std::max(a.value, b.value), a.saw_nan || b.saw_nan}; });
    result = largest.saw_nan ? std::numeric_limits<double>::quiet_NaN() : largest.value;
  } else if (norm_type == 2.0) {
    result = reduce_in_fixed_chunks(n, 0.0, [=](int64_t lo, int64_t hi) { return sum_of_squares(xp, lo, hi); }, add);
  } else if (norm_type == 1.0) {
    result = reduce_in_fixed_chunks(n, 0.0, [=](int64_t lo, int64_t hi) { return sum_of_magnitudes(xp, lo, hi); }, add);
  } else {
    result = reduce_in_fixed_chunks(
        n, 0.0, [=](int64_t lo, int64_t hi) { return sum_of_powers(xp, lo, hi, norm_type); }, add);
  }
}

void norm_power_sum(const Tensor& x, double norm_type, double& result) {
  if (x.dtype() == DType::f32) return norm_power_sum_typed<float>(x, norm_type, result);
  if (x.dtype() == DType::f64) return norm_power_sum_typed<double>(x, norm_type, result);
  fail("norm_power_sum: tensors must be f32 or f64, not ", x.dtype());
}

template <class T>
void scale_range(T* x, int64_t lo, int64_t hi, T factor) {
#pragma omp simd
  for (int64_t i = lo; i < hi; ++i) x[i] = x[i] * factor;
}

template <class T>
void scale_in_place_typed(const Tensor& x, double factor) {
  T* xp = x.data<T>();
  const T f = static_cast<T>(factor);
  parallel_for(0, x.numel(), kUpdateGrain, [=](int64_t lo, int64_t hi) { scale_range(xp, lo, hi, f); });
}

void scale_in_place(const Tensor& x, double factor) {
  if (x.dtype() == DType::f32) return scale_in_place_typed<float>(x, factor);
  if (x.dtype() == DType::f64) return scale_in_place_typed<double>(x, factor);
  fail("scale_in_place: tensors must be f32 or f64, not ", x.dtype());
}

// Many parameters: one after another, each with its own parallel pass (engine/kernels/optim.h).
void sgd_update_many(const std::vector<kernels::SgdOperands>& items) {
  for (const kernels::SgdOperands& item : items) sgd_update(item.param, item.grad, item.momentum_buffer, item.update);
}

void adam_update_many(const std::vector<kernels::AdamOperands>& items) {
  for (const kernels::AdamOperands& item : items)
    adam_update(item.param, item.grad, item.exp_avg, item.exp_avg_sq, item.max_exp_avg_sq, item.update);
}

void lars_update_many(const std::vector<kernels::LarsOperands>& items) {
  for (const kernels::LarsOperands& item : items)
    lars_update(item.param, item.grad, item.momentum_buffer, item.update, item.trust_ratio);
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::lars_update_many, DeviceType::cpu, lars_update_many);
VIREO_REGISTER_KERNEL(kernels::sgd_update_many, DeviceType::cpu, sgd_update_many);
VIREO_REGISTER_KERNEL(kernels::adam_update_many, DeviceType::cpu, adam_update_many);
VIREO_REGISTER_KERNEL(kernels::sgd_update, DeviceType::cpu, sgd_update);
VIREO_REGISTER_KERNEL(kernels::adam_update, DeviceType::cpu, adam_update);
VIREO_REGISTER_KERNEL(kernels::lars_update, DeviceType::cpu, lars_update);
VIREO_REGISTER_KERNEL(kernels::norm_power_sum, DeviceType::cpu, norm_power_sum);
VIREO_REGISTER_KERNEL(kernels::scale_in_place, DeviceType::cpu, scale_in_place);

}  // namespace vireo::cpu
