// Vision Transformer (models/vit.h), built as timm builds it.
#include "models/vit.h"

#include <cmath>

#include "engine/nn/init.h"
#include "engine/ops/attention.h"
#include "engine/ops/creation.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/loss.h"
#include "engine/ops/normalization.h"
#include "engine/ops/shape.h"

namespace vireo::models {

// ---- patch embedding ----

PatchEmbed::PatchEmbed(int64_t image_size, int64_t patch_size, int64_t in_channels, int64_t width)
    : image_size(image_size),
      patch_size(patch_size),
      num_patches(patch_size > 0 ? (image_size / patch_size) * (image_size / patch_size) : 0) {
  VIREO_CHECK(patch_size > 0 && image_size > 0 && image_size % patch_size == 0, "PatchEmbed: image_size ", image_size,
              " must be a positive multiple of patch_size ", patch_size);
  proj = register_module("proj", std::make_shared<nn::Conv2d>(in_channels, width, patch_size,
                                                               nn::Conv2dOptions{.stride = patch_size}));
}

Tensor PatchEmbed::forward(const Tensor& images) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(1) == proj->in_channels &&
                  images.size(2) == image_size && images.size(3) == image_size,
              "PatchEmbed: expects images [N, ", proj->in_channels, ", ", image_size, ", ", image_size, "], got ",
              describe(images));
  // [N, D, S/p, S/p] -> [N, D, T] -> [N, T, D]
  return (*proj)(images).flatten(2).transpose(1, 2);
}

// ---- attention ----

Attention::Attention(int64_t width, int64_t heads, bool qkv_bias, double attention_dropout, double projection_dropout)
    : heads(heads), head_dim(heads > 0 ? width / heads : 0) {
  VIREO_CHECK(width > 0 && heads > 0 && width % heads == 0, "Attention: width ", width,
              " must be a positive multiple of heads ", heads);
  qkv = register_module("qkv", std::make_shared<nn::Linear>(width, 3 * width, nn::LinearOptions{.bias = qkv_bias}));
  attn_drop = register_module("attn_drop", std::make_shared<nn::Dropout>(attention_dropout));
  proj = register_module("proj", std::make_shared<nn::Linear>(width, width));
  proj_drop = register_module("proj_drop", std::make_shared<nn::Dropout>(projection_dropout));
}

Tensor Attention::forward(const Tensor& x) {
  VIREO_CHECK(x.defined() && x.dim() == 3 && x.size(2) == heads * head_dim, "Attention: expects tokens [N, T, ",
              heads * head_dim, "], got ", describe(x));
  const int64_t batch = x.size(0), tokens = x.size(1), width = x.size(2);
  // [N, T, 3D] viewed as [N, T, 3, H, d] and permuted to [3, N, H, T, d]: q, k and v are views of the one
  // projection, read in place by the attention op.
  const Tensor packed = (*qkv)(x).view({batch, tokens, 3, heads, head_dim}).permute({2, 0, 3, 1, 4});
  const Tensor q = packed.select(0, 0), k = packed.select(0, 1), v = packed.select(0, 2);
  Tensor mixed;
  if (is_training() && attn_drop->p > 0.0) {
    // Dropout on the probabilities has no place in the fused op: compose it (training only).
    const Tensor scores = mul(matmul(q, k.transpose(-1, -2)), 1.0 / std::sqrt(static_cast<double>(head_dim)));
    mixed = matmul((*attn_drop)(softmax(scores, -1)), v);
  } else {
    mixed = scaled_dot_product_attention(q, k, v);
  }
  // [N, H, T, d] -> [N, T, H·d]
  const Tensor merged = mixed.transpose(1, 2).reshape({batch, tokens, width});
  return (*proj_drop)((*proj)(merged));
}

// ---- MLP and block ----

Mlp::Mlp(int64_t width, int64_t hidden, double dropout) {
  fc1 = register_module("fc1", std::make_shared<nn::Linear>(width, hidden));
  act = register_module("act", std::make_shared<nn::GELU>());
  drop1 = register_module("drop1", std::make_shared<nn::Dropout>(dropout));
  fc2 = register_module("fc2", std::make_shared<nn::Linear>(hidden, width));
  drop2 = register_module("drop2", std::make_shared<nn::Dropout>(dropout));
}

Tensor Mlp::forward(const Tensor& x) { return (*drop2)((*fc2)((*drop1)((*act)((*fc1)(x))))); }

Block::Block(int64_t width, int64_t heads, double mlp_ratio, bool qkv_bias, double dropout, double attention_dropout,
             double layer_norm_eps) {
  VIREO_CHECK(mlp_ratio > 0.0 && static_cast<int64_t>(width * mlp_ratio) > 0, "Block: mlp_ratio ", mlp_ratio,
              " leaves no hidden units for width ", width);
  const nn::LayerNormOptions norm_options{.eps = layer_norm_eps};
  norm1 = register_module("norm1", std::make_shared<nn::LayerNorm>(width, norm_options));
  attn = register_module("attn", std::make_shared<Attention>(width, heads, qkv_bias, attention_dropout, dropout));
  norm2 = register_module("norm2", std::make_shared<nn::LayerNorm>(width, norm_options));
  // timm: int(dim * mlp_ratio), truncating.
  mlp = register_module("mlp", std::make_shared<Mlp>(width, static_cast<int64_t>(width * mlp_ratio), dropout));
}

