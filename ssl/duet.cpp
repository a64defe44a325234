// DUET as a Method: the equations are in duet.h.
#include "ssl/duet.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "engine/error.h"
#include "engine/ops.h"
#include "ssl/heads.h"

namespace vireo::ssl {
namespace {

// ∫ density over each bin [k/G, (k+1)/G), by composite Simpson's rule, then normalized to sum 1.
template <class Density>
std::vector<double> binned_distribution(int64_t groups, Density&& density) {
  constexpr int kIntervals = 64;  // per bin, even
  std::vector<double> mass(groups);
  double total = 0;
  for (int64_t k = 0; k < groups; ++k) {
    const double low = static_cast<double>(k) / groups, step = 1.0 / (groups * kIntervals);
    double integral = density(low) + density(low + kIntervals * step);
    for (int i = 1; i < kIntervals; ++i) integral += (i % 2 ? 4.0 : 2.0) * density(low + i * step);
    mass[k] = integral * step / 3.0;
    total += mass[k];
  }
  for (double& m : mass) m /= total;
  return mass;
}

}  // namespace

Tensor duet_normalized_parameter(const Tensor& raw, const DuetOptions& options) {
  VIREO_CHECK(raw.defined() && raw.dim() == 1, "duet: expects one transformation parameter per image, [N], got ",
              describe(raw));
  std::vector<double> theta = raw.to_vector();
  for (double& value : theta) {
    if (options.transformation == DuetTransformation::rotation) {
      const double turns = (value + 180.0) / 360.0;
      value = turns - std::floor(turns);  // onto the circle [0, 1)
    } else if (options.transformation == DuetTransformation::flip) {
      value = value != 0.0 ? 0.75 : 0.25;
    } else {
      VIREO_CHECK(options.image_size > 0, "duet: crop_scale needs image_size (the side the crop was taken from), got ",
                  options.image_size);
      value = std::clamp(1.0 - value / static_cast<double>(options.image_size), 0.0, 1.0);
    }
  }
  return Tensor::from_vector(theta, {raw.size(0)}, {.dtype = DType::f64});
}

Tensor duet_target(const Tensor& theta, const DuetOptions& options) {
  VIREO_CHECK(theta.defined() && theta.dim() == 1, "duet_target: expects θ [N], got ", describe(theta));
  VIREO_CHECK(options.groups > 0, "duet_target: needs at least one group bin, got groups = ", options.groups);
  const int64_t n = theta.size(0), groups = options.groups;
  std::vector<double> target;
  target.reserve(n * groups);
  for (double center : theta.to_vector()) {
    std::vector<double> row;
    if (options.transformation == DuetTransformation::rotation) {
      const double kappa = options.von_mises_concentration;
      // exp(κ(cos − 1)) rather than exp(κ cos): the same shape, no overflow for large κ.
      row = binned_distribution(
          groups, [&](double u) { return std::exp(kappa * (std::cos(2 * std::numbers::pi * (u - center)) - 1.0)); });
    } else {
      const double sigma = options.gaussian_sigma;
      row = binned_distribution(groups, [&](double u) { return std::exp(-0.5 * std::pow((u - center) / sigma, 2)); });
    }
    target.insert(target.end(), row.begin(), row.end());
  }
  return Tensor::from_vector(target, {n, groups}, {.dtype = DType::f64});
}

Tensor jensen_shannon_divergence(const Tensor& logits, const Tensor& target) {
  VIREO_CHECK(logits.defined() && logits.dim() == 2 && target.defined() && target.shape() == logits.shape(),
              "jensen_shannon_divergence: logits ", logits.shape(), " and target ", target.shape(),
              " must both be [N, G] of one shape");
  // The target is built on the host from what the augmentations drew; it joins the logits' device.
  const Tensor t = target.to(logits.device()).to(logits.dtype()).detach();
  const Tensor p = softmax(logits, 1), log_p = log_softmax(logits, 1);
  const Tensor log_m = log(mul(add(p, t), 0.5));
  // t·log t with the convention 0·log 0 = 0.
  const Tensor log_t = log(clamp(t, 1e-300, std::nullopt));
  const Tensor kl_p = sum(mul(p, sub(log_p, log_m)), {1});
  const Tensor kl_t = sum(mul(t, sub(log_t, log_m)), {1});
  return mean(mul(add(kl_p, kl_t), 0.5));
}

Duet::Duet(const BackboneFactory& make_backbone, DuetOptions options) : options(options) {
  VIREO_CHECK(options.groups >= 0, "Duet: groups (G) must be 0 or positive, got ", options.groups);
  VIREO_CHECK(options.group_weight >= 0, "Duet: group_weight (λ) must be non-negative, got ", options.group_weight);
  backbone_module = make_backbone();
  VIREO_CHECK(backbone_module, "Duet: the backbone factory returned null");
  const int64_t features = backbone_module->num_features();
  VIREO_CHECK(options.groups == 0 || features % options.groups == 0, "Duet: groups ", options.groups,
              " must divide the backbone's feature width ", features);
  const int64_t content_features = options.groups == 0 ? features : features / options.groups;
  backbone_module = register_module("backbone", backbone_module);
  projector = register_module("projector", mlp_head(content_features, {.hidden_features = options.hidden_features,
                                                                        .out_features = options.projection_features}));
}

Duet::Representation Duet::represent(const Tensor& images) {
  const Tensor features = backbone_module->forward_features(images);  // [N, D]
  if (options.groups == 0) return {.content = features, .group_logits = {}};
  const int64_t n = features.size(0), groups = options.groups;
  const Tensor matrix = reshape(features, {n, groups, features.size(1) / groups});  // Y, [N, G, C]
  return {.content = sum(matrix, {1}), .group_logits = mean(matrix, {2})};
}

StepOutput Duet::forward(const Views& views, int64_t samples_seen) {
  VIREO_CHECK(views.images.size() == 2, "Duet: takes exactly 2 views, got ", views.images.size());
  const bool grouped = options.groups > 0;
  VIREO_CHECK(!grouped || views.transformation_parameters.size() == 2,
              "Duet: needs the transformation parameters of both views (groups = ", options.groups, "), got ",
              views.transformation_parameters.size());
  std::vector<Tensor> projections;
  Tensor group_loss;
  double correct = 0;
  for (size_t v = 0; v < 2; ++v) {
    const Representation representation = represent(views.images[v]);
    projections.push_back((*projector)(representation.content));
    if (!grouped) continue;
    const Tensor& parameters = views.transformation_parameters[v];
    const int64_t n = views.images[v].size(0);
    VIREO_CHECK(parameters.defined() && parameters.dim() == 2 && parameters.size(0) == n &&
                    options.parameter_column < parameters.size(1),
                "Duet: view ", v, "'s transformation parameters must be [", n, ", P] with column ",
                options.parameter_column, ", got ", describe(parameters));
    const Tensor target = duet_target(
        duet_normalized_parameter(parameters.select(1, options.parameter_column), options), options);
    const Tensor divergence = jensen_shannon_divergence(representation.group_logits, target);
    group_loss = group_loss.defined() ? add(group_loss, divergence) : divergence;
    const std::vector<double> predicted = argmax(representation.group_logits, 1).to_vector();
    const std::vector<double> expected = argmax(target, 1).to_vector();
    for (int64_t i = 0; i < n; ++i) correct += predicted[i] == expected[i] ? 1.0 : 0.0;
  }
  StepOutput out;
  const Tensor content_loss = nt_xent_loss(projections[0], projections[1], options.temperature);
  out.loss = content_loss;
  out.metrics["content_loss"] = content_loss.item();
  if (grouped) {
    group_loss = mul(group_loss, 0.5);  // the mean over the two views
    out.loss = add(content_loss, mul(group_loss, options.group_weight));
    out.metrics["group_loss"] = group_loss.item();
    out.metrics["group_accuracy"] = correct / static_cast<double>(views.images[0].size(0) + views.images[1].size(0));
  } else {
    out.metrics["group_loss"] = 0.0;
  }
  out.metrics["loss"] = out.loss.item();
  return out;
}

std::vector<std::pair<std::string, Tensor>> Duet::trainable_parameters() const { return named_parameters(); }

}  // namespace vireo::ssl
