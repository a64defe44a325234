// p4 group-equivariant layers: the equations and the layout are in p4_conv.h.
#include "models/p4_conv.h"

#include <cmath>

#include "engine/error.h"
#include "engine/nn/init.h"
#include "engine/ops.h"

namespace vireo::models {
namespace {

// index = (values…) as a 1-D i64 tensor on `device` (the indexed tensor's), for index_select.
Tensor index_tensor(const std::vector<double>& values, Device device) {
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, {.dtype = DType::i64, .device = device});
}

// The index that reverses a dimension of size n.
Tensor reversed_index(int64_t n, Device device) {
  std::vector<double> values(n);
  for (int64_t i = 0; i < n; ++i) values[i] = static_cast<double>(n - 1 - i);
  return index_tensor(values, device);
}

// The index that shifts the group axis by k: out(s) = in((s − k) mod 4).
Tensor group_shift_index(int64_t k, Device device) {
  std::vector<double> values(kP4GroupSize);
  for (int64_t s = 0; s < kP4GroupSize; ++s)
    values[s] = static_cast<double>(((s - k) % kP4GroupSize + kP4GroupSize) % kP4GroupSize);
  return index_tensor(values, device);
}

void check_kernel(const char* layer, int64_t in_channels, int64_t out_channels, int64_t kernel_size) {
  VIREO_CHECK(in_channels > 0 && out_channels > 0, layer, ": channel counts must be positive, got in_channels ",
              in_channels, " and out_channels ", out_channels);
  VIREO_CHECK(kernel_size > 0 && kernel_size % 2 == 1, layer,
              ": kernel_size must be odd (a centred filter keeps the layer exactly equivariant), got ", kernel_size);
}

// He-normal for the ReLU that follows, std = √2/√fan_out with fan_out = out·4·k² the expanded bank's, as
// ResNet initializes its convolutions.
void initialize_p4_weight(const Tensor& weight, int64_t out_channels, int64_t kernel_size) {
  const double fan_out = static_cast<double>(out_channels * kP4GroupSize * kernel_size * kernel_size);
  nn::init::normal_(weight, 0.0, std::sqrt(2.0 / fan_out));
}

std::string conv_repr(int64_t in_channels, int64_t out_channels, int64_t kernel_size) {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels) +
         ", kernel_size=" + std::to_string(kernel_size) + ", group=p4";
}

}  // namespace

Tensor rotate_quarter_turns(const Tensor& x, int64_t k) {
  VIREO_CHECK(x.defined() && x.dim() >= 2, "rotate_quarter_turns: expects [..., H, W], got ", describe(x));
  Tensor out = x;
  // rot(x)[i, j] = x[j, W−1−i]: transpose the last two axes, then reverse the rows.
  for (int64_t turn = 0; turn < ((k % 4) + 4) % 4; ++turn) {
    out = transpose(out, -2, -1);
    out = index_select(out, out.dim() - 2, reversed_index(out.size(-2), out.device()));
  }
  return out;
}

Tensor p4_rotate(const Tensor& features, int64_t k) {
  VIREO_CHECK(features.defined() && features.dim() == 4 && features.size(1) % kP4GroupSize == 0,
              "p4_rotate: expects a p4 feature map [N, C·4, H, W], got ", describe(features));
  const int64_t n = features.size(0), channels = features.size(1) / kP4GroupSize;
  const int64_t height = features.size(2), width = features.size(3);
  Tensor grouped = reshape(features, {n, channels, kP4GroupSize, height, width});
  grouped = index_select(rotate_quarter_turns(grouped, k), 2, group_shift_index(k, features.device()));
  return reshape(grouped, {n, channels * kP4GroupSize, grouped.size(3), grouped.size(4)});
}

// ---- lifting convolution ----

P4LiftingConv2d::P4LiftingConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size) {
  check_kernel("P4LiftingConv2d", in_channels, out_channels, kernel_size);
  weight = register_parameter("weight", empty({out_channels, in_channels, kernel_size, kernel_size}));
  initialize_p4_weight(weight, out_channels, kernel_size);
}

Tensor P4LiftingConv2d::expanded_weight() const {
  // bank[o·4 + r] = rot^r(ψ_o)
  std::vector<Tensor> copies;
  for (int64_t r = 0; r < kP4GroupSize; ++r) copies.push_back(rotate_quarter_turns(weight, r));
  return reshape(stack(copies, 1), {out_channels * kP4GroupSize, in_channels, kernel_size, kernel_size});
}

Tensor P4LiftingConv2d::forward(const Tensor& images) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(1) == in_channels,
              "P4LiftingConv2d: expects images [N, ", in_channels, ", H, W], got ", describe(images));
  const int64_t padding = (kernel_size - 1) / 2;
  return conv2d(images, expanded_weight(), {}, {.padding = {padding, padding}});
}

std::string P4LiftingConv2d::extra_repr() const { return conv_repr(in_channels, out_channels, kernel_size); }

// ---- group convolution ----

P4GroupConv2d::P4GroupConv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
    : in_channels(in_channels), out_channels(out_channels), kernel_size(kernel_size) {
  check_kernel("P4GroupConv2d", in_channels, out_channels, kernel_size);
  weight = register_parameter("weight", empty({out_channels, in_channels, kP4GroupSize, kernel_size, kernel_size}));
  initialize_p4_weight(weight, out_channels, kernel_size);
}

Tensor P4GroupConv2d::expanded_weight() const {
  // bank[o·4 + r, i·4 + s] = rot^r(ψ_{o, i, (s − r) mod 4})
  std::vector<Tensor> copies;
  for (int64_t r = 0; r < kP4GroupSize; ++r)
    copies.push_back(rotate_quarter_turns(index_select(weight, 2, group_shift_index(r, weight.device())), r));
  return reshape(stack(copies, 1), {out_channels * kP4GroupSize, in_channels * kP4GroupSize, kernel_size, kernel_size});
}

Tensor P4GroupConv2d::forward(const Tensor& features) {
  VIREO_CHECK(features.defined() && features.dim() == 4 && features.size(1) == in_channels * kP4GroupSize,
              "P4GroupConv2d: expects a p4 feature map [N, ", in_channels * kP4GroupSize, ", H, W] (", in_channels,
              " channels × 4 orientations), got ", describe(features));
  const int64_t padding = (kernel_size - 1) / 2;
  return conv2d(features, expanded_weight(), {}, {.padding = {padding, padding}});
}

std::string P4GroupConv2d::extra_repr() const { return conv_repr(in_channels, out_channels, kernel_size); }

// ---- batch norm ----

P4BatchNorm2d::P4BatchNorm2d(int64_t num_features) : nn::BatchNorm2d(num_features) {}

Tensor P4BatchNorm2d::forward(const Tensor& features) {
  VIREO_CHECK(features.defined() && features.dim() == 4 && features.size(1) == num_features * kP4GroupSize,
              "P4BatchNorm2d: expects a p4 feature map [N, ", num_features * kP4GroupSize, ", H, W], got ",
              describe(features));
  const Shape shape = features.shape();
  const Tensor folded = reshape(features, {shape[0], num_features, kP4GroupSize * shape[2], shape[3]});
  return reshape(nn::BatchNorm2d::forward(folded), shape);
}

}  // namespace vireo::models
