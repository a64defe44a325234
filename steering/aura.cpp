// AurA and its Det0/Damp baselines (steering/aura.h): AUROC (by ranks, training/eval/roc_auc), the scales, the fit.
#include "steering/aura.h"

#include <algorithm>
#include <numeric>

#include "engine/ops.h"
#include "training/eval/roc_auc.h"

namespace vireo::steering {

double auroc(const std::vector<double>& positive_scores, const std::vector<double>& negative_scores) {
  const size_t positives = positive_scores.size(), negatives = negative_scores.size();
  VIREO_CHECK(positives > 0 && negatives > 0, "auroc: needs positive and negative samples, got ", positives,
              " and ", negatives);
  return eval::roc_auc(positive_scores, negative_scores);
}

std::vector<double> unit_auroc(const Tensor& positive_responses, const Tensor& negative_responses) {
  VIREO_CHECK(positive_responses.dim() == 2 && negative_responses.dim() == 2 &&
                  positive_responses.size(1) == negative_responses.size(1),
              "unit_auroc: responses must be [N, U] with the same U, got ", describe(positive_responses), " and ",
              describe(negative_responses));
  const int64_t units = positive_responses.size(1);
  const std::vector<double> positive = positive_responses.to_vector(), negative = negative_responses.to_vector();
  const int64_t n_positive = positive_responses.size(0), n_negative = negative_responses.size(0);
  std::vector<double> result(units);
  std::vector<double> positive_column(n_positive), negative_column(n_negative);
  for (int64_t unit = 0; unit < units; ++unit) {
    for (int64_t i = 0; i < n_positive; ++i) positive_column[i] = positive[i * units + unit];
    for (int64_t i = 0; i < n_negative; ++i) negative_column[i] = negative[i * units + unit];
    result[unit] = auroc(positive_column, negative_column);
  }
  return result;
}

std::vector<double> aura_scales(const std::vector<double>& aurocs, const AuraOptions& options) {
  std::vector<double> scales(aurocs.size(), 1.0);
  if (options.variant == AuraVariant::aura) {
    for (size_t unit = 0; unit < aurocs.size(); ++unit)
      if (aurocs[unit] > 0.5) scales[unit] = 1.0 - 2.0 * (aurocs[unit] - 0.5);
    return scales;
  }
  VIREO_CHECK(options.top_k > 0, "aura_scales: ", options.variant == AuraVariant::det0 ? "det0" : "damp",
              " needs top_k > 0, got ", options.top_k);
  std::vector<size_t> order(aurocs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return aurocs[a] > aurocs[b]; });
  const size_t chosen = std::min<size_t>(order.size(), static_cast<size_t>(options.top_k));
  const double expert_scale = options.variant == AuraVariant::det0 ? 0.0 : options.damp_factor;
  for (size_t i = 0; i < chosen; ++i) scales[order[i]] = expert_scale;
  return scales;
}

Intervention fit_aura(nn::Module& model, const std::vector<std::string>& points,
                      const std::vector<Tensor>& positive_batches, const std::vector<Tensor>& negative_batches,
                      const AuraOptions& options) {
  const auto positive = collect_responses(model, points, positive_batches, options.pooling);
  const auto negative = collect_responses(model, points, negative_batches, options.pooling);
  Intervention intervention;
  intervention.method = options.variant == AuraVariant::aura   ? "aura"
                        : options.variant == AuraVariant::det0 ? "det0"
                                                               : "damp";
  intervention.settings = {{"pooling", options.pooling == Pooling::max ? "max" : "mean"}};
  if (options.variant != AuraVariant::aura) intervention.settings["top_k"] = std::to_string(options.top_k);
  if (options.variant == AuraVariant::damp) intervention.settings["damp_factor"] = std::to_string(options.damp_factor);
  intervention.spatial_form = SpatialForm::per_position;
  for (const std::string& point : points) {
    const std::vector<double> scales = aura_scales(unit_auroc(positive.at(point), negative.at(point)), options);
    const int64_t units = static_cast<int64_t>(scales.size());
    intervention.add(point, UnitMap{Tensor::from_vector(scales, {units}), zeros({units})});
  }
  return intervention;
}

}  // namespace vireo::steering
