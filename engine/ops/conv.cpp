// Convolution, pooling and resampling front ends: check arguments, derive the geometry, call the kernels
// (engine/kernels/conv.h), record the backward.
//
// Every op here is linear in its input (max pooling too, once its winners are chosen), so each backward is
// the adjoint map and the adjoint's backward is the map again: conv2d's input gradient is
// conv_transpose2d, whose input gradient is conv2d.
#include "engine/ops/conv.h"

#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "engine/autocast.h"
#include "engine/kernels/conv.h"
#include "engine/ops.h"

namespace vireo {
namespace {

using kernels::Conv2dGeometry;
using kernels::Pool2dGeometry;

std::string str(Pair p) {
  std::ostringstream text;
  text << '(' << p[0] << ", " << p[1] << ')';
  return text.str();
}

// Ops take [N, C, H, W]; a 3-D [C, H, W] input is one image, viewed as a batch of one.
struct Batched {
  Tensor x;
  bool unbatched;
};
Batched as_batch(const char* op, const Tensor& x) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  VIREO_CHECK(x.dim() == 4 || x.dim() == 3, op, ": expected a 4-D input [N, C, H, W] (or a 3-D [C, H, W]), got ",
              describe(x));
  VIREO_CHECK(is_floating(x.dtype()), op, ": needs a floating input, got ", describe(x));
  return {x.dim() == 3 ? x.unsqueeze(0) : x, x.dim() == 3};
}
Tensor unbatch(const Tensor& y, bool unbatched) { return unbatched ? y.squeeze(0) : y; }

void check_positive(const char* op, const char* what, Pair value) {
  VIREO_CHECK(value[0] > 0 && value[1] > 0, op, ": ", what, " ", str(value), " must be positive");
}

// The extent of a sliding window's output: floor((in + 2·pad − dilation·(kernel − 1) − 1) / stride) + 1,
// or 0 when the padded input is shorter than the window.
int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

// ---- convolution: three recorded maps over one geometry ----

Shape image_shape(const Conv2dGeometry& g) { return {g.batch, g.in_channels, g.in_height, g.in_width}; }
Shape response_shape(const Conv2dGeometry& g) { return {g.batch, g.out_channels, g.out_height, g.out_width}; }
Shape weight_shape(const Conv2dGeometry& g) {
  return {g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w};
}

bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

Tensor correlate(const char* op, const Conv2dGeometry& g, const Tensor& image, const Tensor& weight, const Tensor& bias);
Tensor correlate_adjoint(const char* op, const Conv2dGeometry& g, const Tensor& response, const Tensor& weight,
                         const Tensor& bias);
Tensor correlate_weight(const char* op, const Conv2dGeometry& g, const Tensor& image, const Tensor& response);

// response = image ⋆ weight + bias. The saved tensors keep their history, so the gradients this
// backward returns are differentiable in them as well.
Tensor correlate(const char* op, const Conv2dGeometry& g, const Tensor& image, const Tensor& weight, const Tensor& bias) {
  const Tensor x = image.contiguous(), w = weight.contiguous();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty(response_shape(g), x.options());
  kernels::conv2d_forward(x.device(), g, x, w, b, out);
  const bool gx = wants_grad(x), gw = wants_grad(w), gb = wants_grad(b);
  return record(op, out, {x, w, b}, [g, x, w, gx, gw, gb](const Tensor& grad) {
    return std::vector<Tensor>{gx ? correlate_adjoint("conv2d_backward_input", g, grad, w, {}) : Tensor(),
                               gw ? correlate_weight("conv2d_backward_weight", g, x, grad) : Tensor(),
                               gb ? grad.sum({0, 2, 3}) : Tensor()};
  }, {x, w});
}

// image = the adjoint of (· ⋆ weight) applied to response, + bias per image channel: conv2d's input
// gradient and conv_transpose2d's forward.
Tensor correlate_adjoint(const char* op, const Conv2dGeometry& g, const Tensor& response, const Tensor& weight,
                         const Tensor& bias) {
  const Tensor r = response.contiguous(), w = weight.contiguous();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty(image_shape(g), r.options());
  kernels::conv2d_input_grad(r.device(), g, r, w, b, out);
  const bool gr = wants_grad(r), gw = wants_grad(w), gb = wants_grad(b);
  return record(op, out, {r, w, b}, [g, r, w, gr, gw, gb](const Tensor& grad) {
    return std::vector<Tensor>{gr ? correlate("conv_transpose2d_backward_input", g, grad, w, {}) : Tensor(),
                               gw ? correlate_weight("conv_transpose2d_backward_weight", g, grad, r) : Tensor(),
                               gb ? grad.sum({0, 2, 3}) : Tensor()};
  }, {r, w});
}

// weight-shaped Σ_n response_n · im2col(image_n)ᵀ. It is bilinear:
//   ⟨G, dW(x, r)⟩ = ⟨r, x ⋆ G⟩ = ⟨x, adjoint(r) under G⟩, which gives both of its derivatives.
Tensor correlate_weight(const char* op, const Conv2dGeometry& g, const Tensor& image, const Tensor& response) {
  const Tensor x = image.contiguous(), r = response.contiguous();
  Tensor out = Tensor::empty(weight_shape(g), x.options());
  kernels::conv2d_weight_grad(x.device(), g, x, r, out);
  const bool gx = wants_grad(x), gr = wants_grad(r);
  return record(op, out, {x, r}, [g, x, r, gx, gr](const Tensor& grad) {
    return std::vector<Tensor>{gx ? correlate_adjoint("conv2d_backward_input", g, r, grad, {}) : Tensor(),
                               gr ? correlate("conv2d", g, x, grad, {}) : Tensor()};
  }, {x, r});
}

// dtype/device agreement of the weight and bias with the input.
void check_parameters(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                      int64_t bias_channels_expected) {
  VIREO_CHECK(weight.defined(), op, ": the weight is undefined");
  VIREO_CHECK(weight.dim() == 4, op, ": expected a 4-D weight, got ", describe(weight));
  VIREO_CHECK(weight.dtype() == x.dtype() && weight.device() == x.device(), op, ": input ", describe(x),
              " and weight ", describe(weight), " differ in dtype or device");
  if (!bias.defined()) return;
  VIREO_CHECK(bias.dtype() == x.dtype() && bias.device() == x.device(), op, ": input ", describe(x), " and bias ",
              describe(bias), " differ in dtype or device");
  VIREO_CHECK(bias.dim() == 1 && bias.size(0) == bias_channels_expected, op, ": bias ", describe(bias),
              " should be [", bias_channels_expected, "] for weight ", describe(weight));
}

// ---- pooling and resampling: a linear map and its adjoint, each the other's backward ----

struct LinearMap {
  const char* name;
  const char* adjoint_name;
  Shape in_shape, out_shape;
  std::function<void(const Tensor& in, const Tensor& out)> apply, apply_adjoint;
};

Tensor apply_linear(const std::shared_ptr<const LinearMap>& map, const Tensor& input, bool adjoint) {
  const Tensor x = input.contiguous();
  Tensor out = Tensor::empty(adjoint ? map->in_shape : map->out_shape, x.options());
  (adjoint ? map->apply_adjoint : map->apply)(x, out);
  return record(adjoint ? map->adjoint_name : map->name, out, {x}, [map, adjoint](const Tensor& grad) {
    return std::vector<Tensor>{apply_linear(map, grad, !adjoint)};
  });
}

// Checks the pooling window options and derives the geometry of `op` over x [N, C, H, W].
Pool2dGeometry pool_geometry(const char* op, const Tensor& x, const Pool2dOptions& options, bool dilated) {
  const Pair kernel = options.kernel;
  const Pair stride = {options.stride[0] == 0 ? kernel[0] : options.stride[0],
                       options.stride[1] == 0 ? kernel[1] : options.stride[1]};
  const Pair dilation = dilated ? options.dilation : Pair{1, 1};
  check_positive(op, "kernel", kernel);
  check_positive(op, "stride", stride);
  check_positive(op, "dilation", dilation);
  VIREO_CHECK(options.padding[0] >= 0 && options.padding[1] >= 0, op, ": padding ", str(options.padding),
              " must not be negative");
  VIREO_CHECK(options.padding[0] <= kernel[0] / 2 && options.padding[1] <= kernel[1] / 2, op, ": padding ",
              str(options.padding), " must be at most half the kernel ", str(kernel));
  VIREO_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": the input ", describe(x), " has an empty image");
  Pool2dGeometry g;
  g.planes = x.size(0) * x.size(1);
  g.in_height = x.size(2);
  g.in_width = x.size(3);
  g.kernel_h = kernel[0];
  g.kernel_w = kernel[1];
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_h = options.padding[0];
  g.pad_w = options.padding[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.count_include_pad = options.count_include_pad;
  g.out_height = window_output_size(g.in_height, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
  g.out_width = window_output_size(g.in_width, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
  VIREO_CHECK(g.out_height > 0 && g.out_width > 0, op, ": the input ", describe(x), " is too small for kernel ",
              str(kernel), " with padding ", str(options.padding), (dilated ? " and dilation " + str(dilation) : ""),
              " (output size ", str({g.out_height, g.out_width}), ")");
  return g;
}

void check_output_size(const char* op, const Tensor& x, Pair size) {
  VIREO_CHECK(size[0] > 0 && size[1] > 0, op, ": output size ", str(size), " must be positive (input ",
              describe(x), ")");
  VIREO_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": the input ", describe(x), " has an empty image");
}

// The kernel and window settings conv2d and conv_transpose2d share (the latter as conv2d's adjoint).
void set_window(Conv2dGeometry& g, const Tensor& weight, Pair stride, Pair padding, Pair dilation, int64_t groups) {
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_h = padding[0];
  g.pad_w = padding[1];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  g.groups = groups;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, Conv2dOptions options) {
  if (const auto compute = autocast_compute_type({&input, &weight, &bias})) {
    Autocast suspended(std::nullopt);
    return conv2d(input.to(*compute), weight.to(*compute), bias.defined() ? bias.to(*compute) : bias, options)
        .to(DType::f32);
  }
  const char* op = "conv2d";
  const auto [x, unbatched] = as_batch(op, input);
  check_parameters(op, x, weight, bias, weight.defined() && weight.dim() == 4 ? weight.size(0) : 0);
  check_positive(op, "stride", options.stride);
  check_positive(op, "dilation", options.dilation);
  VIREO_CHECK(options.padding[0] >= 0 && options.padding[1] >= 0, op, ": padding ", str(options.padding),
              " must not be negative");
  VIREO_CHECK(options.groups > 0, op, ": groups ", options.groups, " must be positive");
  const int64_t in_channels = x.size(1), out_channels = weight.size(0);
  VIREO_CHECK(in_channels % options.groups == 0 && out_channels % options.groups == 0, op, ": groups ",
              options.groups, " must divide the input channels of ", describe(input), " and the output channels of weight ",
              describe(weight));
  VIREO_CHECK(weight.size(1) * options.groups == in_channels, op, ": input ", describe(input), " has ", in_channels,
              " channels but weight ", describe(weight), " with groups ", options.groups, " expects ",
              weight.size(1) * options.groups);
  Conv2dGeometry g;
  g.batch = x.size(0);
  g.in_channels = in_channels;
  g.in_height = x.size(2);
  g.in_width = x.size(3);
  g.out_channels = out_channels;
  set_window(g, weight, options.stride, options.padding, options.dilation, options.groups);
  g.out_height = window_output_size(g.in_height, g.kernel_h, g.stride_h, g.pad_h, g.dilation_h);
  g.out_width = window_output_size(g.in_width, g.kernel_w, g.stride_w, g.pad_w, g.dilation_w);
  VIREO_CHECK(g.kernel_h > 0 && g.kernel_w > 0 && g.out_height > 0 && g.out_width > 0, op, ": input ",
              describe(input), " is too small for weight ", describe(weight), " with padding ", str(options.padding),
              " and dilation ", str(options.dilation), " (output size ", str({g.out_height, g.out_width}), ")");
  return unbatch(correlate(op, g, x, weight, bias), unbatched);
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias, ConvTranspose2dOptions options) {
  const char* op = "conv_transpose2d";
  const auto [x, unbatched] = as_batch(op, input);
  VIREO_CHECK(options.groups > 0, op, ": groups ", options.groups, " must be positive");
  const int64_t out_channels =
      weight.defined() && weight.dim() == 4 ? weight.size(1) * options.groups : 0;
  check_parameters(op, x, weight, bias, out_channels);
  check_positive(op, "stride", options.stride);
  check_positive(op, "dilation", options.dilation);
  VIREO_CHECK(options.padding[0] >= 0 && options.padding[1] >= 0, op, ": padding ", str(options.padding),
              " must not be negative");
  const int64_t in_channels = x.size(1);
  VIREO_CHECK(in_channels % options.groups == 0, op, ": groups ", options.groups, " must divide the input channels of ",
              describe(input));
  VIREO_CHECK(weight.size(0) == in_channels, op, ": input ", describe(input), " has ", in_channels,
              " channels but weight ", describe(weight), " expects ", weight.size(0));
  for (int d = 0; d < 2; ++d)
    VIREO_CHECK(options.output_padding[d] >= 0 &&
                    (options.output_padding[d] < options.stride[d] || options.output_padding[d] < options.dilation[d]),
                op, ": output_padding ", str(options.output_padding), " must be smaller than the stride ",
                str(options.stride), " or the dilation ", str(options.dilation));
  // conv_transpose2d is the adjoint of a conv2d whose image is this op's output and whose response is x.
  Conv2dGeometry g;
  g.batch = x.size(0);
  g.out_channels = in_channels;
  g.out_height = x.size(2);
  g.out_width = x.size(3);
  g.in_channels = out_channels;
  set_window(g, weight, options.stride, options.padding, options.dilation, options.groups);
  g.in_height = (g.out_height - 1) * g.stride_h - 2 * g.pad_h + g.dilation_h * (g.kernel_h - 1) +
                options.output_padding[0] + 1;
  g.in_width = (g.out_width - 1) * g.stride_w - 2 * g.pad_w + g.dilation_w * (g.kernel_w - 1) +
               options.output_padding[1] + 1;
  VIREO_CHECK(g.kernel_h > 0 && g.kernel_w > 0 && g.out_height > 0 && g.out_width > 0 && g.in_height > 0 &&
                  g.in_width > 0,
              op, ": input ", describe(input), " with weight ", describe(weight), ", stride ", str(options.stride),
              ", padding ", str(options.padding), " and dilation ", str(options.dilation), " gives output size ",
              str({g.in_height, g.in_width}), ", which is not positive");
  return unbatch(correlate_adjoint(op, g, x, weight, bias), unbatched);
}

Tensor max_pool2d(const Tensor& input, Pool2dOptions options) {
  const char* op = "max_pool2d";
  const auto [batch, unbatched] = as_batch(op, input);
  const Pool2dGeometry g = pool_geometry(op, batch, options, true);
  const Tensor x = batch.contiguous();
  const Shape out_shape = {x.size(0), x.size(1), g.out_height, g.out_width};
  Tensor out = Tensor::empty(out_shape, x.options());
  Tensor indices = Tensor::empty(out_shape, {.dtype = DType::i64, .device = x.device()});
  kernels::max_pool2d(x.device(), g, x, out, indices);
  // With the winners fixed, max pooling is the gather out = x[indices]; its adjoint scatters back.
  auto gather = std::make_shared<const LinearMap>(LinearMap{
      "max_pool2d_gather", "max_pool2d_backward", x.shape(), out_shape,
      [g, indices](const Tensor& in, const Tensor& o) { kernels::max_pool2d_gather(in.device(), g, in, indices, o); },
      [g, indices](const Tensor& in, const Tensor& o) { kernels::max_pool2d_backward(in.device(), g, in, indices, o); }});
  out = record(op, out, {x}, [gather](const Tensor& grad) { return std::vector<Tensor>{apply_linear(gather, grad, true)}; });
  return unbatch(out, unbatched);
}

Tensor avg_pool2d(const Tensor& input, Pool2dOptions options) {
  const char* op = "avg_pool2d";
  const auto [x, unbatched] = as_batch(op, input);
  const Pool2dGeometry g = pool_geometry(op, x, options, false);
  auto map = std::make_shared<const LinearMap>(LinearMap{
      op, "avg_pool2d_backward", x.shape(), {x.size(0), x.size(1), g.out_height, g.out_width},
      [g](const Tensor& in, const Tensor& o) { kernels::avg_pool2d(in.device(), g, in, o); },
      [g](const Tensor& in, const Tensor& o) { kernels::avg_pool2d_backward(in.device(), g, in, o); }});
  return unbatch(apply_linear(map, x, false), unbatched);
}

Tensor adaptive_avg_pool2d(const Tensor& input, Pair output_size) {
  const char* op = "adaptive_avg_pool2d";
  const auto [x, unbatched] = as_batch(op, input);
  check_output_size(op, x, output_size);
  auto map = std::make_shared<const LinearMap>(LinearMap{
      op, "adaptive_avg_pool2d_backward", x.shape(), {x.size(0), x.size(1), output_size[0], output_size[1]},
      [](const Tensor& in, const Tensor& o) { kernels::adaptive_avg_pool2d(in.device(), in, o); },
      [](const Tensor& in, const Tensor& o) { kernels::adaptive_avg_pool2d_backward(in.device(), in, o); }});
  return unbatch(apply_linear(map, x, false), unbatched);
}

Tensor upsample_nearest2d(const Tensor& input, Pair size) {
  const char* op = "upsample_nearest2d";
  const auto [x, unbatched] = as_batch(op, input);
  check_output_size(op, x, size);
  auto map = std::make_shared<const LinearMap>(LinearMap{
      op, "upsample_nearest2d_backward", x.shape(), {x.size(0), x.size(1), size[0], size[1]},
      [](const Tensor& in, const Tensor& o) { kernels::upsample_nearest2d(in.device(), in, o); },
      [](const Tensor& in, const Tensor& o) { kernels::upsample_nearest2d_backward(in.device(), in, o); }});
  return unbatch(apply_linear(map, x, false), unbatched);
}

Tensor upsample_bilinear2d(const Tensor& input, Pair size, bool align_corners) {
  const char* op = "upsample_bilinear2d";
  const auto [x, unbatched] = as_batch(op, input);
  check_output_size(op, x, size);
  auto map = std::make_shared<const LinearMap>(LinearMap{
      op, "upsample_bilinear2d_backward", x.shape(), {x.size(0), x.size(1), size[0], size[1]},
      [align_corners](const Tensor& in, const Tensor& o) {
        kernels::upsample_bilinear2d(in.device(), in, o, align_corners);
      },
      [align_corners](const Tensor& in, const Tensor& o) {
        kernels::upsample_bilinear2d_backward(in.device(), in, o, align_corners);
      }});
  return unbatch(apply_linear(map, x, false), unbatched);
}

}  // namespace vireo
