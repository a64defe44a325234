// Homomorphic SSL as a Method: the equations are in hssl.h.
#include "ssl/hssl.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/ops.h"
#include "models/p4_resnet.h"
#include "models/resnet.h"
#include "ssl/heads.h"

namespace vireo::ssl {
namespace {

// A ResNet's last feature map [N, D, h, w]: its forward_features without the global pool.
Tensor resnet_feature_map(models::ResNet& resnet, const Tensor& images) {
  VIREO_CHECK(images.defined() && images.dim() == 4 && images.size(1) == resnet.options.in_channels,
              "ResNet: expects images [N, ", resnet.options.in_channels, ", H, W], got ", describe(images));
  const Tensor x = (*resnet.maxpool)((*resnet.relu)((*resnet.bn1)((*resnet.conv1)(images))));
  return (*resnet.layer4)((*resnet.layer3)((*resnet.layer2)((*resnet.layer1)(x))));
}

// The fiber width D for a backbone (checked like hssl_fibers).
int64_t fiber_features(models::Backbone& backbone, HsslFibers fibers) {
  if (auto* p4 = dynamic_cast<models::P4ResNet*>(&backbone))
    return fibers == HsslFibers::rotation ? p4->feature_channels() : p4->num_features();
  VIREO_CHECK(fibers == HsslFibers::translation && dynamic_cast<models::ResNet*>(&backbone),
              "Hssl: ", fibers == HsslFibers::rotation ? "rotation fibers need a P4ResNet backbone (p4_resnet)"
                                                       : "translation fibers need a ResNet or a P4ResNet backbone");
  return backbone.num_features();
}

}  // namespace

Tensor hssl_fibers(models::Backbone& backbone, const Tensor& images, HsslFibers fibers) {
  fiber_features(backbone, fibers);  // checks the pairing
  Tensor map;
  if (auto* p4 = dynamic_cast<models::P4ResNet*>(&backbone)) {
    map = p4->forward_feature_map(images);
    if (fibers == HsslFibers::rotation)
      return reshape(mean(map, {2, 3}), {map.size(0), p4->feature_channels(), models::kP4GroupSize});
  } else {
    map = resnet_feature_map(dynamic_cast<models::ResNet&>(backbone), images);
  }
  return reshape(map, {map.size(0), map.size(1), map.size(2) * map.size(3)});
}

Tensor hssl_fiber_loss(const Tensor& fibers, const std::vector<int64_t>& first, const std::vector<int64_t>& second,
                       nn::Module* projector, double temperature) {
  return hssl_fiber_loss(fibers, fibers, first, second, projector, temperature);
}

Tensor hssl_fiber_loss(const Tensor& first_fibers, const Tensor& second_fibers, const std::vector<int64_t>& first,
                       const std::vector<int64_t>& second, nn::Module* projector, double temperature) {
  const Tensor& fibers = first_fibers;
  VIREO_CHECK(fibers.defined() && fibers.dim() == 3 && fibers.size(2) >= 2, "hssl_fiber_loss: expects fibers "
              "[N, D, K] with K ≥ 2 fibers per image, got ", describe(fibers));
  VIREO_CHECK(second_fibers.defined() && second_fibers.shape() == fibers.shape(), "hssl_fiber_loss: the two views' "
              "fibers must have one shape, got ", describe(fibers), " and ", describe(second_fibers));
  const int64_t n = fibers.size(0), features = fibers.size(1), count = fibers.size(2);
  VIREO_CHECK(static_cast<int64_t>(first.size()) == n && static_cast<int64_t>(second.size()) == n,
              "hssl_fiber_loss: one fiber pair per image: ", n, " images, ", first.size(), " and ", second.size(),
              " indices");
  // index [N, D, 1] holding fiber g(n) in every row of image n, for gather along K.
  auto pick = [&](const Tensor& source, const std::vector<int64_t>& chosen) {
    std::vector<double> index(n * features);
    for (int64_t i = 0; i < n; ++i) {
      VIREO_CHECK(chosen[i] >= 0 && chosen[i] < count, "hssl_fiber_loss: fiber index ", chosen[i], " of image ", i,
                  " is outside [0, ", count, ")");
      std::fill(index.begin() + i * features, index.begin() + (i + 1) * features, static_cast<double>(chosen[i]));
    }
    const Tensor index_tensor =
        Tensor::from_vector(index, {n, features, 1}, {.dtype = DType::i64, .device = source.device()});
    const Tensor picked = gather(source, 2, index_tensor).squeeze(2);
    return projector ? (*projector)(picked) : picked;
  };
  return nt_xent_loss(pick(first_fibers, first), pick(second_fibers, second), temperature);
}

Hssl::Hssl(const BackboneFactory& make_backbone, HsslOptions options) : options(options) {
  std::shared_ptr<models::Backbone> backbone = make_backbone();
  VIREO_CHECK(backbone, "Hssl: the backbone factory returned null");
  fiber_features_ = fiber_features(*backbone, options.fibers);
  backbone_module = register_module("backbone", backbone);
  projector = register_module("projector", mlp_head(fiber_features_, {.hidden_features = options.hidden_features,
                                                                       .out_features = options.projection_features}));
}

StepOutput Hssl::forward(const Views& views, int64_t samples_seen) {
  VIREO_CHECK(!views.images.empty(), "Hssl: needs at least one view");
  // The pairs are a pure function of (seed, samples_seen): one Philox key per step.
  Generator generator(options.seed ^ (static_cast<uint64_t>(samples_seen) * 0x9E3779B97F4A7C15ull));
  auto fibers_of = [&](const Tensor& images) {
    const Tensor fibers = hssl_fibers(*backbone_module, images, options.fibers);
    VIREO_CHECK(fibers.size(2) >= 2, "Hssl: the feature map has only ", fibers.size(2), " fiber per image (",
                describe(images), " in); use larger images or fewer downsampling stages");
    return fibers;
  };
  // g₁ uniform over the K fibers, g₂ uniform over the other K − 1.
  auto draw_pairs = [&](int64_t n, int64_t count, std::vector<int64_t>& first, std::vector<int64_t>& second) {
    first.resize(n);
    second.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      first[i] = static_cast<int64_t>(generator.below(count));
      second[i] = (first[i] + 1 + static_cast<int64_t>(generator.below(count - 1))) % count;  // ≠ first
    }
  };
  std::vector<int64_t> first, second;
  StepOutput out;
  if (options.pairs_across_views) {
    VIREO_CHECK(views.images.size() == 2, "Hssl: pairs across views takes exactly 2 views, got ", views.images.size());
    const Tensor a = fibers_of(views.images[0]), b = fibers_of(views.images[1]);
    draw_pairs(a.size(0), a.size(2), first, second);
    out.loss = hssl_fiber_loss(a, b, first, second, projector.get(), options.temperature);
    out.metrics["loss"] = out.loss.item();
    return out;
  }
  Tensor total;
  for (const Tensor& images : views.images) {
    const Tensor fibers = fibers_of(images);
    draw_pairs(fibers.size(0), fibers.size(2), first, second);
    const Tensor loss = hssl_fiber_loss(fibers, first, second, projector.get(), options.temperature);
    total = total.defined() ? add(total, loss) : loss;
  }
  out.loss = mul(total, 1.0 / static_cast<double>(views.images.size()));
  out.metrics["loss"] = out.loss.item();
  return out;
}

std::vector<std::pair<std::string, Tensor>> Hssl::trainable_parameters() const { return named_parameters(); }

}  // namespace vireo::ssl
