// Convolution layers (engine/nn/conv.h) over the engine's conv2d / conv_transpose2d ops.
#include "engine/nn/conv.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/nn/repr.h"
#include "engine/ops/creation.h"

namespace vireo::nn {
namespace {

void check_geometry(const char* layer, int64_t in_channels, int64_t out_channels, const IntPair& kernel,
                    const IntPair& stride, const IntPair& padding, const IntPair& dilation, int64_t groups) {
  VIREO_CHECK(in_channels > 0 && out_channels > 0, layer, ": channel counts must be positive, got in_channels ",
              in_channels, " and out_channels ", out_channels);
  VIREO_CHECK(groups > 0 && in_channels % groups == 0 && out_channels % groups == 0, layer, ": groups ", groups,
              " must divide both in_channels ", in_channels, " and out_channels ", out_channels);
  VIREO_CHECK(kernel.height > 0 && kernel.width > 0, layer, ": kernel_size must be positive, got ",
              repr_tuple(kernel.vector()));
  VIREO_CHECK(stride.height > 0 && stride.width > 0, layer, ": stride must be positive, got ", repr_tuple(stride.vector()));
  VIREO_CHECK(dilation.height > 0 && dilation.width > 0, layer, ": dilation must be positive, got ",
              repr_tuple(dilation.vector()));
  VIREO_CHECK(padding.height >= 0 && padding.width >= 0, layer, ": padding must be non-negative, got ",
              repr_tuple(padding.vector()));
}

// PyTorch's reset for every convolution: kaiming_uniform(a = √5) on the weight, U(±1/√fan_in) on the bias.
void reset_convolution(const Tensor& weight, const Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const int64_t fan_in = init::fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

// Runs `body` on a batched [N, C, H, W] view of x, accepting an unbatched [C, H, W] input as PyTorch does.
template <class Body>
Tensor batched(const char* layer, const Tensor& x, int64_t channels, Body&& body) {
  VIREO_CHECK(x.defined() && (x.dim() == 3 || x.dim() == 4) && x.size(-3) == channels, layer,
              ": expects an input [N, ", channels, ", H, W] or [", channels, ", H, W], got ", describe(x));
  if (x.dim() == 3) return body(x.unsqueeze(0)).squeeze(0);
  return body(x);
}

std::string convolution_repr(int64_t in_channels, int64_t out_channels, const IntPair& kernel, const IntPair& stride,
                             const IntPair& padding, const IntPair& dilation, const IntPair& output_padding,
                             int64_t groups, bool bias) {
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + repr_tuple(kernel.vector()) + ", stride=" + repr_tuple(stride.vector());
  if (padding != IntPair(0)) s += ", padding=" + repr_tuple(padding.vector());
  if (dilation != IntPair(1)) s += ", dilation=" + repr_tuple(dilation.vector());
  if (output_padding != IntPair(0)) s += ", output_padding=" + repr_tuple(output_padding.vector());
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias) s += ", bias=False";
  return s;
}

}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, Conv2dOptions options)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), stride(options.stride),
      padding(options.padding), dilation(options.dilation), groups(options.groups) {
  check_geometry("Conv2d", in_channels, out_channels, kernel_size, stride, padding, dilation, groups);
  weight = register_parameter("weight",
                              empty({out_channels, in_channels / groups, kernel_size.height, kernel_size.width}));
  if (options.bias) bias = register_parameter("bias", empty({out_channels}));
  reset_parameters();
}

void Conv2d::reset_parameters() { reset_convolution(weight, bias); }

Tensor Conv2d::forward(const Tensor& x) {
  return batched("Conv2d", x, in_channels, [&](const Tensor& input) {
    return conv2d(input, weight, bias,
                  vireo::Conv2dOptions{.stride = stride.array(), .padding = padding.array(),
                                       .dilation = dilation.array(), .groups = groups});
  });
}

std::string Conv2d::extra_repr() const {
  return convolution_repr(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups,
                          bias.defined());
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
                                 ConvTranspose2dOptions options)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size), stride(options.stride),
      padding(options.padding), output_padding(options.output_padding), dilation(options.dilation),
      groups(options.groups) {
  check_geometry("ConvTranspose2d", in_channels, out_channels, kernel_size, stride, padding, dilation, groups);
  // The extra rows of output must fit within one stride (or dilation) step, as PyTorch requires.
  VIREO_CHECK(output_padding.height >= 0 && output_padding.width >= 0 &&
                  (output_padding.height < stride.height || output_padding.height < dilation.height) &&
                  (output_padding.width < stride.width || output_padding.width < dilation.width),
              "ConvTranspose2d: output_padding ", repr_tuple(output_padding.vector()),
              " must be smaller than either stride ", repr_tuple(stride.vector()), " or dilation ",
              repr_tuple(dilation.vector()));
  weight = register_parameter("weight",
                              empty({in_channels, out_channels / groups, kernel_size.height, kernel_size.width}));
  if (options.bias) bias = register_parameter("bias", empty({out_channels}));
  reset_parameters();
}

void ConvTranspose2d::reset_parameters() { reset_convolution(weight, bias); }

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return batched("ConvTranspose2d", x, in_channels, [&](const Tensor& input) {
    return conv_transpose2d(input, weight, bias,
                            vireo::ConvTranspose2dOptions{.stride = stride.array(), .padding = padding.array(),
                                                          .output_padding = output_padding.array(),
                                                          .dilation = dilation.array(), .groups = groups});
  });
}

std::string ConvTranspose2d::extra_repr() const {
  return convolution_repr(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, groups,
                          bias.defined());
}

}  // namespace vireo::nn
