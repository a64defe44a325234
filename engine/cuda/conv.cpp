// The convolution kernels on the GPU (engine/kernels/conv.h): cuDNN's legacy convolution API, with an
// im2col + cuBLAS fallback for the shapes cuDNN has no algorithm for.
//
// The three faces of one linear map go to cuDNN's three calls on the same descriptors (NCHW tensors, the
// [C_out, C_in/groups, kH, kW] filter, cross-correlation with the geometry's padding, stride, dilation and
// group count; engine/cuda/conv_geometry.h):
//   conv2d_forward      y  = x ⋆ w          cudnnConvolutionForward
//   conv2d_input_grad   dx = adjoint(dy)    cudnnConvolutionBackwardData   (also conv_transpose2d's forward)
//   conv2d_weight_grad  dw = dy ⋆ x         cudnnConvolutionBackwardFilter
// The bias (per response channel in the forward, per image channel in the input grad) is written first
// (engine/cuda/dense_kernels.cu) and the convolution accumulates onto it (cuDNN's beta = 1, the fallback's
// GEMM or col2im likewise): the result is rounded once, also in f16 and bf16.
//
// Algorithms come from cuDNN's heuristics (cudnnGet*Algorithm_v7), cached per shape: the first one that
// succeeded, needs at most kMaxWorkspace bytes and keeps the precision asked for — preferring a
// deterministic one, so that a training run repeats exactly, as it does on the CPU. Precision: f32 runs with
// CUDNN_FMA_MATH (true FP32) unless cuda::allow_tf32(); f64 in FP64; f16 and bf16 on tensor cores with f32
// accumulation. Algorithms that convert f32 to f16 are never used.
//
// Fallback: when cuDNN offers no usable algorithm for a shape, or refuses it at run time with
// CUDNN_STATUS_NOT_SUPPORTED, the kernel runs as the CPU does — per image, im2col and one strided-batched
// GEMM over the groups — and says so once per shape on stderr.
//
// cuDNN 9 marks the legacy API deprecated (in favour of its graph API); it is complete for these three
// calls, so this file silences the deprecation warnings rather than build graphs for a 2-D convolution.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cuda/blas.h"
#include "engine/cuda/common.h"
#include "engine/cuda/conv_geometry.h"
#include "engine/cuda/dense_kernels.h"
#include "engine/cuda/runtime.h"
#include "engine/kernels/conv.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

namespace vireo::cuda {
namespace {

// Workspace an algorithm may ask for: beyond this the next algorithm is taken (they differ by a few
// percent, while a multi-gigabyte workspace can push activations out of memory).
constexpr size_t kMaxWorkspace = size_t{1} << 30;

enum class ConvPass { forward, input_grad, weight_grad };

const char* pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return "conv2d_forward";
    case ConvPass::input_grad: return "conv2d_input_grad";
    case ConvPass::weight_grad: return "conv2d_weight_grad";
  }
  return "conv2d";
}

cudnnDataType_t cudnn_data_type(const char* op, DType dtype) {
  switch (dtype) {
    case DType::f32: return CUDNN_DATA_FLOAT;
    case DType::f64: return CUDNN_DATA_DOUBLE;
    case DType::f16: return CUDNN_DATA_HALF;
    case DType::bf16: return CUDNN_DATA_BFLOAT16;
    default: fail(op, ": the CUDA convolutions compute in f32, f64, f16 and bf16, not ", dtype);
  }
}

// True FP32 for f32 unless TF32 is allowed (the parity suite relies on it).
bool strict_f32(DType dtype) { return dtype == DType::f32 && !allow_tf32(); }