Tensor Block::forward(const Tensor& x) {
  const Tensor attended = add(x, (*attn)((*norm1)(x)));
  return add(attended, (*mlp)((*norm2)(attended)));
}

// ---- the network ----

namespace {

int64_t required(const std::optional<int64_t>& value, const char* name) {
  VIREO_CHECK(value.has_value(), "VisionTransformer: ", name,
              " is not set (set depth, width and heads, or start from vit_tiny/vit_small/vit_base)");
  return *value;
}

}  // namespace

VisionTransformer::VisionTransformer(ViTOptions options)
    : options(options),
      depth(required(options.depth, "depth")),
      width(required(options.width, "width")),
      heads(required(options.heads, "heads")) {
  VIREO_CHECK(depth > 0, "VisionTransformer: depth must be positive, got ", depth);
  VIREO_CHECK(width > 0 && heads > 0 && width % heads == 0, "VisionTransformer: width ", width,
              " must be a positive multiple of heads ", heads);
  VIREO_CHECK(options.in_channels > 0, "VisionTransformer: in_channels must be positive, got ", options.in_channels);
  VIREO_CHECK(options.num_classes >= 0, "VisionTransformer: num_classes must be non-negative (0: no head), got ",
              options.num_classes);
  VIREO_CHECK(options.dropout >= 0.0 && options.dropout < 1.0 && options.attention_dropout >= 0.0 &&
                  options.attention_dropout < 1.0,
              "VisionTransformer: dropout ", options.dropout, " and attention_dropout ", options.attention_dropout,
              " must be in [0, 1)");
  VIREO_CHECK(options.layer_norm_eps > 0.0, "VisionTransformer: layer_norm_eps must be positive, got ",
              options.layer_norm_eps);

  patch_embed = register_module("patch_embed",
                                std::make_shared<PatchEmbed>(options.image_size, options.patch_size, options.in_channels, width));
  const bool class_token = options.pooling == Pooling::cls;
  if (class_token) cls_token = register_parameter("cls_token", zeros({1, 1, width}));
  pos_embed = register_parameter("pos_embed", zeros({1, patch_embed->num_patches + (class_token ? 1 : 0), width}));
  pos_drop = register_module("pos_drop", std::make_shared<nn::Dropout>(options.dropout));
  blocks = register_module("blocks", std::make_shared<nn::Sequential>());
  for (int64_t i = 0; i < depth; ++i)
    blocks->push_back(std::make_shared<Block>(width, heads, options.mlp_ratio, options.qkv_bias, options.dropout,
                                              options.attention_dropout, options.layer_norm_eps));
  norm = register_module("norm", std::make_shared<nn::LayerNorm>(width, nn::LayerNormOptions{.eps = options.layer_norm_eps}));
  head_drop = register_module("head_drop", std::make_shared<nn::Dropout>(options.dropout));
  if (options.num_classes > 0)
    head = register_module("head", std::make_shared<nn::Linear>(width, options.num_classes));
  else
    head = register_module("head", std::make_shared<nn::Identity>());
  initialize();
}

// timm's init_weights (mode ''): pos_embed ~ trunc_normal(std .02), cls_token ~ N(0, 1e-6²), every Linear
// (head included) weight ~ trunc_normal(std .02) with a zero bias; LayerNorm 1/0 and the patch conv keep
// their PyTorch defaults.
void VisionTransformer::initialize() {
  nn::init::trunc_normal_(pos_embed, 0.0, 0.02);
  if (cls_token.defined()) nn::init::normal_(cls_token, 0.0, 1e-6);
  apply([](nn::Module& module) {
    if (auto* linear = dynamic_cast<nn::Linear*>(&module)) {
      nn::init::trunc_normal_(linear->weight, 0.0, 0.02);
      if (linear->bias.defined()) nn::init::zeros_(linear->bias);
    }
  });
}

Tensor VisionTransformer::forward_tokens(const Tensor& images) {
  Tensor x = (*patch_embed)(images);
  if (cls_token.defined()) x = cat({cls_token.expand({x.size(0), -1, -1}), x}, 1);
  x = (*pos_drop)(add(x, pos_embed));
  return (*norm)((*blocks)(x));
}

Tensor VisionTransformer::forward_features(const Tensor& images) {
  const Tensor tokens = forward_tokens(images);
  return options.pooling == Pooling::cls ? tokens.select(1, 0) : tokens.mean({1});
}

Tensor VisionTransformer::forward(const Tensor& images) { return (*head)((*head_drop)(forward_features(images))); }

// ---- presets ----

std::shared_ptr<VisionTransformer> vit(ViTOptions options) { return std::make_shared<VisionTransformer>(options); }

namespace {

std::shared_ptr<VisionTransformer> preset(ViTOptions options, int64_t width, int64_t depth, int64_t heads) {
  if (!options.width) options.width = width;
  if (!options.depth) options.depth = depth;
  if (!options.heads) options.heads = heads;
  return std::make_shared<VisionTransformer>(options);
}

}  // namespace

std::shared_ptr<VisionTransformer> vit_tiny(ViTOptions options) { return preset(options, 192, 12, 3); }
std::shared_ptr<VisionTransformer> vit_small(ViTOptions options) { return preset(options, 384, 12, 6); }
std::shared_ptr<VisionTransformer> vit_base(ViTOptions options) { return preset(options, 768, 12, 12); }

}  // namespace vireo::models
