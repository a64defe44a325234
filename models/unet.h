// The UNet of DDPM (Ho et al. 2020, "Denoising Diffusion Probabilistic Models"): it predicts the noise ε
// in x_t from (x_t, t) and, optionally, a class label. The default options reproduce the model of the
// PyTorch benchmark ../shared/bench/pytorch/bench_ddpm_unet.py exactly (same layers, same order, same
// parameter count), so the two can be compared side by side.
//
//   time    = Linear(4c) -> SiLU -> Linear(4c) applied to sinusoidal(t, c)   (c = base_channels)
//             (+ class_embedding(label) when class-conditional)
//   h       = conv_in(x)                                       skips: [h]
//   down    : per level l (channels c·mult[l]): num_res_blocks × (ResidualBlock [+ SelfAttention2d if l is
//             an attention level]), each output pushed to skips; between levels a stride-2 DownsampleConv
//             (its output pushed too)
//   middle  : ResidualBlock, SelfAttention2d, ResidualBlock
//   up      : per level, deepest first: (num_res_blocks + 1) × (ResidualBlock on cat(h, skips.pop())
//             [+ attention]); between levels an UpsampleConv (nearest ×2, then a 3×3 conv)
//   ε̂       = conv_out(SiLU(norm_out(h)))
//
//   ResidualBlock(x, time) = skip(x) + conv2(dropout(SiLU(norm2(conv1(SiLU(norm1(x))) + time_projection(time)))))
//     (norms are GroupNorm; skip is a 1×1 conv when the channel count changes; the time projection is a
//     Linear on the time embedding itself, without a SiLU in front, as in the benchmark)
//   SelfAttention2d(x)     = x + proj(attention over the H·W positions of qkv(norm(x)), one head)
//
// Names, for a reader of the benchmark script: its temb/cin/down/mid1/mida/mid2/up/nout/cout are
// time_embedding/conv_in/down/middle_block1/middle_attention/middle_block2/up/norm_out/conv_out here; its
// Res n1/c1/t/n2/c2/sk are norm1/conv1/time_projection/norm2/conv2/skip; its Attn n/qkv/o are
// norm/qkv/proj; its [Res, Attn] pairs are UNetBlock {residual, attention}; its bare down/up convs are
// wrapped as DownsampleConv.conv / UpsampleConv.conv.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "engine/nn/activation.h"
#include "engine/nn/container.h"
#include "engine/nn/conv.h"
#include "engine/nn/dropout.h"
#include "engine/nn/embedding.h"
#include "engine/nn/linear.h"
#include "engine/nn/normalization.h"
#include "engine/nn/pooling.h"

namespace vireo::models {

struct UNetOptions {
  int64_t in_channels = 1;
  std::optional<int64_t> out_channels = std::nullopt;  // unset: in_channels (ε has the image's shape)
  // Level widths are base_channels · multiplier; base_channels is also the sinusoidal embedding's size and
  // 4 · base_channels the time embedding's, as in Ho et al.
  int64_t base_channels = 32;
  std::vector<int64_t> channel_multipliers = {1, 2, 4};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attention_levels = {2};  // indices into channel_multipliers (2: the 7×7 level on 28 px)
  int64_t groups = 8;                           // GroupNorm groups (must divide every width)
  int64_t num_classes = 0;                      // > 0: class-conditional, a label embedding added to time
  double dropout = 0.0;                         // in each ResidualBlock, before conv2
};

// [N] timesteps (any numeric dtype) -> [N, dim]: [sin(t·f_0..f_{h−1}), cos(t·f_0..f_{h−1})] with
// f_i = exp(−ln(10000)·i/h), h = dim/2. Computed on the host: t carries no gradient.
Tensor sinusoidal_time_embedding(const Tensor& timesteps, int64_t dim, TensorOptions options = {});

class ResidualBlock : public nn::Module {
 public:
  ResidualBlock(int64_t in_channels, int64_t out_channels, int64_t time_channels, int64_t groups, double dropout);
  using nn::Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override;  // {x [N, in, H, W], time [N, time_channels]}

  std::shared_ptr<nn::GroupNorm> norm1, norm2;
  std::shared_ptr<nn::SiLU> act1, act2;  // modules, so the Approx-BP switch (models/memory.h) reaches them
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Linear> time_projection;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Module> skip;  // 1×1 Conv2d, or Identity
};

class SelfAttention2d : public nn::Module {
 public:
  SelfAttention2d(int64_t channels, int64_t groups);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, C, H, W] -> same

  std::shared_ptr<nn::GroupNorm> norm;
  std::shared_ptr<nn::Conv2d> qkv;   // 1×1, C -> 3C (channels: q, then k, then v)
  std::shared_ptr<nn::Conv2d> proj;  // 1×1, C -> C
};

// A ResidualBlock followed by self-attention (or an Identity where the level has none).
class UNetBlock : public nn::Module {
 public:
  UNetBlock(int64_t in_channels, int64_t out_channels, int64_t time_channels, int64_t groups, double dropout,
            bool with_attention);
  using nn::Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override;  // {x, time}

  std::shared_ptr<ResidualBlock> residual;
  std::shared_ptr<nn::Module> attention;  // SelfAttention2d or Identity
};

// Halves H and W: a 3×3 stride-2 conv.
class DownsampleConv : public nn::Module {
 public:
  explicit DownsampleConv(int64_t channels);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Conv2d> conv;
};

// Doubles H and W: nearest-neighbour ×2 (nn::Upsample), then a 3×3 conv.
class UpsampleConv : public nn::Module {
 public:
  explicit UpsampleConv(int64_t channels);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<nn::Upsample> upsample;
  std::shared_ptr<nn::Conv2d> conv;
};

class UNet : public nn::Module {
 public:
  explicit UNet(UNetOptions options = {});

  // {x [N, in, H, W], t [N]} or, class-conditional, {x, t, labels [N] (i64)} -> ε̂ [N, out, H, W].
  // H and W must be divisible by 2^(levels − 1).
  using nn::Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override;
  // The hooked call spelled with separate arguments: (*unet)(x, t) or (*unet)(x, t, labels).
  using nn::Module::operator();
  Tensor operator()(const Tensor& x, const Tensor& timesteps, const Tensor& labels = {}) {
    return labels.defined() ? (*this)(std::vector<Tensor>{x, timesteps, labels})
                            : (*this)(std::vector<Tensor>{x, timesteps});
  }

  const UNetOptions options;
  const int64_t time_channels;

  std::shared_ptr<nn::Sequential> time_embedding;  // Linear, SiLU, Linear
  std::shared_ptr<nn::Embedding> class_embedding;  // null unless class-conditional
  std::shared_ptr<nn::Conv2d> conv_in;
  std::shared_ptr<nn::ModuleList> down;  // UNetBlock and DownsampleConv entries, in order
  std::shared_ptr<ResidualBlock> middle_block1, middle_block2;
  std::shared_ptr<SelfAttention2d> middle_attention;
  std::shared_ptr<nn::ModuleList> up;    // UNetBlock and UpsampleConv entries, in order
  std::shared_ptr<nn::GroupNorm> norm_out;
  std::shared_ptr<nn::SiLU> act_out;
  std::shared_ptr<nn::Conv2d> conv_out;

 private:
  // Whether each entry of down / up is a UNetBlock (takes {h, time}) rather than a resampler (takes h).
  std::vector<bool> down_takes_time_, up_takes_time_;
};

// The benchmark's model, with any option overridden by `options`.
std::shared_ptr<UNet> ddpm_unet(UNetOptions options = {});

}  // namespace vireo::models
