// Linear-AcT: the sorted-quantile least-squares map against a hand-computed 1-D transport, the mean-only
// and Gaussian variants against their closed forms, the source-range support, the mean-shift form on maps,
// a fitted map moving source samples to the target's mean and standard deviation (monotonically in λ), and
// incremental against all-at-once estimation on chained and on parallel points.
#include "steering/act.h"

#include <cmath>

#include "steering_test_models.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_close;
using vireo::testing::check_error;

namespace {

Tensor run(nn::Module& model, const Tensor& x) {
  NoGrad no_grad;
  return model(x);
}

// Mean and population standard deviation of column `unit` of an [N, U] tensor.
std::pair<double, double> column_moments(const Tensor& table, int64_t unit) {
  const Tensor column = table.select(1, unit).to(DType::f64);
  const double mean = column.mean().item();
  const double deviation = std::sqrt(square(column - mean).mean().item());
  return {mean, deviation};
}

}  // namespace

TEST_CASE("linear_transport_map fits the rank-matched quantiles by least squares") {
  // Sorted x = 0, 1, 2, 3 meets sorted y = 0, 1, 1, 5: x̄ = 1.5, ȳ = 1.75, cov·n = 7.5, var·n = 5, so
  // ω = 1.5 and β = 1.75 − 1.5·1.5 = −0.5.
  const AffineMap map = linear_transport_map({2, 0, 3, 1}, {1, 5, 0, 1});
  CHECK(map.scale == doctest::Approx(1.5).epsilon(1e-15));
  CHECK(map.shift == doctest::Approx(-0.5).epsilon(1e-15));
  // An exactly affine transport is recovered exactly: 1, 2, 3 -> 10, 20, 30 is y = 10x.
  const AffineMap exact = linear_transport_map({3, 1, 2}, {20, 30, 10});
  CHECK(exact.scale == 10.0);
  CHECK(exact.shift == 0.0);
  // Constant sources have no slope: the mean shift.
  const AffineMap constant = linear_transport_map({2, 2}, {1, 5});
  CHECK(constant.scale == 1.0);
  CHECK(constant.shift == 1.0);
  check_error([] { linear_transport_map({1, 2, 3}, {1, 2}); }, {"linear_transport_map", "3 and 2"});
}

TEST_CASE("the mean-only and Gaussian variants match their closed forms") {
  const std::vector<double> source = vireo::testing::random_normal({200}, 1, 1.0, 2.0).to(DType::f64).to_vector();
  const std::vector<double> target = vireo::testing::random_normal({150}, 2, -3.0, 0.5).to(DType::f64).to_vector();
  auto moments = [](const std::vector<double>& values) {
    double mean = 0.0, square = 0.0;
    for (double v : values) mean += v / values.size();
    for (double v : values) square += (v - mean) * (v - mean) / values.size();
    return std::pair{mean, std::sqrt(square)};
  };
  const auto [source_mean, source_deviation] = moments(source);
  const auto [target_mean, target_deviation] = moments(target);
  const AffineMap gaussian = gaussian_transport_map(source, target);
  CHECK(gaussian.scale == doctest::Approx(target_deviation / source_deviation).epsilon(1e-12));
  CHECK(gaussian.shift == doctest::Approx(target_mean - gaussian.scale * source_mean).epsilon(1e-12));
  const AffineMap mean_only = mean_transport_map(source, target);
  CHECK(mean_only.scale == 1.0);
  CHECK(mean_only.shift == doctest::Approx(target_mean - source_mean).epsilon(1e-12));
  // A unit with σ_source < 1e-4 is left untouched.
  const AffineMap flat = gaussian_transport_map({1.0, 1.00001, 0.99999}, {4.0, 5.0, 6.0});
  CHECK(flat.scale == 1.0);
  CHECK(flat.shift == 0.0);
}

TEST_CASE("the fitted transport moves the source inside its range and leaves the rest") {
  auto model = vireo::testing::passthrough_model();
  // One unit: source 1, 2, 3 -> target 10, 20, 30 (ω = 10, β = 0), support (1, 3) open.
  const Tensor source = Tensor::from_vector({3, 1, 2}, {3, 1});
  const Tensor target = Tensor::from_vector({20, 30, 10}, {3, 1});
  const Intervention act = fit_act(*model, {"0"}, {source}, {target});
  CHECK(act.method == "act-linear");
  CHECK(act.settings.at("estimation") == "incremental");
  check_close(act.at("0").support_low, {1.0});
  check_close(act.at("0").support_high, {3.0});
  auto attached = attach(*model, act, 1.0);
  check_close(run(*model, Tensor::from_vector({0.5, 1, 1.5, 2, 2.5, 3, 4}, {7, 1})), {0.5, 1, 15, 20, 25, 3, 4});
  attached.detach();
  auto half = attach(*model, act, 0.5);
  check_close(run(*model, Tensor::from_vector({2}, {1, 1})), {11.0});  // 0.5·20 + 0.5·2
  half.detach();
  // Without the support every element is mapped.
  const Intervention everywhere = fit_act(*model, {"0"}, {source}, {target}, {.source_range_support = false});
  CHECK_FALSE(everywhere.at("0").has_support());
  auto full = attach(*model, everywhere, 1.0);
  check_close(run(*model, source), {30, 10, 20});
}

