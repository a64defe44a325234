// Conv2d and ConvTranspose2d, as torch.nn.Conv2d / torch.nn.ConvTranspose2d (zero padding).
#pragma once

#include <optional>
#include <vector>

#include "engine/nn/module.h"
#include "engine/ops/conv.h"

namespace vireo::nn {

// A (height, width) extent written as one int for both — `3` means (3, 3) — or as `{3, 5}`.
struct IntPair {
  int64_t height, width;
  IntPair(int64_t both) : height(both), width(both) {}
  IntPair(int64_t height, int64_t width) : height(height), width(width) {}
  Pair array() const { return {height, width}; }
  std::vector<int64_t> vector() const { return {height, width}; }
  friend bool operator==(const IntPair&, const IntPair&) = default;
};

struct Conv2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

// weight [out, in / groups, kh, kw], bias [out]. Default initialization (PyTorch's): weight ~
// kaiming_uniform(a = √5) = U(−1/√fan_in, 1/√fan_in) and bias ~ U(−1/√fan_in, 1/√fan_in), with
// fan_in = in / groups · kh · kw.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, Conv2dOptions options = {});

  using Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, in, H, W] (or [in, H, W]) -> [N, out, H', W']
  void reset_parameters() override;
  std::string extra_repr() const override;

  const int64_t in_channels, out_channels;
  const IntPair kernel_size, stride, padding, dilation;
  const int64_t groups;
  Tensor weight, bias;
};

struct ConvTranspose2dOptions {
  IntPair stride = 1;
  IntPair padding = 0;
  IntPair output_padding = 0;
  int64_t groups = 1;
  IntPair dilation = 1;
  bool bias = true;
};

// weight [in, out / groups, kh, kw] (PyTorch's layout), bias [out]. Initialized like Conv2d, with fan_in
// computed on that layout as PyTorch does: size(1) · kh · kw = out / groups · kh · kw.
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, ConvTranspose2dOptions options = {});

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;
  std::string extra_repr() const override;

  const int64_t in_channels, out_channels;
  const IntPair kernel_size, stride, padding, output_padding, dilation;
  const int64_t groups;
  Tensor weight, bias;
};

}  // namespace vireo::nn
