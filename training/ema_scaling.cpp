// The EMA scaling rule and the parameter EMA: the derivations are in ema_scaling.h.
#include "training/ema_scaling.h"

#include <cmath>
#include <numbers>

#include "engine/autograd.h"
#include "engine/error.h"

namespace vireo::training {

double batch_scale(double batch_size, double base_batch_size) {
  VIREO_CHECK(std::isfinite(batch_size) && batch_size > 0, "EMA scaling: batch_size must be positive, got ", batch_size);
  VIREO_CHECK(std::isfinite(base_batch_size) && base_batch_size > 0,
              "EMA scaling: base_batch_size must be positive, got ", base_batch_size);
  return batch_size / base_batch_size;
}

double scale_ema_momentum(double momentum, double kappa) {
  VIREO_CHECK(momentum >= 0.0 && momentum <= 1.0, "EMA scaling: a momentum must lie in [0, 1], got ", momentum);
  VIREO_CHECK(std::isfinite(kappa) && kappa > 0, "EMA scaling: kappa must be positive, got ", kappa);
  return std::pow(momentum, kappa);
}

OptimizerFamily optimizer_family(const std::string& name) {
  if (name == "sgd") return OptimizerFamily::sgd;
  if (name == "lars") return OptimizerFamily::lars;
  if (name == "adam") return OptimizerFamily::adam;
  if (name == "adamw") return OptimizerFamily::adamw;
  fail("EMA scaling: unknown optimizer '", name, "' (known: sgd, lars, adam, adamw)");
}

const char* optimizer_family_name(OptimizerFamily family) {
  switch (family) {
    case OptimizerFamily::sgd: return "sgd";
    case OptimizerFamily::lars: return "lars";
    case OptimizerFamily::adam: return "adam";
    case OptimizerFamily::adamw: return "adamw";
  }
  return "?";
}

OptimizerHyperparameters scale_optimizer(OptimizerFamily family, const OptimizerHyperparameters& base, double kappa) {
  VIREO_CHECK(std::isfinite(kappa) && kappa > 0, "EMA scaling: kappa must be positive, got ", kappa);
  OptimizerHyperparameters scaled = base;
  switch (family) {
    case OptimizerFamily::sgd:
    case OptimizerFamily::lars:
      // κ steps of size η become one step over κ·B samples whose mean gradient is the same: η → κη.
      scaled.lr = kappa * base.lr;
      break;
    case OptimizerFamily::adam:
    case OptimizerFamily::adamw:
      // Adam's update is normalized by √v, whose noise part shrinks by 1/κ: the square-root rule, with the
      // moment averages forgetting κ× faster per step and ε shrunk with the gradient's scale.
      scaled.lr = std::sqrt(kappa) * base.lr;
      for (int i = 0; i < 2; ++i) {
        const double beta = 1.0 - kappa * (1.0 - base.betas[i]);
        VIREO_CHECK(beta >= 0.0, "EMA scaling: with kappa ", kappa, " beta", i + 1, " = ", base.betas[i],
                    " becomes 1 - kappa*(1 - beta) = ", beta, " < 0; the square-root rule does not reach this batch");
        scaled.betas[i] = beta;
      }
      scaled.eps = base.eps / std::sqrt(kappa);
      break;
  }
  return scaled;
}

double ScalingRule::momentum(double base_momentum) const {
  return ema_rule ? scale_ema_momentum(base_momentum, kappa) : scale_ema_momentum(base_momentum, 1.0);
}

ConstantMomentum::ConstantMomentum(double momentum) : momentum_(momentum) {
  VIREO_CHECK(momentum >= 0.0 && momentum <= 1.0, "ConstantMomentum: momentum must lie in [0, 1], got ", momentum);
}

CosineMomentum::CosineMomentum(double base_momentum, int64_t total_samples, double final_momentum)
    : base_(base_momentum), final_(final_momentum), total_samples_(total_samples) {
  VIREO_CHECK(base_momentum >= 0.0 && base_momentum <= 1.0, "CosineMomentum: base momentum must lie in [0, 1], got ",
              base_momentum);
  VIREO_CHECK(final_momentum >= 0.0 && final_momentum <= 1.0,
              "CosineMomentum: final momentum must lie in [0, 1], got ", final_momentum);
  VIREO_CHECK(total_samples > 0, "CosineMomentum: total_samples must be positive, got ", total_samples);
}

double CosineMomentum::momentum(int64_t samples_seen) const {
  const double progress = std::min(1.0, static_cast<double>(samples_seen) / static_cast<double>(total_samples_));
  // ρ_final − (ρ_final − ρ_base)·(cos(π·progress) + 1)/2; with ρ_final = 1 this is BYOL's formula.
  return final_ - (final_ - base_) * (std::cos(std::numbers::pi * progress) + 1.0) / 2.0;
}

ParameterEma::ParameterEma(std::shared_ptr<nn::Module> online, std::shared_ptr<nn::Module> average,
                           std::shared_ptr<const MomentumSchedule> schedule, ScalingRule rule, EmaBuffers buffers)
    : online_(std::move(online)), average_(std::move(average)), schedule_(std::move(schedule)), rule_(rule),
      buffers_(buffers) {
  VIREO_CHECK(online_ && average_ && schedule_, "ParameterEma: the online model, the average and the schedule are required");
  VIREO_CHECK(rule_.kappa > 0, "ParameterEma: kappa must be positive, got ", rule_.kappa);
  const auto online_params = online_->named_parameters();
  const auto average_params = average_->named_parameters();
  VIREO_CHECK(online_params.size() == average_params.size(), "ParameterEma: the online model has ",
              online_params.size(), " parameters, the average ", average_params.size());
  for (size_t i = 0; i < online_params.size(); ++i) {
    VIREO_CHECK(online_params[i].first == average_params[i].first, "ParameterEma: parameter ", i, " is '",
                online_params[i].first, "' in the online model but '", average_params[i].first, "' in the average");
    VIREO_CHECK(online_params[i].second.shape() == average_params[i].second.shape(), "ParameterEma: parameter '",
                online_params[i].first, "' has shape ", online_params[i].second.shape(), " online but ",
                average_params[i].second.shape(), " in the average");
  }
}

double ParameterEma::update(int64_t samples_seen) {
  VIREO_CHECK(samples_seen >= 0, "ParameterEma: samples_seen must be >= 0, got ", samples_seen);
  const double rho = momentum(samples_seen);
  NoGrad no_grad;
  const auto online_params = online_->parameters();
  const auto average_params = average_->parameters();
  for (size_t i = 0; i < online_params.size(); ++i) {
    Tensor xi = average_params[i];
    // ξ ← ρ·ξ + (1 − ρ)·θ
    xi.mul_(rho);
    xi.add_(online_params[i], 1.0 - rho);
  }
  if (buffers_ == EmaBuffers::copy_from_online) {
    const auto online_buffers = online_->buffers();
    const auto average_buffers = average_->buffers();
    VIREO_CHECK(online_buffers.size() == average_buffers.size(), "ParameterEma: the online model has ",
                online_buffers.size(), " buffers, the average ", average_buffers.size());
    for (size_t i = 0; i < online_buffers.size(); ++i) {
      Tensor target = average_buffers[i];
      target.copy_(online_buffers[i]);
    }
  }
  return rho;
}

void ParameterEma::reset_to_online() {
  NoGrad no_grad;
  const auto online_params = online_->parameters();
  const auto average_params = average_->parameters();
  for (size_t i = 0; i < online_params.size(); ++i) {
    Tensor target = average_params[i];
    target.copy_(online_params[i]);
  }
  const auto online_buffers = online_->buffers();
  const auto average_buffers = average_->buffers();
  VIREO_CHECK(online_buffers.size() == average_buffers.size(), "ParameterEma: the online model has ",
              online_buffers.size(), " buffers, the average ", average_buffers.size());
  for (size_t i = 0; i < online_buffers.size(); ++i) {
    Tensor target = average_buffers[i];
    target.copy_(online_buffers[i]);
  }
}

}  // namespace vireo::training
