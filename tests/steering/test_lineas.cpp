// LinEAS: the sorted-quantile Wasserstein loss and the soft threshold by hand, the L1 and sparse-group
// proximal steps against hand-computed values, the active-unit count, f64 gradient checks of the loss and
// through the LinEAS parameters of two chained points, and the end-to-end fit (the loss falls; strong group
// sparsity switches every point off; re-training keeps the inactive units at the identity).
#include "steering/lineas.h"

#include "steering_test_models.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_close;
using vireo::testing::check_error;

TEST_CASE("wasserstein_loss pairs sorted columns and averages over units") {
  // Unit 0: {1, 3} against {2, 0} -> ((1 − 0)² + (3 − 2)²)/2 = 1; unit 1: {0, 4} against {1, 1} -> 5.
  const Tensor source = Tensor::from_vector({1, 0, 3, 4}, {2, 2});
  const Tensor target = Tensor::from_vector({2, 1, 0, 1}, {2, 2});
  CHECK(wasserstein_loss(source, target).item() == doctest::Approx(3.0));
  check_error([] { wasserstein_loss(zeros({3, 2}), zeros({2, 2})); }, {"wasserstein_loss", "[3, 2]", "[2, 2]"});
}

TEST_CASE("gradcheck: wasserstein_loss in both arguments") {
  const Tensor source = vireo::testing::random_normal({5, 3}, 1).to(DType::f64).requires_grad_();
  const Tensor target = vireo::testing::random_normal({5, 3}, 2).to(DType::f64).requires_grad_();
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return wasserstein_loss(in[0], in[1]); }, {source, target});
}

TEST_CASE("soft threshold and the L1 proximal step by hand") {
  check_close(soft_threshold(Tensor::from_vector({-2, -0.5, 0, 0.3, 1.5}, {5}), 0.5), {-1.5, 0, 0, 0, 1.0});
  Tensor scale = Tensor::from_vector({1.5, 1.02, 0.7}, {3}, {.dtype = DType::f64});
  Tensor shift = Tensor::from_vector({0.3, -0.01, -0.5}, {3}, {.dtype = DType::f64});
  proximal_l1(scale, shift, 0.05);
  check_close(scale, {1.45, 1.0, 0.75}, 1e-12);
  check_close(shift, {0.25, 0.0, -0.45}, 1e-12);
}

TEST_CASE("the sparse-group proximal step shrinks each point's group or switches it off") {
  // u = ST(ω − 1, 0.05) = (0.45, 0, −0.25), ‖u‖ = √0.265; factor = 1 − 0.1·√3/√0.265 = 0.66353670754477;
  // for b, u = (0.25, 0, −0.45) has the same length.
  Tensor scale = Tensor::from_vector({1.5, 1.02, 0.7}, {3}, {.dtype = DType::f64});
  Tensor shift = Tensor::from_vector({0.3, -0.01, -0.5}, {3}, {.dtype = DType::f64});
  proximal_sparse_group(scale, shift, 0.05, 0.1);
  check_close(scale, {1.298591518395148, 1.0, 0.8341158231138066}, 1e-12);
  check_close(shift, {0.16588417688619334, 0.0, -0.298591518395148}, 1e-12);
  // A group weight above ‖u‖/√d sets the whole point to the identity, exactly.
  proximal_sparse_group(scale, shift, 0.05, 1.0);
  CHECK(scale.to_vector() == std::vector<double>{1, 1, 1});
  CHECK(shift.to_vector() == std::vector<double>{0, 0, 0});
}

TEST_CASE("count_active_units counts units that moved from the identity") {
  const UnitMap map{Tensor::from_vector({1, 1.5, 1, 1.000001}, {4}, {.dtype = DType::f64}),
                    Tensor::from_vector({0, 0, 0.1, -0.000001}, {4}, {.dtype = DType::f64})};
  CHECK(count_active_units(map) == 2);
}

