// Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), as timm's
// VisionTransformer: the same module tree and state-dict keys ("patch_embed.proj.weight", "cls_token",
// "pos_embed", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc1.bias", "norm.weight", "head.weight") and
// timm's initialization, so checkpoints line up through safetensors.
//
//   tokens  = patch_embed(x)                  a patch×patch stride-patch conv: [N, D, H/p, W/p] -> [N, T, D]
//   z₀      = [cls_token; tokens] + pos_embed (cls pooling; mean pooling has no class token)
//   zₗ'     = zₗ₋₁ + attn(norm1(zₗ₋₁))          pre-norm blocks, l = 1..depth
//   zₗ      = zₗ' + mlp(norm2(zₗ'))            mlp = fc2(GELU(fc1(·))), hidden = D·mlp_ratio
//   feature = norm(z_L)[:, 0]  or  mean over the tokens of norm(z_L)
//   logits  = head(feature)
//
// attn is multi-head self-attention with one fused qkv Linear (D -> 3D) and the engine's fused
// scaled_dot_product_attention: softmax(Q·Kᵀ/√(D/H))·V per head, then proj. LayerNorm eps is 1e-6 and
// GELU is the exact erf form, as timm.
//
// Mean pooling follows timm's class_token=False, global_pool='avg', fc_norm=False configuration: no class
// token, pos_embed [1, T, D], the final norm applied before the mean.
//
// Every block's submodules are children called through operator(), so a hook on "blocks.3.mlp.fc1" (the
// steering regex blocks\.\d+\.mlp\.fc1) sees that Linear's output and may replace it.
#pragma once

#include <memory>
#include <optional>

#include "engine/nn/activation.h"
#include "engine/nn/container.h"
#include "engine/nn/conv.h"
#include "engine/nn/dropout.h"
#include "engine/nn/linear.h"
#include "engine/nn/normalization.h"
#include "models/backbone.h"

namespace vireo::models {

enum class Pooling { cls, mean };

struct ViTOptions {
  int64_t image_size = 224;  // square images of this side
  int64_t in_channels = 3;
  int64_t patch_size = 16;
  // The transformer's shape. Unset means "the preset's" for vit_tiny/small/base; vit() needs all three.
  std::optional<int64_t> depth = std::nullopt;  // blocks
  std::optional<int64_t> width = std::nullopt;  // the embedding dimension D
  std::optional<int64_t> heads = std::nullopt;  // attention heads (D must divide evenly)
  double mlp_ratio = 4.0;        // MLP hidden width = int(D · mlp_ratio), as timm
  bool qkv_bias = true;
  Pooling pooling = Pooling::cls;
  int64_t num_classes = 1000;  // 0: no head, forward returns the pooled features
  double dropout = 0.0;            // after the position embedding, in the MLP, after proj, before the head
  double attention_dropout = 0.0;  // on the attention probabilities
  double layer_norm_eps = 1e-6;    // timm's; PyTorch's nn.LayerNorm default is 1e-5
};

// Cuts the image into patches and embeds each: a Conv2d(in, D, p, stride p) named "proj", flattened to
// tokens in row-major patch order.
class PatchEmbed : public nn::Module {
 public:
  PatchEmbed(int64_t image_size, int64_t patch_size, int64_t in_channels, int64_t width);
  using nn::Module::forward;
  Tensor forward(const Tensor& images) override;  // [N, in, S, S] -> [N, (S/p)², D]

  const int64_t image_size, patch_size, num_patches;
  std::shared_ptr<nn::Conv2d> proj;
};

// Multi-head self-attention with a fused qkv projection (timm's Attention).
class Attention : public nn::Module {
 public:
  Attention(int64_t width, int64_t heads, bool qkv_bias, double attention_dropout, double projection_dropout);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;  // [N, T, D] -> [N, T, D]

  const int64_t heads, head_dim;
  std::shared_ptr<nn::Linear> qkv;        // D -> 3D, output laid out as (q|k|v, head, head_dim)
  std::shared_ptr<nn::Dropout> attn_drop;  // its p is applied to the attention probabilities
  std::shared_ptr<nn::Linear> proj;
  std::shared_ptr<nn::Dropout> proj_drop;
};

// fc1 -> GELU -> dropout -> fc2 -> dropout (timm's Mlp).
class Mlp : public nn::Module {
 public:
  Mlp(int64_t width, int64_t hidden, double dropout);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<nn::GELU> act;
  std::shared_ptr<nn::Dropout> drop1, drop2;
};

// One pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).
class Block : public nn::Module {
 public:
  Block(int64_t width, int64_t heads, double mlp_ratio, bool qkv_bias, double dropout, double attention_dropout,
        double layer_norm_eps);
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override;

  std::shared_ptr<nn::LayerNorm> norm1, norm2;
  std::shared_ptr<Attention> attn;
  std::shared_ptr<Mlp> mlp;
};

class VisionTransformer : public Backbone {
 public:
  // depth, width and heads must be set (see vit_tiny etc. for presets).
  explicit VisionTransformer(ViTOptions options);

  using nn::Module::forward;
  Tensor forward(const Tensor& images) override;           // -> [N, num_classes]
  Tensor forward_features(const Tensor& images) override;  // the pooled feature -> [N, D]
  // The final-normed token sequence (timm's forward_features): [N, T(+1), D], class token first.
  Tensor forward_tokens(const Tensor& images);
  int64_t num_features() const override { return width; }
  int64_t num_classes() const override { return options.num_classes; }

  const ViTOptions options;
  const int64_t depth, width, heads;

  std::shared_ptr<PatchEmbed> patch_embed;
  Tensor cls_token;  // [1, 1, D]; undefined with mean pooling
  Tensor pos_embed;  // [1, T(+1), D]
  std::shared_ptr<nn::Dropout> pos_drop;
  std::shared_ptr<nn::Sequential> blocks;
  std::shared_ptr<nn::LayerNorm> norm;
  std::shared_ptr<nn::Dropout> head_drop;
  std::shared_ptr<nn::Module> head;  // Linear, or Identity when num_classes = 0

 private:
  void initialize();
};

// Fully specified (depth, width and heads required).
std::shared_ptr<VisionTransformer> vit(ViTOptions options);
// timm's presets; any of depth/width/heads set in `options` overrides the preset's.
std::shared_ptr<VisionTransformer> vit_tiny(ViTOptions options = {});   // D 192, 12 blocks, 3 heads
std::shared_ptr<VisionTransformer> vit_small(ViTOptions options = {});  // D 384, 12 blocks, 6 heads
std::shared_ptr<VisionTransformer> vit_base(ViTOptions options = {});   // D 768, 12 blocks, 12 heads

}  // namespace vireo::models