cudnnMathType_t requested_math(DType dtype) {
  if (dtype == DType::f16 || dtype == DType::bf16) return CUDNN_TENSOR_OP_MATH;
  return strict_f32(dtype) ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

// The four descriptors of one convolution, destroyed with it.
class ConvDescriptors {
 public:
  ConvDescriptors(const char* op, const Conv2dGeometry& g, DType dtype) {
    const CudnnConvParams p = cudnn_conv_params(op, g);
    const cudnnDataType_t type = cudnn_data_type(op, dtype);
    // f16 and bf16 accumulate in f32 (cuDNN's "pseudo-half" configuration); f32 and f64 in themselves.
    const cudnnDataType_t compute = dtype == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
    try {
      VIREO_CUDNN_CHECK(cudnnCreateTensorDescriptor(&image));
      VIREO_CUDNN_CHECK(cudnnCreateTensorDescriptor(&response));
      VIREO_CUDNN_CHECK(cudnnCreateFilterDescriptor(&weight));
      VIREO_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
      VIREO_CUDNN_CHECK(cudnnSetTensor4dDescriptor(image, CUDNN_TENSOR_NCHW, type, p.image[0], p.image[1], p.image[2],
                                                   p.image[3]));
      VIREO_CUDNN_CHECK(cudnnSetTensor4dDescriptor(response, CUDNN_TENSOR_NCHW, type, p.response[0], p.response[1],
                                                   p.response[2], p.response[3]));
      VIREO_CUDNN_CHECK(cudnnSetFilter4dDescriptor(weight, type, CUDNN_TENSOR_NCHW, p.filter[0], p.filter[1],
                                                   p.filter[2], p.filter[3]));
      VIREO_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, p.pad[0], p.pad[1], p.stride[0], p.stride[1],
                                                        p.dilation[0], p.dilation[1], CUDNN_CROSS_CORRELATION,
                                                        compute));
      VIREO_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, p.groups));
      VIREO_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, requested_math(dtype)));
    } catch (...) {
      destroy();  // a constructor that throws runs no destructor
      throw;
    }
  }
  ~ConvDescriptors() { destroy(); }
  ConvDescriptors(const ConvDescriptors&) = delete;
  ConvDescriptors& operator=(const ConvDescriptors&) = delete;

  cudnnTensorDescriptor_t image = nullptr, response = nullptr;
  cudnnFilterDescriptor_t weight = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  void destroy() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (weight) cudnnDestroyFilterDescriptor(weight);
    if (response) cudnnDestroyTensorDescriptor(response);
    if (image) cudnnDestroyTensorDescriptor(image);
  }
};

// One pass's algorithm for one shape, or none (the fallback).
struct AlgorithmChoice {
  bool use_cudnn = false;
  int algorithm = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
};

// From cuDNN's ranked list, the first usable algorithm, a deterministic one when there is one.
template <class Perf>
AlgorithmChoice choose(const std::vector<Perf>& ranked, DType dtype) {
  std::optional<AlgorithmChoice> first, first_deterministic;
  for (const Perf& perf : ranked) {
    if (perf.status != CUDNN_STATUS_SUCCESS || perf.memory > kMaxWorkspace) continue;
    if (perf.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && (dtype == DType::f32 || dtype == DType::f64)) continue;
    if (perf.mathType == CUDNN_TENSOR_OP_MATH && strict_f32(dtype)) continue;
    const AlgorithmChoice choice{true, static_cast<int>(perf.algo), perf.mathType, perf.memory};
    if (!first) first = choice;
    if (!first_deterministic && perf.determinism == CUDNN_DETERMINISTIC) first_deterministic = choice;
  }
  if (first_deterministic) return *first_deterministic;
  return first ? *first : AlgorithmChoice{};
}

AlgorithmChoice query_algorithm(ConvPass pass, const ConvDescriptors& d, DType dtype) {
  int most = 0, returned = 0;
  switch (pass) {
    case ConvPass::forward: {
      VIREO_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(cudnn(), &most));
      std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked(std::max(most, 1));
      VIREO_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(cudnn(), d.image, d.weight, d.conv, d.response,
                                                               static_cast<int>(ranked.size()), &returned,
                                                               ranked.data()));
      ranked.resize(returned);
      return choose(ranked, dtype);
    }
    case ConvPass::input_grad: {
      VIREO_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cudnn(), &most));
      std::vector<cudnnConvolutionBwdDataAlgoPerf_t> ranked(std::max(most, 1));
      VIREO_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnn(), d.weight, d.response, d.conv, d.image,
                                                                    static_cast<int>(ranked.size()), &returned,
                                                                    ranked.data()));
      ranked.resize(returned);
      return choose(ranked, dtype);
    }
    case ConvPass::weight_grad: {
      VIREO_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(cudnn(), &most));
      std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> ranked(std::max(most, 1));
      VIREO_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnn(), d.image, d.response, d.conv, d.weight,
                                                                      static_cast<int>(ranked.size()), &returned,
                                                                      ranked.data()));
      ranked.resize(returned);
      return choose(ranked, dtype);
    }
  }
  return {};
}

