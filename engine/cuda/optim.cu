// CUDA optimizer kernels (engine/kernels/optim.h): each update is one grid-stride pass that reads a
// parameter, its gradient and its state once and writes them once, with the per-element formulas of
// engine/cuda/optim_math.h (the CPU's, operation for operation).
//
// The many-parameter updates (sgd_update_many, adam_update_many, lars_update_many) run the same per-element
// formulas over a table of tensors per launch (engine/cuda/multi_tensor.h): a few launches a step instead of
// one or three per parameter.
//
// Norms (LARS trust ratios, gradient clipping) are reduced in two passes whose split depends only on the
// element count: a fixed number of blocks each sum a fixed strided share in double (tree order inside the
// block), then one thread adds the block partials in order. The result is therefore the same on every run.
// LARS computes its trust ratio on the device into the caller's 0-d tensor and the update kernel reads it
// from there: a LARS step launches its kernels back to back without waiting for the GPU. The norm sum of
// gradient clipping is copied to the host because the kernel contract returns it.
#include <algorithm>
#include <climits>
#include <cmath>
#include <vector>

#include "engine/cuda/common.h"
#include "engine/cuda/optim_math.h"
#include "engine/cuda/reduce.cuh"
#include "engine/kernels/optim.h"

namespace vireo::cuda {
namespace {

using kernels::AdamUpdate;
using kernels::LarsUpdate;
using kernels::SgdUpdate;

constexpr int kReduceThreads = 256;
constexpr int64_t kReduceItemsPerThread = 16;  // at least this many elements per thread before another block
constexpr int64_t kMaxReduceBlocks = 1024;

// Blocks of the first reduction pass: a function of n alone.
int64_t reduce_blocks(int64_t n) {
  return std::clamp<int64_t>((n + kReduceThreads * kReduceItemsPerThread - 1) / (kReduceThreads * kReduceItemsPerThread),
                             1, kMaxReduceBlocks);
}

// Runs body(T{}) for f32 and f64 parameters; anything else is refused naming the op.
template <class Body>
void dispatch_parameters(const char* op, const char* what, DType dtype, Body&& body) {
  if (dtype == DType::f32) return body(float{});
  if (dtype == DType::f64) return body(double{});
  fail(op, ": ", what, " must be f32 or f64, not ", dtype);
}

// ---- SGD ----

template <class T>
__global__ void sgd_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n, SgdScalars<T> s) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    T parameter = p[i];
    T momentum = s.has_momentum ? buf[i] : T(0);
    sgd_step(parameter, g[i], momentum, s);
    p[i] = parameter;
    if (s.has_momentum) buf[i] = momentum;
  }
}

void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const SgdUpdate& update) {
  dispatch_parameters("sgd_update", "parameters", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    if (n == 0) return;
    const SgdScalars<T> s = sgd_scalars<T>(update);
    T* buf = s.has_momentum ? static_cast<T*>(momentum_buffer.raw_data()) : nullptr;
    sgd_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(param.raw_data()),
                                                           static_cast<const T*>(grad.raw_data()), buf, n, s);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---- Adam / AdamW ----

template <class T>
__global__ void adam_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m, T* __restrict__ v,
                            T* __restrict__ v_max, int64_t n, AdamScalars<T> s) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    T parameter = p[i], average = m[i], square = v[i];
    T largest = s.amsgrad ? v_max[i] : T(0);
    adam_step(parameter, g[i], average, square, largest, s);
    p[i] = parameter;
    m[i] = average;
    v[i] = square;
    if (s.amsgrad) v_max[i] = largest;
  }
}

void adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                 const Tensor& max_exp_avg_sq, const AdamUpdate& update) {
  dispatch_parameters("adam_update", "parameters", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    if (n == 0) return;
    const AdamScalars<T> s = adam_scalars<T>(update);
    T* v_max = s.amsgrad ? static_cast<T*>(max_exp_avg_sq.raw_data()) : nullptr;
    adam_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(
        static_cast<T*>(param.raw_data()), static_cast<const T*>(grad.raw_data()), static_cast<T*>(exp_avg.raw_data()),
        static_cast<T*>(exp_avg_sq.raw_data()), v_max, n, s);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---- many parameters per launch ----

// The items of f32 and of f64 parameters, in order; any other dtype is refused naming the op.
template <class Item>
using ItemsByDtype = std::pair<std::vector<const Item*>, std::vector<const Item*>>;  // f32, f64

template <class Item>
ItemsByDtype<Item> split_by_dtype(const char* op, const std::vector<Item>& items) {
  ItemsByDtype<Item> split;
  for (const Item& item : items) {
    if (item.param.dtype() == DType::f32) split.first.push_back(&item);
    else if (item.param.dtype() == DType::f64) split.second.push_back(&item);
    else fail(op, ": parameters must be f32 or f64, not ", item.param.dtype());
  }
  return split;
}

template <class Item>
std::vector<int64_t> parameter_sizes(const std::vector<const Item*>& items) {
  std::vector<int64_t> sizes;
  for (const Item* item : items) sizes.push_back(item->param.numel());
  return sizes;
}

// Plans each dtype's launches over the parameters' sizes (engine/cuda/multi_tensor.h) and calls
// body(T{}, launch, the items in its slots).
template <class Item, class Body>
void for_each_launch(const char* op, const std::vector<Item>& items, const MultiTensorLimits& limits, Body&& body) {
  const auto [f32, f64] = split_by_dtype(op, items);
  const auto launch_all = [&](auto tag, const std::vector<const Item*>& typed) {
    for (const MultiTensorLaunch& launch : plan_multi_tensor_launches(parameter_sizes(typed), limits)) {
      std::vector<const Item*> slots;
      for (int t : launch.tensors) slots.push_back(typed[t]);
      body(tag, launch, slots);
    }
  };
  launch_all(float{}, f32);
  launch_all(double{}, f64);
}

void fill_block_table(MultiTensorBlocks& table, const MultiTensorLaunch& launch) {
  for (size_t b = 0; b < launch.blocks.size(); ++b) {
    VIREO_CHECK(launch.blocks[b].chunk <= INT32_MAX, "multi-tensor launch: chunk ", launch.blocks[b].chunk,
                " of a tensor exceeds the block table's 32-bit chunk index");
    table.slot[b] = static_cast<unsigned char>(launch.blocks[b].slot);
    table.chunk[b] = static_cast<int32_t>(launch.blocks[b].chunk);
  }
}

// The elements [begin, end) of the tensor in `slot` that this block updates.
struct ChunkRange {
  int slot;
  int64_t begin, end;
};
__device__ inline ChunkRange block_chunk(const MultiTensorBlocks& blocks, const int64_t* n) {
  const int slot = blocks.slot[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(blocks.chunk[blockIdx.x]) * kOptimizerChunk;
  const int64_t end = begin + kOptimizerChunk < n[slot] ? begin + kOptimizerChunk : n[slot];
  return {slot, begin, end};
}

static_assert(sizeof(SgdLaunch<double>) <= 4096 && sizeof(AdamLaunch<double>) <= 4096 &&
                  sizeof(LarsLaunch<double>) <= 4096 && sizeof(LarsRatioLaunch) <= 4096,
              "a multi-tensor launch's tables must fit 4 KB of kernel parameters");

// __grid_constant__: the tables are read where the launch put them (constant memory), not copied per
// thread, so indexing them by slot costs nothing.
template <class T>
__global__ void __launch_bounds__(kThreads) sgd_many_kernel(const __grid_constant__ SgdLaunch<T> a) {
  const ChunkRange r = block_chunk(a.blocks, a.n);
  T* __restrict__ p = a.p[r.slot];
  const T* __restrict__ g = a.g[r.slot];
  T* __restrict__ buf = a.buf[r.slot];
  const SgdScalars<T> s = a.s[r.slot];
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T parameter = p[i];
    T momentum = s.has_momentum ? buf[i] : T(0);
    sgd_step(parameter, g[i], momentum, s);
    p[i] = parameter;
    if (s.has_momentum) buf[i] = momentum;
  }
}

void sgd_update_many(const std::vector<kernels::SgdOperands>& items) {
  using Slots = std::vector<const kernels::SgdOperands*>;
  for_each_launch("sgd_update_many", items, kSgdLaunchLimits, [](auto tag, const auto& launch, const Slots& slots) {
    using T = decltype(tag);
    SgdLaunch<T> a{};
    for (size_t k = 0; k < slots.size(); ++k) {
      const kernels::SgdOperands& item = *slots[k];
      a.s[k] = sgd_scalars<T>(item.update);
      a.p[k] = static_cast<T*>(item.param.raw_data());
      a.g[k] = static_cast<const T*>(item.grad.raw_data());
      a.buf[k] = a.s[k].has_momentum ? static_cast<T*>(item.momentum_buffer.raw_data()) : nullptr;
      a.n[k] = item.param.numel();
    }
    fill_block_table(a.blocks, launch);
    sgd_many_kernel<T><<<static_cast<unsigned>(launch.blocks.size()), kThreads, 0, stream()>>>(a);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

template <class T>
__global__ void __launch_bounds__(kThreads) adam_many_kernel(const __grid_constant__ AdamLaunch<T> a) {
  const ChunkRange r = block_chunk(a.blocks, a.n);
  T* __restrict__ p = a.p[r.slot];
  const T* __restrict__ g = a.g[r.slot];
  T* __restrict__ m = a.m[r.slot];
  T* __restrict__ v = a.v[r.slot];
  T* __restrict__ v_max = a.v_max[r.slot];
  const AdamScalars<T> s = a.s[r.slot];
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T parameter = p[i], average = m[i], square = v[i];
    T largest = s.amsgrad ? v_max[i] : T(0);
    adam_step(parameter, g[i], average, square, largest, s);
    p[i] = parameter;
    m[i] = average;
    v[i] = square;
    if (s.amsgrad) v_max[i] = largest;
  }
}

void adam_update_many(const std::vector<kernels::AdamOperands>& items) {
  using Slots = std::vector<const kernels::AdamOperands*>;
  for_each_launch("adam_update_many", items, kAdamLaunchLimits, [](auto tag, const auto& launch, const Slots& slots) {
    using T = decltype(tag);
    AdamLaunch<T> a{};
    for (size_t k = 0; k < slots.size(); ++k) {
      const kernels::AdamOperands& item = *slots[k];
      a.s[k] = adam_scalars<T>(item.update);
      a.p[k] = static_cast<T*>(item.param.raw_data());
      a.g[k] = static_cast<const T*>(item.grad.raw_data());
      a.m[k] = static_cast<T*>(item.exp_avg.raw_data());
      a.v[k] = static_cast<T*>(item.exp_avg_sq.raw_data());
      a.v_max[k] = a.s[k].amsgrad ? static_cast<T*>(item.max_exp_avg_sq.raw_data()) : nullptr;
      a.n[k] = item.param.numel();
    }
    fill_block_table(a.blocks, launch);
    adam_many_kernel<T><<<static_cast<unsigned>(launch.blocks.size()), kThreads, 0, stream()>>>(a);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// ---- LARS ----

// Block partials of ‖p‖² and ‖d‖² (d = g + wd·p in T), two doubles per block.
template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    lars_norm_partials(const T* __restrict__ p, const T* __restrict__ g, int64_t n, T weight_decay,
                       double* __restrict__ partial) {
  __shared__ double scratch[kReduceThreads / kWarpSize];
  double pp = 0.0, dd = 0.0;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double pi = static_cast<double>(p[i]), di = static_cast<double>(lars_direction(p[i], g[i], weight_decay));
    pp += pi * pi;
    dd += di * di;
  }
  pp = block_sum(pp, scratch);
  dd = block_sum(dd, scratch);
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = pp;
    partial[2 * blockIdx.x + 1] = dd;
  }
}

// With blocks = 0 (no partials: both norms 0) the ratio is 1, the value for a parameter excluded from adaptation.
__global__ void lars_trust_ratio_kernel(const double* __restrict__ partial, int64_t blocks, double trust_coefficient,
                                        double eps, double* __restrict__ ratio) {
  double pp = 0.0, dd = 0.0;
  for (int64_t b = 0; b < blocks; ++b) {
    pp += partial[2 * b];
    dd += partial[2 * b + 1];
  }
  *ratio = lars_trust_ratio(pp, dd, trust_coefficient, eps);
}

template <class T>
__global__ void lars_kernel(T* __restrict__ p, const T* __restrict__ g, T* __restrict__ buf, int64_t n, T lr,
                            T weight_decay, T momentum, const double* __restrict__ ratio) {
  const T r = static_cast<T>(*ratio);
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    T parameter = p[i], velocity = buf[i];
    lars_step(parameter, g[i], velocity, lr, weight_decay, momentum, r);
    p[i] = parameter;
    buf[i] = velocity;
  }
}

void lars_update(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, const LarsUpdate& update,
                 const Tensor& trust_ratio) {
  dispatch_parameters("lars_update", "parameters", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = param.numel();
    T* p = static_cast<T*>(param.raw_data());
    const T* g = static_cast<const T*>(grad.raw_data());
    const T weight_decay = static_cast<T>(update.weight_decay);
    double* ratio = static_cast<double*>(trust_ratio.raw_data());
    // An empty or excluded parameter gets the ratio 1 (from no partials); the others their norms' ratio.
    const int64_t blocks = update.adapt && n > 0 ? reduce_blocks(n) : 0;
    DeviceBuffer scratch(sizeof(double) * std::max<int64_t>(2 * blocks, 1), param.device().index);
    double* partial = scratch.as<double>();
    if (blocks > 0) {
      lars_norm_partials<T><<<static_cast<unsigned>(blocks), kReduceThreads, 0, stream()>>>(p, g, n, weight_decay, partial);
      VIREO_CUDA_CHECK_LAUNCH();
    }
    lars_trust_ratio_kernel<<<1, 1, 0, stream()>>>(partial, blocks, update.trust_coefficient, update.eps, ratio);
    VIREO_CUDA_CHECK_LAUNCH();
    if (n == 0) return;
    lars_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(p, g, static_cast<T*>(momentum_buffer.raw_data()), n,
                                                            static_cast<T>(update.lr), weight_decay,
                                                            static_cast<T>(update.momentum), ratio);
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

// Many parameters: pass 1 writes each block's ‖p‖² and ‖d‖² over its chunk (zeros for an excluded
// parameter) at its step-wide index, so a tensor cut between two launches has its partials side by side.
template <class T>
__global__ void __launch_bounds__(kThreads) lars_many_norms(const __grid_constant__ LarsLaunch<T> a,
                                                            double* __restrict__ partial) {
  __shared__ double scratch[kThreads / kWarpSize];
  const ChunkRange r = block_chunk(a.blocks, a.n);
  double pp = 0.0, dd = 0.0;
  if (a.adapt[r.slot]) {  // the same for the whole block: every thread reaches block_sum below
    const T* __restrict__ p = a.p[r.slot];
    const T* __restrict__ g = a.g[r.slot];
    const T weight_decay = a.weight_decay[r.slot];
    for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
      const double pi = static_cast<double>(p[i]), di = static_cast<double>(lars_direction(p[i], g[i], weight_decay));
      pp += pi * pi;
      dd += di * di;
    }
  }
  pp = block_sum(pp, scratch);
  dd = block_sum(dd, scratch);
  if (threadIdx.x == 0) {
    partial[2 * (a.first_partial + blockIdx.x)] = pp;
    partial[2 * (a.first_partial + blockIdx.x) + 1] = dd;
  }
}

// Pass 2: one thread per tensor adds its partials in block order.
__global__ void lars_many_ratios(const __grid_constant__ LarsRatioLaunch a, int tensors,
                                 const double* __restrict__ partial) {
  const int t = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (t >= tensors) return;
  double pp = 0.0, dd = 0.0;
  for (int64_t b = a.first[t]; b < a.first[t] + a.count[t]; ++b) {
    pp += partial[2 * b];
    dd += partial[2 * b + 1];
  }
  *a.ratio[t] = lars_trust_ratio(pp, dd, a.trust_coefficient[t], a.eps[t]);
}

// Pass 3: the updates, each block reading its tensor's ratio.
template <class T>
__global__ void __launch_bounds__(kThreads) lars_many_update(const __grid_constant__ LarsLaunch<T> a) {
  const ChunkRange r = block_chunk(a.blocks, a.n);
  T* __restrict__ p = a.p[r.slot];
  const T* __restrict__ g = a.g[r.slot];
  T* __restrict__ buf = a.buf[r.slot];
  const T ratio = static_cast<T>(*a.ratio[r.slot]), lr = a.lr[r.slot], weight_decay = a.weight_decay[r.slot],
          momentum = a.momentum[r.slot];
  for (int64_t i = r.begin + threadIdx.x; i < r.end; i += blockDim.x) {
    T parameter = p[i], velocity = buf[i];
    lars_step(parameter, g[i], velocity, lr, weight_decay, momentum, ratio);
    p[i] = parameter;
    buf[i] = velocity;
  }
}

template <class T>
void lars_update_typed_many(const std::vector<const kernels::LarsOperands*>& items) {
  if (items.empty()) return;
  const std::vector<MultiTensorLaunch> plan = plan_multi_tensor_launches(parameter_sizes(items), kLarsLaunchLimits);
  // Each tensor's first partial and partial count, and the launches' tables.
  std::vector<int64_t> first(items.size(), 0), count(items.size(), 0);
  std::vector<LarsLaunch<T>> launches(plan.size());
  int64_t partials = 0;
  for (size_t l = 0; l < plan.size(); ++l) {
    LarsLaunch<T>& a = launches[l];
    a = {};
    for (size_t k = 0; k < plan[l].tensors.size(); ++k) {
      const kernels::LarsOperands& item = *items[plan[l].tensors[k]];
      a.p[k] = static_cast<T*>(item.param.raw_data());
      a.g[k] = static_cast<const T*>(item.grad.raw_data());
      a.buf[k] = static_cast<T*>(item.momentum_buffer.raw_data());
      a.n[k] = item.param.numel();
      a.ratio[k] = static_cast<const double*>(item.trust_ratio.raw_data());
      a.lr[k] = static_cast<T>(item.update.lr);
      a.weight_decay[k] = static_cast<T>(item.update.weight_decay);
      a.momentum[k] = static_cast<T>(item.update.momentum);
      a.adapt[k] = item.update.adapt;
    }
    a.first_partial = partials;
    fill_block_table(a.blocks, plan[l]);
    for (size_t b = 0; b < plan[l].blocks.size(); ++b) {
      const int t = plan[l].tensors[plan[l].blocks[b].slot];
      if (count[t] == 0) first[t] = partials + static_cast<int64_t>(b);
      if (items[t]->update.adapt) ++count[t];
    }
    partials += static_cast<int64_t>(plan[l].blocks.size());
  }
  DeviceBuffer scratch(sizeof(double) * std::max<int64_t>(2 * partials, 1), items.front()->param.device().index);
  double* partial = scratch.as<double>();
  for (size_t l = 0; l < plan.size(); ++l) {
    lars_many_norms<T><<<static_cast<unsigned>(plan[l].blocks.size()), kThreads, 0, stream()>>>(launches[l], partial);
    VIREO_CUDA_CHECK_LAUNCH();
  }
  for (size_t begin = 0; begin < items.size(); begin += kLarsRatiosPerLaunch) {
    const int tensors = static_cast<int>(std::min<size_t>(kLarsRatiosPerLaunch, items.size() - begin));
    LarsRatioLaunch a{};
    for (int k = 0; k < tensors; ++k) {
      const kernels::LarsOperands& item = *items[begin + k];
      a.ratio[k] = static_cast<double*>(item.trust_ratio.raw_data());
      a.first[k] = first[begin + k];
      a.count[k] = count[begin + k];
      a.trust_coefficient[k] = item.update.trust_coefficient;
      a.eps[k] = item.update.eps;
    }
    lars_many_ratios<<<1, kLarsRatiosPerLaunch, 0, stream()>>>(a, tensors, partial);
    VIREO_CUDA_CHECK_LAUNCH();
  }
  for (size_t l = 0; l < plan.size(); ++l) {
    lars_many_update<T><<<static_cast<unsigned>(plan[l].blocks.size()), kThreads, 0, stream()>>>(launches[l]);
    VIREO_CUDA_CHECK_LAUNCH();
  }
}

void lars_update_many(const std::vector<kernels::LarsOperands>& items) {
  const auto [f32, f64] = split_by_dtype("lars_update_many", items);
  lars_update_typed_many<float>(f32);
  lars_update_typed_many<double>(f64);
}

// ---- norms and scaling for gradient clipping ----

// Block partials of Σ|x|^p, or of max|x| (NaN propagating) when `largest`.
template <class T>
__global__ void __launch_bounds__(kReduceThreads)
    norm_partials(const T* __restrict__ x, int64_t n, double power, bool largest, double* __restrict__ partial) {
  __shared__ double scratch[kReduceThreads];
  double acc = 0.0;
  for (int64_t i = global_thread(); i < n; i += grid_threads()) {
    const double xi = static_cast<double>(x[i]);
    acc = largest ? max_propagating_nan(acc, fabs(xi)) : acc + power_term(xi, power);
  }
  if (!largest) {
    acc = block_sum(acc, scratch);
  } else {
    scratch[threadIdx.x] = acc;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
      if (threadIdx.x < stride) scratch[threadIdx.x] = max_propagating_nan(scratch[threadIdx.x], scratch[threadIdx.x + stride]);
      __syncthreads();
    }
    acc = scratch[0];
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void fold_partials(double* __restrict__ partial, int64_t blocks, bool largest) {
  double total = 0.0;
  for (int64_t b = 0; b < blocks; ++b) total = largest ? max_propagating_nan(total, partial[b]) : total + partial[b];
  partial[blocks] = total;
}

void norm_power_sum(const Tensor& x, double norm_type, double& result) {
  dispatch_parameters("norm_power_sum", "tensors", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.numel();
    result = 0.0;
    if (n == 0) return;
    const bool largest = std::isinf(norm_type);
    const int64_t blocks = reduce_blocks(n);
    DeviceBuffer scratch(sizeof(double) * (blocks + 1));
    norm_partials<T><<<static_cast<unsigned>(blocks), kReduceThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), n, norm_type, largest, scratch.as<double>());
    VIREO_CUDA_CHECK_LAUNCH();
    fold_partials<<<1, 1, 0, stream()>>>(scratch.as<double>(), blocks, largest);
    VIREO_CUDA_CHECK_LAUNCH();
    VIREO_CUDA_CHECK(cudaMemcpyAsync(&result, scratch.as<double>() + blocks, sizeof(double), cudaMemcpyDeviceToHost, stream()));
    VIREO_CUDA_CHECK(cudaStreamSynchronize(stream()));
  });
}

template <class T>
__global__ void scale_kernel(T* __restrict__ x, int64_t n, T factor) {
  for (int64_t i = global_thread(); i < n; i += grid_threads()) x[i] = x[i] * factor;
}

void scale_in_place(const Tensor& x, double factor) {
  dispatch_parameters("scale_in_place", "tensors", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = x.numel();
    if (n == 0) return;
    scale_kernel<T><<<blocks_for(n), kThreads, 0, stream()>>>(static_cast<T*>(x.raw_data()), n, static_cast<T>(factor));
    VIREO_CUDA_CHECK_LAUNCH();
  });
}

}  // namespace

VIREO_REGISTER_KERNEL(kernels::sgd_update, DeviceType::cuda, sgd_update);
VIREO_REGISTER_KERNEL(kernels::sgd_update_many, DeviceType::cuda, sgd_update_many);
VIREO_REGISTER_KERNEL(kernels::adam_update_many, DeviceType::cuda, adam_update_many);
VIREO_REGISTER_KERNEL(kernels::adam_update, DeviceType::cuda, adam_update);
VIREO_REGISTER_KERNEL(kernels::lars_update, DeviceType::cuda, lars_update);
VIREO_REGISTER_KERNEL(kernels::lars_update_many, DeviceType::cuda, lars_update_many);
VIREO_REGISTER_KERNEL(kernels::norm_power_sum, DeviceType::cuda, norm_power_sum);
VIREO_REGISTER_KERNEL(kernels::scale_in_place, DeviceType::cuda, scale_in_place);

}  // namespace vireo::cuda
