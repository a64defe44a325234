// Linear-AcT and its variants (steering/act.h): the 1-D transport estimators and the incremental fit.
#include "steering/act.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/ops.h"

namespace vireo::steering {

namespace {

double mean_of(const std::vector<double>& values) {
  double sum = 0.0;
  for (double value : values) sum += value;
  return sum / static_cast<double>(values.size());
}

// The population standard deviation (divides by n).
double standard_deviation_of(const std::vector<double>& values, double mean) {
  double sum = 0.0;
  for (double value : values) sum += (value - mean) * (value - mean);
  return std::sqrt(sum / static_cast<double>(values.size()));
}

void check_non_empty(const char* op, const std::vector<double>& source, const std::vector<double>& target) {
  VIREO_CHECK(!source.empty() && !target.empty(), op, ": needs source and target responses, got ", source.size(),
              " and ", target.size());
}

// Column `unit` of an [N, U] table given as row-major values.
std::vector<double> column(const std::vector<double>& table, int64_t rows, int64_t units, int64_t unit) {
  std::vector<double> values(rows);
  for (int64_t row = 0; row < rows; ++row) values[row] = table[row * units + unit];
  return values;
}

const char* method_name(ActVariant variant) {
  switch (variant) {
    case ActVariant::linear: return "act-linear";
    case ActVariant::mean_only: return "act-mean";
    case ActVariant::gaussian: return "act-gaussian";
  }
  return "act";
}

}  // namespace

AffineMap linear_transport_map(std::vector<double> source, std::vector<double> target) {
  check_non_empty("linear_transport_map", source, target);
  VIREO_CHECK(source.size() == target.size(), "linear_transport_map: source and target must have the same count",
              " (balanced sets), got ", source.size(), " and ", target.size());
  // 1-D optimal transport matches the i-th smallest source value with the i-th smallest target value.
  std::sort(source.begin(), source.end());
  std::sort(target.begin(), target.end());
  const double source_mean = mean_of(source), target_mean = mean_of(target);
  double covariance = 0.0, variance = 0.0;
  for (size_t i = 0; i < source.size(); ++i) {
    covariance += (source[i] - source_mean) * (target[i] - target_mean);
    variance += (source[i] - source_mean) * (source[i] - source_mean);
  }
  if (variance == 0.0) return {1.0, target_mean - source_mean};  // no slope to fit: the mean shift
  const double slope = covariance / variance;
  return {slope, target_mean - slope * source_mean};
}

AffineMap mean_transport_map(const std::vector<double>& source, const std::vector<double>& target) {
  check_non_empty("mean_transport_map", source, target);
  return {1.0, mean_of(target) - mean_of(source)};
}

AffineMap gaussian_transport_map(const std::vector<double>& source, const std::vector<double>& target) {
  check_non_empty("gaussian_transport_map", source, target);
  const double source_mean = mean_of(source), target_mean = mean_of(target);
  const double source_deviation = standard_deviation_of(source, source_mean);
  if (source_deviation < 1e-4) return {};  // a (nearly) constant unit is left untouched
  const double scale = standard_deviation_of(target, target_mean) / source_deviation;
  return {scale, target_mean - scale * source_mean};
}

UnitMap fit_transport(const Tensor& source_responses, const Tensor& target_responses, const ActOptions& options) {
  VIREO_CHECK(source_responses.dim() == 2 && target_responses.dim() == 2 &&
                  source_responses.size(1) == target_responses.size(1),
              "fit_transport: responses must be [N, U] with the same U, got ", describe(source_responses), " and ",
              describe(target_responses));
  const int64_t units = source_responses.size(1);
  const int64_t source_rows = source_responses.size(0), target_rows = target_responses.size(0);
  const std::vector<double> source_table = source_responses.to_vector();
  const std::vector<double> target_table = target_responses.to_vector();
  std::vector<double> scale(units), shift(units), low(units), high(units);
  for (int64_t unit = 0; unit < units; ++unit) {
    std::vector<double> source = column(source_table, source_rows, units, unit);
    const std::vector<double> target = column(target_table, target_rows, units, unit);
    const auto [minimum, maximum] = std::minmax_element(source.begin(), source.end());
    low[unit] = *minimum;
    high[unit] = *maximum;
    AffineMap map;
    switch (options.variant) {
      case ActVariant::linear: map = linear_transport_map(std::move(source), target); break;
      case ActVariant::mean_only: map = mean_transport_map(source, target); break;
      case ActVariant::gaussian: map = gaussian_transport_map(source, target); break;
    }
    scale[unit] = map.scale;
    shift[unit] = map.shift;
  }
  UnitMap map{Tensor::from_vector(scale, {units}), Tensor::from_vector(shift, {units})};
  if (options.source_range_support) {
    map.support_low = Tensor::from_vector(low, {units});
    map.support_high = Tensor::from_vector(high, {units});
  }
  return map;
}

Intervention fit_act(nn::Module& model, const std::vector<std::string>& points,
                     const std::vector<Tensor>& source_batches, const std::vector<Tensor>& target_batches,
                     const ActOptions& options) {
  VIREO_CHECK(!points.empty() && !source_batches.empty() && !target_batches.empty(),
              "fit_act: needs points, source batches and target batches");
  Intervention intervention;
  intervention.method = method_name(options.variant);
  intervention.settings = {
      {"estimation", options.estimation == ActEstimation::incremental ? "incremental" : "all_at_once"},
      {"pooling", options.pooling == Pooling::max ? "max" : "mean"},
      {"support", options.source_range_support ? "source_range" : "everywhere"}};
  intervention.spatial_form = SpatialForm::mean_shift;

  const std::vector<std::string> ordered = points_in_model_order(model, points, source_batches.front());
  const auto target = collect_responses(model, ordered, target_batches, options.pooling);
  if (options.estimation == ActEstimation::all_at_once) {
    const auto source = collect_responses(model, ordered, source_batches, options.pooling);
    for (const std::string& point : ordered)
      intervention.add(point, fit_transport(source.at(point), target.at(point), options));
    return intervention;
  }
  // Incremental: the maps fitted so far are attached at full strength while point i's source responses are
  // collected.
  for (const std::string& point : ordered) {
    std::map<std::string, Tensor> source;
    {
      ScopedAttachment earlier(model, intervention, 1.0);
      source = collect_responses(model, {point}, source_batches, options.pooling);
    }
    intervention.add(point, fit_transport(source.at(point), target.at(point), options));
  }
  return intervention;
}

}  // namespace vireo::steering