std::string describe(ConvPass pass, const Conv2dGeometry& g, DType dtype) {
  std::ostringstream text;
  text << pass_name(pass) << " " << dtype << " image [" << g.batch << ", " << g.in_channels << ", " << g.in_height
       << ", " << g.in_width << "] weight [" << g.out_channels << ", " << g.in_channels / g.groups << ", " << g.kernel_h
       << ", " << g.kernel_w << "] stride " << g.stride_h << "×" << g.stride_w << " padding " << g.pad_h << "×"
       << g.pad_w << " dilation " << g.dilation_h << "×" << g.dilation_w << " groups " << g.groups;
  return text.str();
}

// The algorithm cache and the once-per-shape fallback notes.
struct ConvCache {
  std::mutex mutex;
  std::map<std::vector<int64_t>, AlgorithmChoice> choices;
  std::set<std::string> noted;
};
ConvCache& conv_cache() {
  static ConvCache* cache = new ConvCache();  // never destroyed: kernels may run from static destructors
  return *cache;
}

std::vector<int64_t> cache_key(ConvPass pass, const Conv2dGeometry& g, DType dtype) {
  return {static_cast<int64_t>(pass), static_cast<int64_t>(dtype), allow_tf32() ? 1 : 0, g.batch, g.in_channels,
          g.in_height, g.in_width, g.out_channels, g.out_height, g.out_width, g.kernel_h, g.kernel_w, g.stride_h,
          g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, g.groups};
}

AlgorithmChoice algorithm_for(ConvPass pass, const Conv2dGeometry& g, DType dtype, const ConvDescriptors& d) {
  ConvCache& cache = conv_cache();
  const std::vector<int64_t> key = cache_key(pass, g, dtype);
  {
    std::lock_guard lock(cache.mutex);
    if (auto found = cache.choices.find(key); found != cache.choices.end()) return found->second;
  }
  const AlgorithmChoice choice = query_algorithm(pass, d, dtype);
  std::lock_guard lock(cache.mutex);
  cache.choices[key] = choice;
  return choice;
}

// Marks the shape as cuDNN-less from now on and prints one line the first time.
void note_fallback(ConvPass pass, const Conv2dGeometry& g, DType dtype, const char* why) {
  ConvCache& cache = conv_cache();
  const std::string shape = describe(pass, g, dtype);
  std::lock_guard lock(cache.mutex);
  cache.choices[cache_key(pass, g, dtype)] = AlgorithmChoice{};
  if (cache.noted.insert(shape).second) {
    std::fprintf(stderr, "vireo: cuDNN %s for %s; using the im2col + cuBLAS fallback\n", why, shape.c_str());
    std::fflush(stderr);
  }
}

std::atomic<bool> g_force_fallback{false};

// Runs the chosen cuDNN call, adding to out's values when accumulate (cuDNN's beta = 1); false when cuDNN
// turns the shape down (then nothing was written).
bool run_cudnn(ConvPass pass, const Conv2dGeometry& g, DType dtype, const void* image, const void* weight,
               const void* response, void* out, bool accumulate = false) {
  if (g_force_fallback.load()) return false;
  ConvDescriptors d(pass_name(pass), g, dtype);
  const AlgorithmChoice choice = algorithm_for(pass, g, dtype, d);
  if (!choice.use_cudnn) {
    note_fallback(pass, g, dtype, "has no usable algorithm");
    return false;
  }
  if (!strict_f32(dtype)) VIREO_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, choice.math));
  const DeviceBuffer workspace = choice.workspace > 0 ? DeviceBuffer(choice.workspace) : DeviceBuffer();
  const double alpha64 = 1.0, beta64 = accumulate ? 1.0 : 0.0;
  const float alpha32 = 1.0f, beta32 = accumulate ? 1.0f : 0.0f;
  const void* alpha = dtype == DType::f64 ? static_cast<const void*>(&alpha64) : &alpha32;
  const void* beta = dtype == DType::f64 ? static_cast<const void*>(&beta64) : &beta32;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  switch (pass) {
    case ConvPass::forward:
      status = cudnnConvolutionForward(cudnn(), alpha, d.image, image, d.weight, weight, d.conv,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(choice.algorithm), workspace.data(),
                                       choice.workspace, beta, d.response, out);
      break;
    case ConvPass::input_grad:
      status = cudnnConvolutionBackwardData(cudnn(), alpha, d.weight, weight, d.response, response, d.conv,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algorithm),
                                            workspace.data(), choice.workspace, beta, d.image, out);
      break;
    case ConvPass::weight_grad:
      status = cudnnConvolutionBackwardFilter(cudnn(), alpha, d.image, image, d.response, response, d.conv,
                                              static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algorithm),
                                              workspace.data(), choice.workspace, beta, d.weight, out);
      break;
  }
  if (status == CUDNN_STATUS_NOT_SUPPORTED) {
    note_fallback(pass, g, dtype, "refused the chosen algorithm");
    return false;
  }
  if (status != CUDNN_STATUS_SUCCESS)
    fail(pass_name(pass), ": cuDNN failed for ", describe(pass, g, dtype), ": ", cudnnGetErrorString(status));
  return true;
}

