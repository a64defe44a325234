// DDPM UNet (models/unet.h), built in the order of the benchmark script so that parameters line up.
#include "models/unet.h"

#include <cmath>
#include <string>

#include "engine/nn/activation.h"
#include "engine/ops/activation.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/shape.h"

namespace vireo::models {

Tensor sinusoidal_time_embedding(const Tensor& timesteps, int64_t dim, TensorOptions options) {
  VIREO_CHECK(timesteps.defined() && timesteps.dim() == 1, "sinusoidal_time_embedding: expects timesteps [N], got ",
              timesteps.defined() ? describe(timesteps) : std::string("an undefined tensor"));
  VIREO_CHECK(dim > 0 && dim % 2 == 0, "sinusoidal_time_embedding: dim must be positive and even, got ", dim);
  const std::vector<double> t = timesteps.to_vector();
  const int64_t n = static_cast<int64_t>(t.size()), half = dim / 2;
  std::vector<double> table(static_cast<size_t>(n * dim));
  for (int64_t i = 0; i < half; ++i) {
    const double frequency = std::exp(-std::log(10000.0) * static_cast<double>(i) / static_cast<double>(half));
    for (int64_t row = 0; row < n; ++row) {
      table[row * dim + i] = std::sin(t[row] * frequency);
      table[row * dim + half + i] = std::cos(t[row] * frequency);
    }
  }
  return Tensor::from_vector(table, {n, dim}, options);
}

// ---- building blocks ----

ResidualBlock::ResidualBlock(int64_t in_channels, int64_t out_channels, int64_t time_channels, int64_t groups,
                             double dropout_probability) {
  norm1 = register_module("norm1", std::make_shared<nn::GroupNorm>(groups, in_channels));
  act1 = register_module("act1", std::make_shared<nn::SiLU>());
  conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(in_channels, out_channels, 3, nn::Conv2dOptions{.padding = 1}));
  time_projection = register_module("time_projection", std::make_shared<nn::Linear>(time_channels, out_channels));
  norm2 = register_module("norm2", std::make_shared<nn::GroupNorm>(groups, out_channels));
  act2 = register_module("act2", std::make_shared<nn::SiLU>());
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(dropout_probability));
  conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(out_channels, out_channels, 3, nn::Conv2dOptions{.padding = 1}));
  if (in_channels != out_channels)
    skip = register_module("skip", std::make_shared<nn::Conv2d>(in_channels, out_channels, 1));
  else
    skip = register_module("skip", std::make_shared<nn::Identity>());
}

Tensor ResidualBlock::forward(const std::vector<Tensor>& inputs) {
  VIREO_CHECK(inputs.size() == 2, "ResidualBlock: expects {x, time}, got ", inputs.size(), " inputs");
  const Tensor& x = inputs[0];
  const Tensor& time = inputs[1];
  VIREO_CHECK(x.defined() && time.defined() && x.dim() == 4 && time.dim() == 2 && time.size(0) == x.size(0) &&
                  time.size(1) == time_projection->in_features,
              "ResidualBlock: expects x [N, C, H, W] and time [N, ", time_projection->in_features, "], got ",
              x.defined() ? describe(x) : "undefined", " and ", time.defined() ? describe(time) : "undefined");
  // The time projection [N, C] is added to every position: viewed as [N, C, 1, 1].
  const Tensor time_bias = (*time_projection)(time).unsqueeze(-1).unsqueeze(-1);
  Tensor h = add((*conv1)((*act1)((*norm1)(x))), time_bias);
  h = (*conv2)((*dropout)((*act2)((*norm2)(h))));
  return add((*skip)(x), h);
}

SelfAttention2d::SelfAttention2d(int64_t channels, int64_t groups) {
  norm = register_module("norm", std::make_shared<nn::GroupNorm>(groups, channels));
  qkv = register_module("qkv", std::make_shared<nn::Conv2d>(channels, 3 * channels, 1));
  proj = register_module("proj", std::make_shared<nn::Conv2d>(channels, channels, 1));
}

Tensor SelfAttention2d::forward(const Tensor& x) {
  VIREO_CHECK(x.defined() && x.dim() == 4 && x.size(1) == proj->in_channels, "SelfAttention2d: expects [N, ",
              proj->in_channels, ", H, W], got ", describe(x));
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  // [N, 3C, H, W] -> [N, 3, C, HW]; each of q, k, v is a [N, C, HW] view, transposed to [N, HW, C] so that
  // the positions attend to each other: softmax(q·kᵀ/√C)·v, one head of width C.
  const Tensor packed = (*qkv)((*norm)(x)).view({batch, 3, channels, height * width});
  auto positions = [&](int64_t part) { return packed.select(1, part).transpose(1, 2); };
  const Tensor mixed = scaled_dot_product_attention(positions(0), positions(1), positions(2));
  const Tensor image = mixed.transpose(1, 2).reshape({batch, channels, height, width});
  return add(x, (*proj)(image));
}

