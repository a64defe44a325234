// Pooling and resampling layers (engine/nn/pooling.h): thin modules over the engine's ops.
#include "engine/nn/pooling.h"

#include "engine/nn/repr.h"

namespace vireo::nn {

MaxPool2d::MaxPool2d(IntPair kernel_size, PoolOptions options)
    : kernel_size(kernel_size),
      stride(options.stride.value_or(kernel_size)),
      padding(options.padding),
      dilation(options.dilation) {}

Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, {.kernel = kernel_size.array(), .stride = stride.array(), .padding = padding.array(),
                        .dilation = dilation.array()});
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + repr_tuple(kernel_size.vector()) + ", stride=" + repr_tuple(stride.vector()) +
         ", padding=" + repr_tuple(padding.vector()) + ", dilation=" + repr_tuple(dilation.vector());
}

AvgPool2d::AvgPool2d(IntPair kernel_size, PoolOptions options)
    : kernel_size(kernel_size),
      stride(options.stride.value_or(kernel_size)),
      padding(options.padding),
      count_include_pad(options.count_include_pad) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, {.kernel = kernel_size.array(), .stride = stride.array(), .padding = padding.array(),
                        .count_include_pad = count_include_pad});
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + repr_tuple(kernel_size.vector()) + ", stride=" + repr_tuple(stride.vector()) +
         ", padding=" + repr_tuple(padding.vector());
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + repr_tuple(output_size.vector()); }

Upsample::Upsample(int64_t scale_factor, UpsampleMode mode, bool align_corners)
    : scale_factor(scale_factor), mode(mode), align_corners(align_corners) {
  VIREO_CHECK(scale_factor >= 1, "Upsample: the scale factor must be at least 1, got ", scale_factor);
}

Tensor Upsample::forward(const Tensor& x) {
  VIREO_CHECK(x.dim() == 4, "Upsample: expects an input [N, C, H, W], got ", describe(x));
  const Pair size{x.size(2) * scale_factor, x.size(3) * scale_factor};
  return mode == UpsampleMode::nearest ? upsample_nearest2d(x, size) : upsample_bilinear2d(x, size, align_corners);
}

std::string Upsample::extra_repr() const {
  return "scale_factor=" + std::to_string(scale_factor) +
         (mode == UpsampleMode::nearest ? ", mode='nearest'" : ", mode='bilinear'");
}

}  // namespace vireo::nn