// ---- the fallback: per image, im2col and one GEMM per group (strided-batched over the groups) ----

void fallback_forward(const Conv2dGeometry& g, DType dtype, const char* x, const char* w, char* y, bool accumulate) {
  const ColumnShape s = column_shape(g);
  const int64_t element = static_cast<int64_t>(element_size(dtype));
  const int64_t cout_g = g.out_channels / g.groups;
  const int64_t image_bytes = g.in_channels * g.in_height * g.in_width * element;
  const int64_t response_bytes = g.out_channels * s.columns * element;
  DeviceBuffer col(static_cast<size_t>(g.groups * s.rows_per_group * s.columns * element));
  for (int64_t n = 0; n < g.batch; ++n) {
    im2col(dtype, g, x + n * image_bytes, col.data());
    // Y[grp] [cout_g × P] = W[grp] [cout_g × K] · col[grp] [K × P]
    gemm_strided_batched("conv2d_forward", dtype, false, false, cout_g, s.columns, s.rows_per_group, w,
                         s.rows_per_group, cout_g * s.rows_per_group, col.data(), s.columns,
                         s.rows_per_group * s.columns, accumulate ? 1.0 : 0.0, y + n * response_bytes, s.columns,
                         cout_g * s.columns, g.groups);
  }
}

void fallback_input_grad(const Conv2dGeometry& g, DType dtype, const char* dy, const char* w, char* dx,
                         bool accumulate) {
  const ColumnShape s = column_shape(g);
  const int64_t element = static_cast<int64_t>(element_size(dtype));
  const int64_t cout_g = g.out_channels / g.groups;
  const int64_t image_bytes = g.in_channels * g.in_height * g.in_width * element;
  const int64_t response_bytes = g.out_channels * s.columns * element;
  DeviceBuffer col(static_cast<size_t>(g.groups * s.rows_per_group * s.columns * element));
  for (int64_t n = 0; n < g.batch; ++n) {
    // col[grp] [K × P] = W[grp]ᵀ · dY[grp] [cout_g × P]
    gemm_strided_batched("conv2d_input_grad", dtype, true, false, s.rows_per_group, s.columns, cout_g, w,
                         s.rows_per_group, cout_g * s.rows_per_group, dy + n * response_bytes, s.columns,
                         cout_g * s.columns, 0.0, col.data(), s.columns, s.rows_per_group * s.columns, g.groups);
    col2im(dtype, g, col.data(), dx + n * image_bytes, accumulate);
  }
}

void fallback_weight_grad(const Conv2dGeometry& g, DType dtype, const char* x, const char* dy, char* dw) {
  const ColumnShape s = column_shape(g);
  const int64_t element = static_cast<int64_t>(element_size(dtype));
  const int64_t cout_g = g.out_channels / g.groups;
  const int64_t image_bytes = g.in_channels * g.in_height * g.in_width * element;
  const int64_t response_bytes = g.out_channels * s.columns * element;
  DeviceBuffer col(static_cast<size_t>(g.groups * s.rows_per_group * s.columns * element));
  for (int64_t n = 0; n < g.batch; ++n) {
    im2col(dtype, g, x + n * image_bytes, col.data());
    // dW[grp] [cout_g × K] (+)= dY[grp] [cout_g × P] · col[grp]ᵀ, the images summed in order
    gemm_strided_batched("conv2d_weight_grad", dtype, false, true, cout_g, s.rows_per_group, s.columns,
                         dy + n * response_bytes, s.columns, cout_g * s.columns, col.data(), s.columns,
                         s.rows_per_group * s.columns, n == 0 ? 0.0 : 1.0, dw, s.rows_per_group,
                         cout_g * s.rows_per_group, g.groups);
  }
}