TEST_CASE("on maps only the channel mean is transported") {
  auto model = vireo::testing::passthrough_model();
  const Tensor source = vireo::testing::random_normal({16, 2, 3, 3}, 3);
  const Tensor target = vireo::testing::random_normal({16, 2, 3, 3}, 4, 5.0, 1.0);
  const Intervention act =
      fit_act(*model, {"0"}, {source}, {target}, {.variant = ActVariant::mean_only, .source_range_support = false});
  CHECK(act.spatial_form == SpatialForm::mean_shift);
  auto attached = attach(*model, act, 1.0);
  const Tensor steered = run(*model, source);
  const Tensor steered_means = steered.mean({2, 3}), target_means = target.mean({2, 3});
  for (int64_t channel = 0; channel < 2; ++channel)
    CHECK(column_moments(steered_means, channel).first ==
          doctest::Approx(column_moments(target_means, channel).first).epsilon(1e-5));
  // The deviations from each channel's mean are kept.
  const Tensor kept = steered - steered.mean({2, 3}, true), original = source - source.mean({2, 3}, true);
  CHECK(amax(abs(kept - original)).item() < 1e-5);
}

TEST_CASE("a fitted Linear-AcT map moves source responses to the target mean and deviation") {
  auto model = vireo::testing::chained_linear_model(4, 5);
  const Tensor source = vireo::testing::random_normal({512, 4}, 6);
  const Tensor target = vireo::testing::random_normal({512, 4}, 7, 1.0, 2.0);
  auto first_layer = std::make_shared<nn::Sequential>((*model)[0]);
  const Tensor target_responses = run(*first_layer, target);
  for (ActVariant variant : {ActVariant::linear, ActVariant::gaussian}) {
    const Intervention act = fit_act(*first_layer, {"0"}, {source}, {target}, {.variant = variant});
    std::vector<double> mean_errors;
    for (double strength : {0.0, 0.5, 1.0}) {
      auto attached = attach(*first_layer, act, strength);
      const Tensor steered = run(*first_layer, source);
      attached.detach();
      double error = 0.0;
      for (int64_t unit = 0; unit < 4; ++unit) {
        const auto [steered_mean, steered_deviation] = column_moments(steered, unit);
        const auto [target_mean, target_deviation] = column_moments(target_responses, unit);
        error += std::abs(steered_mean - target_mean);
        if (strength == 1.0) {
          INFO("unit ", unit);
          // Only the two extreme source samples (on the open support's boundary) stay where they were.
          CHECK(std::abs(steered_mean - target_mean) < 0.02 * target_deviation + 0.01);
          CHECK(steered_deviation == doctest::Approx(target_deviation).epsilon(0.03));
        }
      }
      mean_errors.push_back(error);
    }
    CHECK(mean_errors[0] > mean_errors[1]);
    CHECK(mean_errors[1] > mean_errors[2]);
  }
}

TEST_CASE("incremental and all-at-once estimation differ only where points are chained") {
  const Tensor source = vireo::testing::random_normal({64, 4}, 8);
  const Tensor target = vireo::testing::random_normal({64, 4}, 9, -1.0, 0.5);
  auto maps_equal = [](const UnitMap& a, const UnitMap& b) {
    return vireo::testing::identical(a.scale, b.scale) && vireo::testing::identical(a.shift, b.shift) &&
           vireo::testing::identical(a.support_low, b.support_low) &&
           vireo::testing::identical(a.support_high, b.support_high);
  };
  {
    auto chained = vireo::testing::chained_linear_model(4, 10);
    const Intervention incremental = fit_act(*chained, {"1", "0"}, {source}, {target});
    const Intervention all_at_once =
        fit_act(*chained, {"0", "1"}, {source}, {target}, {.estimation = ActEstimation::all_at_once});
    REQUIRE(incremental.points.size() == 2);
    CHECK(incremental.points[0].first == "0");  // model order, whatever order the points were given in
    CHECK(maps_equal(incremental.at("0"), all_at_once.at("0")));
    CHECK_FALSE(maps_equal(incremental.at("1"), all_at_once.at("1")));
    // Point 1's incremental map was fitted on responses that point 0's map already moved, so with both
    // attached the model output lands nearer the target's than with the all-at-once maps.
    const Tensor target_output = run(*chained, target);
    auto output_mean_error = [&](const Intervention& intervention) {
      auto attached = attach(*chained, intervention, 1.0);
      const Tensor steered = run(*chained, source);
      attached.detach();
      double error = 0.0;
      for (int64_t unit = 0; unit < 4; ++unit)
        error += std::abs(column_moments(steered, unit).first - column_moments(target_output, unit).first);
      return error;
    };
    CHECK(output_mean_error(incremental) < output_mean_error(all_at_once));
  }
  {
    vireo::testing::ParallelLinear parallel(4, 11);
    const Intervention incremental = fit_act(parallel, {"left", "right"}, {source}, {target});
    const Intervention all_at_once =
        fit_act(parallel, {"left", "right"}, {source}, {target}, {.estimation = ActEstimation::all_at_once});
    CHECK(maps_equal(incremental.at("left"), all_at_once.at("left")));
    CHECK(maps_equal(incremental.at("right"), all_at_once.at("right")));
  }
}
