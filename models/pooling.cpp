// Pooling modules (models/pooling.h): argument checks and one engine op each.
#include "models/pooling.h"

#include "engine/nn/repr.h"
#include "engine/ops/conv.h"

namespace vireo::models {

MaxPool2d::MaxPool2d(nn::IntPair kernel_size, MaxPool2dOptions options)
    : kernel_size(kernel_size),
      stride(options.stride == nn::IntPair(0) ? kernel_size : options.stride),
      padding(options.padding),
      dilation(options.dilation) {
  VIREO_CHECK(kernel_size.height > 0 && kernel_size.width > 0 && stride.height > 0 && stride.width > 0 &&
                  dilation.height > 0 && dilation.width > 0,
              "MaxPool2d: kernel_size ", nn::repr_tuple(kernel_size.vector()), ", stride ",
              nn::repr_tuple(stride.vector()), " and dilation ", nn::repr_tuple(dilation.vector()),
              " must be positive");
  VIREO_CHECK(padding.height >= 0 && padding.width >= 0 && 2 * padding.height <= kernel_size.height &&
                  2 * padding.width <= kernel_size.width,
              "MaxPool2d: padding ", nn::repr_tuple(padding.vector()), " must be between 0 and half the kernel ",
              nn::repr_tuple(kernel_size.vector()));
}

Tensor MaxPool2d::forward(const Tensor& x) {
  VIREO_CHECK(x.defined() && x.dim() == 4, "MaxPool2d: expects an input [N, C, H, W], got ", describe(x));
  return max_pool2d(x, Pool2dOptions{.kernel = kernel_size.array(), .stride = stride.array(),
                                     .padding = padding.array(), .dilation = dilation.array()});
}

namespace {

// PyTorch prints a pooling extent as given: one int for a square window ("3"), a tuple otherwise.
std::string extent_repr(const nn::IntPair& extent) {
  return extent.height == extent.width ? std::to_string(extent.height) : nn::repr_tuple(extent.vector());
}

}  // namespace

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + extent_repr(kernel_size) + ", stride=" + extent_repr(stride) + ", padding=" +
         extent_repr(padding) + ", dilation=" + extent_repr(dilation) + ", ceil_mode=False";
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  VIREO_CHECK(x.defined() && x.dim() == 4, "AdaptiveAvgPool2d: expects an input [N, C, H, W], got ", describe(x));
  // The global average (the models' only use) is a plain mean: one reduction instead of a windowed pass.
  if (output_size == nn::IntPair(1)) return x.mean({2, 3}, true);
  return adaptive_avg_pool2d(x, output_size.array());
}

std::string AdaptiveAvgPool2d::extra_repr() const { return "output_size=" + nn::repr_tuple(output_size.vector()); }

}  // namespace vireo::models