UNetBlock::UNetBlock(int64_t in_channels, int64_t out_channels, int64_t time_channels, int64_t groups, double dropout,
                     bool with_attention) {
  residual = register_module("residual",
                             std::make_shared<ResidualBlock>(in_channels, out_channels, time_channels, groups, dropout));
  if (with_attention)
    attention = register_module("attention", std::make_shared<SelfAttention2d>(out_channels, groups));
  else
    attention = register_module("attention", std::make_shared<nn::Identity>());
}

Tensor UNetBlock::forward(const std::vector<Tensor>& inputs) { return (*attention)((*residual)(inputs)); }

DownsampleConv::DownsampleConv(int64_t channels) {
  conv = register_module("conv", std::make_shared<nn::Conv2d>(channels, channels, 3,
                                                              nn::Conv2dOptions{.stride = 2, .padding = 1}));
}

Tensor DownsampleConv::forward(const Tensor& x) { return (*conv)(x); }

UpsampleConv::UpsampleConv(int64_t channels) {
  upsample = register_module("upsample", std::make_shared<nn::Upsample>(2, nn::UpsampleMode::nearest));
  conv = register_module("conv", std::make_shared<nn::Conv2d>(channels, channels, 3, nn::Conv2dOptions{.padding = 1}));
}

Tensor UpsampleConv::forward(const Tensor& x) { return (*conv)((*upsample)(x)); }

// ---- the network ----

namespace {

std::string list(const std::vector<int64_t>& values) {
  std::string s = "{";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "}";
}

UNetOptions checked(const UNetOptions& options) {
  VIREO_CHECK(options.in_channels > 0 && options.out_channels.value_or(1) > 0, "UNet: in_channels ",
              options.in_channels, " and out_channels ", options.out_channels.value_or(options.in_channels),
              " must be positive");
  VIREO_CHECK(options.base_channels > 0 && options.base_channels % 2 == 0,
              "UNet: base_channels must be positive and even (it is the sinusoidal embedding's size), got ",
              options.base_channels);
  VIREO_CHECK(!options.channel_multipliers.empty(), "UNet: channel_multipliers is empty");
  for (int64_t multiplier : options.channel_multipliers)
    VIREO_CHECK(multiplier > 0, "UNet: channel_multipliers must be positive, got ", list(options.channel_multipliers));
  const int64_t levels = static_cast<int64_t>(options.channel_multipliers.size());
  for (int64_t level : options.attention_levels)
    VIREO_CHECK(level >= 0 && level < levels, "UNet: attention_levels ", list(options.attention_levels),
                " must index channel_multipliers ", list(options.channel_multipliers), " (0 to ", levels - 1, ")");
  VIREO_CHECK(options.num_res_blocks > 0, "UNet: num_res_blocks must be positive, got ", options.num_res_blocks);
  VIREO_CHECK(options.groups > 0, "UNet: groups must be positive, got ", options.groups);
  VIREO_CHECK(options.num_classes >= 0, "UNet: num_classes must be non-negative (0: unconditional), got ",
              options.num_classes);
  VIREO_CHECK(options.dropout >= 0.0 && options.dropout < 1.0, "UNet: dropout must be in [0, 1), got ",
              options.dropout);
  return options;
}

bool has_attention(const UNetOptions& options, int64_t level) {
  for (int64_t l : options.attention_levels)
    if (l == level) return true;
  return false;
}

}  // namespace