void check_conv_tensors(const char* op, const std::vector<const Tensor*>& tensors) {
  for (const Tensor* t : tensors)
    VIREO_CHECK(t->is_contiguous() && t->dtype() == tensors[0]->dtype(), op,
                ": needs contiguous NCHW tensors of one dtype, got a ", t->dtype(), " tensor of shape ", t->shape(),
                t->is_contiguous() ? "" : " (not contiguous)");
}

// All-zero bits: 0.0 in every floating type.
void zero(const Tensor& t) {
  if (t.numel() > 0)
    VIREO_CUDA_CHECK(cudaMemsetAsync(t.raw_data(), 0, t.numel() * element_size(t.dtype()), stream()));
}

void conv2d_forward(const Conv2dGeometry& g, const Tensor& image, const Tensor& weight, const Tensor& bias,
                    const Tensor& response) {
  check_conv_tensors(__func__, {&image, &weight, &response});
  if (response.numel() == 0) return;
  const DType dtype = response.dtype();
  // Start from the bias (or nothing) and accumulate the product onto it.
  if (bias.defined())
    fill_channel_bias(dtype, response.raw_data(), bias.raw_data(), g.batch, g.out_channels, g.out_height * g.out_width);
  else if (image.numel() == 0 || weight.numel() == 0)
    zero(response);  // an empty sum
  if (image.numel() == 0 || weight.numel() == 0) return;
  const bool accumulate = bias.defined();
  if (!run_cudnn(ConvPass::forward, g, dtype, image.raw_data(), weight.raw_data(), nullptr, response.raw_data(),
                 accumulate))
    fallback_forward(g, dtype, static_cast<const char*>(image.raw_data()), static_cast<const char*>(weight.raw_data()),
                     static_cast<char*>(response.raw_data()), accumulate);
}

void conv2d_input_grad(const Conv2dGeometry& g, const Tensor& response, const Tensor& weight, const Tensor& bias,
                       const Tensor& image) {
  check_conv_tensors(__func__, {&response, &weight, &image});
  if (image.numel() == 0) return;
  const DType dtype = image.dtype();
  if (bias.defined())
    fill_channel_bias(dtype, image.raw_data(), bias.raw_data(), g.batch, g.in_channels, g.in_height * g.in_width);
  else if (response.numel() == 0 || weight.numel() == 0)
    zero(image);
  if (response.numel() == 0 || weight.numel() == 0) return;
  const bool accumulate = bias.defined();
  if (!run_cudnn(ConvPass::input_grad, g, dtype, nullptr, weight.raw_data(), response.raw_data(), image.raw_data(),
                 accumulate))
    fallback_input_grad(g, dtype, static_cast<const char*>(response.raw_data()),
                        static_cast<const char*>(weight.raw_data()), static_cast<char*>(image.raw_data()), accumulate);
}

void conv2d_weight_grad(const Conv2dGeometry& g, const Tensor& image, const Tensor& response, const Tensor& weight) {
  check_conv_tensors(__func__, {&image, &response, &weight});
  if (weight.numel() == 0) return;
  const DType dtype = weight.dtype();
  if (image.numel() == 0 || response.numel() == 0) {
    zero(weight);
    return;
  }
  if (!run_cudnn(ConvPass::weight_grad, g, dtype, image.raw_data(), nullptr, response.raw_data(), weight.raw_data()))
    fallback_weight_grad(g, dtype, static_cast<const char*>(image.raw_data()),
                         static_cast<const char*>(response.raw_data()), static_cast<char*>(weight.raw_data()));
}

}  // namespace

void set_force_conv_fallback(bool force) { g_force_fallback.store(force); }

VIREO_REGISTER_KERNEL(kernels::conv2d_forward, DeviceType::cuda, conv2d_forward);
VIREO_REGISTER_KERNEL(kernels::conv2d_input_grad, DeviceType::cuda, conv2d_input_grad);
VIREO_REGISTER_KERNEL(kernels::conv2d_weight_grad, DeviceType::cuda, conv2d_weight_grad);

}  // namespace vireo::cuda
