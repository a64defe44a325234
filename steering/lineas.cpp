// LinEAS (steering/lineas.h): the Wasserstein loss, the proximal sparsity steps and the end-to-end
// training of per-unit maps through the frozen model.
#include "steering/lineas.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/optim/schedule.h"
#include "engine/random.h"

namespace vireo::steering {

namespace {

// The sparse-group step on one group: u = ST(x − center, t₁); x ← center + max(0, 1 − t₂√d/‖u‖₂)·u.
void group_shrink(Tensor& values, double center, double l1_threshold, double group_threshold) {
  NoGrad no_grad;
  const Tensor u = soft_threshold(values - center, l1_threshold);
  const double length = std::sqrt(square(u).sum().item());
  const double factor =
      length > 0.0 ? std::max(0.0, 1.0 - group_threshold * std::sqrt(static_cast<double>(values.numel())) / length)
                   : 0.0;
  values.copy_(u * factor + center);
}

int64_t batch_size_for(const Tensor& source_samples, const Tensor& target_samples, const LineasOptions& options) {
  VIREO_CHECK(options.batch_size >= 4, "fit_lineas: batch_size must be at least 4, got ", options.batch_size);
  VIREO_CHECK(source_samples.defined() && target_samples.defined() && source_samples.size(0) >= options.batch_size &&
                  target_samples.size(0) >= options.batch_size,
              "fit_lineas: batch_size ", options.batch_size, " needs at least that many source and target samples, got ",
              describe(source_samples), " and ", describe(target_samples));
  return options.batch_size;
}

}  // namespace

Tensor wasserstein_loss(const Tensor& source_responses, const Tensor& target_responses) {
  VIREO_CHECK(source_responses.dim() == 2 && source_responses.shape() == target_responses.shape(),
              "wasserstein_loss: responses must be [n, U] of one shape, got ", describe(source_responses), " and ",
              describe(target_responses));
  // Sorting each column pairs the i-th smallest source value with the i-th smallest target value: the
  // optimal 1-D transport plan. With equal n the mean over all pairs is the mean over units of W₂².
  const Tensor source_sorted = sort(source_responses, 0).values;
  const Tensor target_sorted = sort(target_responses, 0).values;
  return square(source_sorted - target_sorted).mean();
}

Tensor soft_threshold(const Tensor& x, double threshold) {
  return sign(x) * clamp(abs(x) - threshold, 0.0, std::nullopt);
}

void proximal_l1(Tensor& scale, Tensor& shift, double l1_threshold) {
  NoGrad no_grad;
  scale.copy_(soft_threshold(scale - 1.0, l1_threshold) + 1.0);
  shift.copy_(soft_threshold(shift, l1_threshold));
}

void proximal_sparse_group(Tensor& scale, Tensor& shift, double l1_threshold, double group_threshold) {
  group_shrink(scale, 1.0, l1_threshold, group_threshold);
  group_shrink(shift, 0.0, l1_threshold, group_threshold);
}

int64_t count_active_units(const UnitMap& map) {
  const std::vector<double> scale = map.scale.to_vector(), shift = map.shift.to_vector();
  int64_t active = 0;
  for (size_t unit = 0; unit < scale.size(); ++unit)
    if (std::abs(scale[unit] - 1.0) > 1e-5 || std::abs(shift[unit]) > 1e-5) ++active;
  return active;
}

Tensor lineas_loss(nn::Module& model, const std::vector<std::string>& loss_points, const Tensor& source_batch,
                   const std::map<std::string, Tensor>& target_responses, Pooling pooling) {
  VIREO_CHECK(!loss_points.empty(), "lineas_loss: no loss points");
  std::map<std::string, Tensor> source_responses;
  {
    ScopedHooks capture;
    for (const std::string& point : loss_points)
      capture.add(model.register_forward_hook(point, [&source_responses, &point, pooling](const Tensor& out) {
        source_responses[point] = pool_responses(out, pooling, point);
      }));
    model(source_batch);
  }
  Tensor total;
  for (const std::string& point : loss_points) {
    VIREO_CHECK(source_responses.count(point) != 0, "lineas_loss: the forward pass never reached loss point '",
                point, "'");
    auto target = target_responses.find(point);
    VIREO_CHECK(target != target_responses.end(), "lineas_loss: no target responses for loss point '", point, "'");
    const Tensor& source = source_responses.at(point);
    Tensor distance = wasserstein_loss(source, target->second.to(source.dtype()).to(source.device()));
    total = total.defined() ? total + distance : distance;
  }
  return total / static_cast<double>(loss_points.size());
}

LineasFit fit_lineas(nn::Module& model, const std::vector<std::string>& points, const Tensor& source_samples,
                     const Tensor& target_samples, const LineasOptions& options) {
  VIREO_CHECK(!points.empty(), "fit_lineas: no points to intervene on");
  VIREO_CHECK(options.steps >= 0 && options.retrain_steps >= 0, "fit_lineas: negative step count");
  const int64_t batch_size = batch_size_for(source_samples, target_samples, options);
  std::vector<std::string> loss_points = options.loss_points.value_or(points);
  if (!options.loss_points) loss_points.push_back("");  // the final representation: the model's output

  EvalMode eval_mode(model);
  FrozenParameters frozen(model);
  const auto target_responses = collect_responses(model, loss_points, {target_samples}, options.pooling);
  const auto probe = collect_responses(model, points, {source_samples.narrow(0, 0, 1)}, options.pooling);

  LineasFit fit;
  Intervention& intervention = fit.intervention;
  intervention.method = "lineas";
  intervention.spatial_form = SpatialForm::per_position;
  std::vector<Tensor> parameters;
  for (const std::string& point : points_in_model_order(model, points, source_samples.narrow(0, 0, 1))) {
    const int64_t units = probe.at(point).size(1);
    UnitMap map{ones({units}, {.dtype = source_samples.dtype()}), zeros({units}, {.dtype = source_samples.dtype()})};
    map.scale.requires_grad_();
    map.shift.requires_grad_();
    parameters.push_back(map.scale);
    parameters.push_back(map.shift);
    intervention.add(point, map);
  }

  Generator generator(options.seed);
  const int64_t source_count = source_samples.size(0), target_count = target_samples.size(0);
  // One phase of training: `steps` Adam steps under the cosine schedule, then `after_step` (the proximal
  // step, or the mask of the re-training).
  auto train = [&](int64_t steps, const std::function<void(double learning_rate)>& after_step) {
    optim::Adam optimizer(parameters, {.lr = options.learning_rate, .betas = options.betas});
    ScopedAttachment attached(model, intervention, 1.0);
    for (int64_t step = 0; step < steps; ++step) {
      const double learning_rate =
          optim::cosine_ramp(options.learning_rate, options.learning_rate * options.final_learning_rate_factor,
                             static_cast<double>(step) / static_cast<double>(steps));
      optimizer.param_groups()[0].lr = learning_rate;
      const Tensor source_rows = randperm(source_count, {.dtype = DType::i64}, &generator).narrow(0, 0, batch_size);
      const Tensor target_rows = randperm(target_count, {.dtype = DType::i64}, &generator).narrow(0, 0, batch_size);
      std::map<std::string, Tensor> target_batch;
      for (const auto& [point, responses] : target_responses) target_batch[point] = index_select(responses, 0, target_rows);
      const Tensor loss = lineas_loss(model, loss_points, index_select(source_samples, 0, source_rows), target_batch,
                                      options.pooling);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      after_step(learning_rate);
      fit.losses.push_back(loss.item());
    }
  };

  train(options.steps, [&](double learning_rate) {
    for (auto& [point, map] : intervention.points) {
      if (options.group > 0.0)
        proximal_sparse_group(map.scale, map.shift, learning_rate * options.l1, learning_rate * options.group);
      else if (options.l1 > 0.0)
        proximal_l1(map.scale, map.shift, learning_rate * options.l1);
    }
  });
  if (options.retrain_steps > 0) {
    // Only the active units train again: after every step the others are put back to the identity.
    std::vector<Tensor> active;
    for (const auto& [point, map] : intervention.points) {
      NoGrad no_grad;
      active.push_back(gt(abs(map.scale - 1.0), 1e-5) + gt(abs(map.shift), 1e-5));
    }
    train(options.retrain_steps, [&](double) {
      NoGrad no_grad;
      for (size_t i = 0; i < intervention.points.size(); ++i) {
        UnitMap& map = intervention.points[i].second;
        map.scale.copy_(where(active[i], map.scale, ones_like(map.scale)));
        map.shift.copy_(where(active[i], map.shift, zeros_like(map.shift)));
      }
    });
  }

  for (auto& [point, map] : intervention.points) {
    map.scale = map.scale.detach().clone();
    map.shift = map.shift.detach().clone();
    const int64_t active = count_active_units(map);
    fit.active_units += active;
    if (active > 0) ++fit.active_points;
  }
  intervention.settings = {{"steps", std::to_string(options.steps)},
                           {"batch_size", std::to_string(batch_size)},
                           {"learning_rate", std::to_string(options.learning_rate)},
                           {"l1", std::to_string(options.l1)},
                           {"group", std::to_string(options.group)},
                           {"retrain_steps", std::to_string(options.retrain_steps)},
                           {"pooling", options.pooling == Pooling::max ? "max" : "mean"},
                           {"seed", std::to_string(options.seed)}};
  return fit;
}

}  // namespace vireo::steering