UNet::UNet(UNetOptions options_in) : options(checked(options_in)), time_channels(4 * options_in.base_channels) {
  const int64_t base = options.base_channels;
  const int64_t levels = static_cast<int64_t>(options.channel_multipliers.size());
  time_embedding = register_module("time_embedding", std::make_shared<nn::Sequential>(
                                                         std::make_shared<nn::Linear>(base, time_channels),
                                                         std::make_shared<nn::SiLU>(),
                                                         std::make_shared<nn::Linear>(time_channels, time_channels)));
  if (options.num_classes > 0)
    class_embedding = register_module("class_embedding", std::make_shared<nn::Embedding>(options.num_classes, time_channels));
  conv_in = register_module("conv_in", std::make_shared<nn::Conv2d>(options.in_channels, base, 3,
                                                                    nn::Conv2dOptions{.padding = 1}));

  // The down path records the width of every tensor it pushes to the skip stack; the up path pops them.
  std::vector<int64_t> skip_channels{base};
  int64_t channels = base;
  down = register_module("down", std::make_shared<nn::ModuleList>());
  for (int64_t level = 0; level < levels; ++level) {
    const int64_t level_channels = base * options.channel_multipliers[level];
    for (int64_t i = 0; i < options.num_res_blocks; ++i) {
      down->push_back(std::make_shared<UNetBlock>(channels, level_channels, time_channels, options.groups,
                                                  options.dropout, has_attention(options, level)));
      down_takes_time_.push_back(true);
      channels = level_channels;
      skip_channels.push_back(channels);
    }
    if (level < levels - 1) {
      down->push_back(std::make_shared<DownsampleConv>(channels));
      down_takes_time_.push_back(false);
      skip_channels.push_back(channels);
    }
  }

  middle_block1 = register_module("middle_block1", std::make_shared<ResidualBlock>(channels, channels, time_channels,
                                                                                   options.groups, options.dropout));
  middle_attention = register_module("middle_attention", std::make_shared<SelfAttention2d>(channels, options.groups));
  middle_block2 = register_module("middle_block2", std::make_shared<ResidualBlock>(channels, channels, time_channels,
                                                                                   options.groups, options.dropout));

  up = register_module("up", std::make_shared<nn::ModuleList>());
  for (int64_t level = levels - 1; level >= 0; --level) {
    const int64_t level_channels = base * options.channel_multipliers[level];
    for (int64_t i = 0; i < options.num_res_blocks + 1; ++i) {
      const int64_t skip = skip_channels.back();
      skip_channels.pop_back();
      up->push_back(std::make_shared<UNetBlock>(channels + skip, level_channels, time_channels, options.groups,
                                                options.dropout, has_attention(options, level)));
      up_takes_time_.push_back(true);
      channels = level_channels;
    }
    if (level > 0) {
      up->push_back(std::make_shared<UpsampleConv>(channels));
      up_takes_time_.push_back(false);
    }
  }

  norm_out = register_module("norm_out", std::make_shared<nn::GroupNorm>(options.groups, channels));
  act_out = register_module("act_out", std::make_shared<nn::SiLU>());
  conv_out = register_module("conv_out", std::make_shared<nn::Conv2d>(channels, options.out_channels.value_or(options.in_channels),
                                                                      3, nn::Conv2dOptions{.padding = 1}));
}

Tensor UNet::forward(const std::vector<Tensor>& inputs) {
  const bool conditional = class_embedding != nullptr;
  VIREO_CHECK(inputs.size() == (conditional ? 3u : 2u), "UNet: expects ",
              conditional ? "{x, t, labels} (the model is class-conditional)" : "{x, t} (the model is unconditional)",
              ", got ", inputs.size(), " inputs");
  const Tensor& x = inputs[0];
  const Tensor& timesteps = inputs[1];
  const int64_t factor = int64_t{1} << (options.channel_multipliers.size() - 1);
  VIREO_CHECK(x.defined() && x.dim() == 4 && x.size(1) == options.in_channels && x.size(2) % factor == 0 &&
                  x.size(3) % factor == 0,
              "UNet: expects x [N, ", options.in_channels, ", H, W] with H and W divisible by ", factor, ", got ",
              x.defined() ? describe(x) : "undefined");
  VIREO_CHECK(timesteps.defined() && timesteps.dim() == 1 && timesteps.size(0) == x.size(0),
              "UNet: expects timesteps t [", x.size(0), "], got ", timesteps.defined() ? describe(timesteps) : "undefined");

  Tensor time = (*time_embedding)(sinusoidal_time_embedding(timesteps, options.base_channels, x.options()));
  if (conditional) {
    const Tensor& labels = inputs[2];
    VIREO_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == x.size(0), "UNet: expects labels [",
                x.size(0), "] (i64), got ", labels.defined() ? describe(labels) : "undefined");
    time = add(time, (*class_embedding)(labels));
  }

  Tensor h = (*conv_in)(x);
  std::vector<Tensor> skips{h};
  for (size_t i = 0; i < down_takes_time_.size(); ++i) {
    nn::Module& entry = *(*down)[static_cast<int64_t>(i)];
    h = down_takes_time_[i] ? entry(std::vector<Tensor>{h, time}) : entry(h);
    skips.push_back(h);
  }
  h = (*middle_block1)(std::vector<Tensor>{h, time});
  h = (*middle_attention)(h);
  h = (*middle_block2)(std::vector<Tensor>{h, time});
  for (size_t i = 0; i < up_takes_time_.size(); ++i) {
    nn::Module& entry = *(*up)[static_cast<int64_t>(i)];
    if (up_takes_time_[i]) {
      h = entry(std::vector<Tensor>{cat({h, skips.back()}, 1), time});
      skips.pop_back();
    } else {
      h = entry(h);
    }
  }
  return (*conv_out)((*act_out)((*norm_out)(h)));
}

std::shared_ptr<UNet> ddpm_unet(UNetOptions options) { return std::make_shared<UNet>(options); }

}  // namespace vireo::models