TEST_CASE("gradcheck: the LinEAS loss through the scales and shifts of two chained points") {
  auto model = vireo::testing::chained_linear_model(3, 4);
  model->to(DType::f64);
  auto parameter = [](uint64_t seed, double mean) {
    return vireo::testing::random_normal({3}, seed, mean, 0.3).to(DType::f64).requires_grad_();
  };
  std::vector<Tensor> inputs{parameter(5, 1.0), parameter(6, 0.0), parameter(7, 1.0), parameter(8, 0.0)};
  Intervention maps;
  maps.method = "lineas";
  maps.add("0", UnitMap{inputs[0], inputs[1]});
  maps.add("1", UnitMap{inputs[2], inputs[3]});
  auto attached = attach(*model, maps, 0.7);
  const Tensor source = vireo::testing::random_normal({6, 3}, 9).to(DType::f64);
  const std::vector<std::string> loss_points{"0", "1", ""};
  std::map<std::string, Tensor> target;
  for (uint64_t i = 0; i < loss_points.size(); ++i)
    target[loss_points[i]] = vireo::testing::random_normal({6, 3}, 10 + i, 0.5, 2.0).to(DType::f64);
  CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return lineas_loss(*model, loss_points, source, target); },
                  inputs);
}

TEST_CASE("fit_lineas lowers the distance to the target and reports active units") {
  auto model = vireo::testing::chained_linear_model(4, 11);
  const Tensor source = vireo::testing::random_normal({64, 4}, 12);
  const Tensor target = vireo::testing::random_normal({64, 4}, 13, 1.0, 2.0);
  const std::vector<std::string> loss_points{"0", "1", ""};
  const auto target_responses = collect_responses(*model, loss_points, {target}, Pooling::mean);
  auto full_loss = [&](const Intervention* intervention) {
    NoGrad no_grad;
    std::optional<ScopedAttachment> attached;
    if (intervention) attached.emplace(*model, *intervention, 1.0);
    return lineas_loss(*model, loss_points, source, target_responses).item();
  };
  const LineasFit fit = fit_lineas(*model, {"0", "1"}, source, target, {.steps = 150, .learning_rate = 0.05});
  CHECK(fit.intervention.method == "lineas");
  CHECK(fit.losses.size() == 150);
  CHECK(full_loss(&fit.intervention) < 0.25 * full_loss(nullptr));
  CHECK(fit.active_units == 8);
  CHECK(fit.active_points == 2);
  CHECK(model->num_hooks() == 0);
  for (const Tensor& parameter : model->parameters()) CHECK(parameter.requires_grad());  // unfrozen again
  // The same seed gives the same maps.
  const LineasFit again = fit_lineas(*model, {"0", "1"}, source, target, {.steps = 150, .learning_rate = 0.05});
  CHECK(vireo::testing::identical(again.intervention.at("1").scale, fit.intervention.at("1").scale));
}

TEST_CASE("strong group sparsity switches every point off and re-training keeps them off") {
  auto model = vireo::testing::chained_linear_model(4, 14);
  const Tensor source = vireo::testing::random_normal({32, 4}, 15);
  const Tensor target = vireo::testing::random_normal({32, 4}, 16, 1.0, 2.0);
  const LineasFit fit = fit_lineas(*model, {"0", "1"}, source, target,
                                   {.steps = 20, .learning_rate = 0.05, .group = 1000.0, .retrain_steps = 10});
  CHECK(fit.active_points == 0);
  CHECK(fit.active_units == 0);
  CHECK(fit.losses.size() == 30);
  for (const auto& [point, map] : fit.intervention.points) {
    CHECK(map.scale.to_vector() == std::vector<double>(4, 1.0));
    CHECK(map.shift.to_vector() == std::vector<double>(4, 0.0));
  }
  check_error([&] { fit_lineas(*model, {"0"}, source, target, {.batch_size = 2}); }, {"batch_size", "at least 4"});
}
