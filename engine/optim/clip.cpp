// Gradient-norm clipping over the norm_power_sum and scale_in_place kernels.
#include "engine/optim/clip.h"

#include <cmath>
#include <limits>

#include "engine/kernels/optim.h"

namespace vireo::optim {

double total_grad_norm(const std::vector<Tensor>& params, double norm_type) {
  const bool infinity_norm = std::isinf(norm_type) && norm_type > 0.0;
  VIREO_CHECK(infinity_norm || (std::isfinite(norm_type) && norm_type > 0.0), "total_grad_norm: norm_type ",
              norm_type, " is not supported (must be > 0, or +inf)");
  double accumulated = 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    VIREO_CHECK(params[i].defined(), "total_grad_norm: parameter ", i, " is an undefined tensor");
    const Tensor& grad = params[i].grad();
    if (!grad.defined()) continue;
    VIREO_CHECK(grad.dtype() == DType::f32 || grad.dtype() == DType::f64, "total_grad_norm: the gradient ",
                describe(grad), " of parameter ", i, " is not f32 or f64");
    const Tensor contiguous_grad = grad.is_contiguous() ? grad : grad.contiguous();
    double part = 0.0;
    kernels::norm_power_sum(grad.device(), contiguous_grad, norm_type, part);
    if (!infinity_norm) accumulated += part;
    else if (!std::isnan(accumulated) && (std::isnan(part) || part > accumulated)) accumulated = part;  // NaN wins
  }
  if (infinity_norm || norm_type == 1.0) return accumulated;
  if (norm_type == 2.0) return std::sqrt(accumulated);
  return std::pow(accumulated, 1.0 / norm_type);
}

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  VIREO_CHECK(std::isfinite(max_norm) && max_norm >= 0.0, "clip_grad_norm_: max_norm ", max_norm,
              " must be finite and >= 0");
  VIREO_CHECK((std::isinf(norm_type) && norm_type > 0.0) || (std::isfinite(norm_type) && norm_type > 0.0),
              "clip_grad_norm_: norm_type ", norm_type, " is not supported (must be > 0, or +inf)");
  const double total = total_grad_norm(params, norm_type);
  VIREO_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
              " of the gradients is non-finite (", total,
              "), so they cannot be clipped (error_if_nonfinite; pass false to scale them anyway)");
  const double coef = max_norm / (total + 1e-6);
  if (coef >= 1.0) return total;  // torch multiplies by min(coef, 1) = 1: nothing changes
  scale_grads_(params, coef);
  return total;
}

void scale_grads_(const std::vector<Tensor>& params, double factor) {
  for (const Tensor& param : params) {
    const Tensor& grad = param.grad();
    if (!grad.defined()) continue;
    if (grad.is_contiguous()) {
      kernels::scale_in_place(grad.device(), grad, factor);
      grad.storage()->bump_version();
    } else {
      Tensor scaled = grad.contiguous();
      kernels::scale_in_place(scaled.device(), scaled, factor);
      param.set_grad(scaled);
    }
  }
}

}  // namespace vireo::optim
