// BYOL-ER, SimCLR-ER and DINO-ER: the bound and the choices are in er_bound.h.
#include "ssl/er_bound.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
#include "ssl/dino.h"

namespace vireo::ssl {
namespace {

// mean over the batch of −κ·⟨a/‖a‖, b/‖b‖⟩.
Tensor negative_scaled_cosine(const Tensor& a, const Tensor& b, double concentration) {
  VIREO_CHECK(a.dim() == 2 && a.shape() == b.shape(), "ER reconstruction: embeddings ", a.shape(), " and ", b.shape(),
              " must both be [N, D] of one shape");
  const Tensor cosine = sum(mul(normalize(a, 2.0, 1), normalize(b, 2.0, 1)), {1});
  return mul(mean(cosine), -concentration);
}

// L = reconstruction − w·entropy; w ≥ 0.
ERLoss combine(Tensor reconstruction, Tensor entropy, double entropy_weight) {
  VIREO_CHECK(std::isfinite(entropy_weight) && entropy_weight >= 0.0,
              "ER loss: entropy_weight must be 0 or more, got ", entropy_weight);
  return {sub(reconstruction, mul(entropy, entropy_weight)), reconstruction, entropy};
}

}  // namespace

std::map<std::string, double> ERLoss::metrics() const {
  return {{"loss", loss.item()}, {"reconstruction", reconstruction.item()}, {"entropy", entropy.item()}};
}

ERLoss byol_er_loss(const Tensor& prediction_1, const Tensor& prediction_2, const Tensor& target_projection_1,
                    const Tensor& target_projection_2, const Tensor& online_projection_1,
                    const Tensor& online_projection_2, VmfKdeOptions options, double entropy_weight) {
  const double kappa = options.concentration;
  const Tensor reconstruction =
      mul(add(negative_scaled_cosine(prediction_1, target_projection_2.detach(), kappa),
              negative_scaled_cosine(prediction_2, target_projection_1.detach(), kappa)),
          0.5);
  const Tensor entropy =
      mul(add(vmf_kde_entropy(online_projection_1, options), vmf_kde_entropy(online_projection_2, options)), 0.5);
  return combine(reconstruction, entropy, entropy_weight);
}

ERLoss simclr_er_loss(const Tensor& z1, const Tensor& z2, VmfKdeOptions options, double entropy_weight) {
  const Tensor reconstruction = negative_scaled_cosine(z1, z2, options.concentration);
  const Tensor entropy = mul(add(vmf_kde_entropy(z1, options), vmf_kde_entropy(z2, options)), 0.5);
  return combine(reconstruction, entropy, entropy_weight);
}

Tensor batch_mean_entropy(const std::vector<Tensor>& outputs, double temperature) {
  VIREO_CHECK(!outputs.empty(), "batch_mean_entropy: no outputs");
  VIREO_CHECK(temperature > 0, "batch_mean_entropy: temperature must be positive, got ", temperature);
  for (size_t i = 0; i < outputs.size(); ++i)
    VIREO_CHECK(outputs[i].dim() == 2 && outputs[i].size(1) == outputs[0].size(1), "batch_mean_entropy: output ", i,
                " has shape ", outputs[i].shape(), "; every output must be [N, K] with K = ", outputs[0].size(1));
  const Tensor probabilities = softmax(cat(outputs, 0) / temperature, 1);  // [views·N, K]
  const Tensor p_bar = mean(probabilities, {0});                               // [K]
  return neg(sum(mul(p_bar, log(add(p_bar, 1e-7)))));
}

ERLoss dino_er_loss(const std::vector<Tensor>& student_outputs, const std::vector<Tensor>& teacher_outputs,
                    const Tensor& center, double student_temperature, double teacher_temperature,
                    double entropy_weight) {
  const Tensor reconstruction =
      dino_cross_entropy(student_outputs, teacher_outputs, center, student_temperature, teacher_temperature);
  const Tensor entropy = batch_mean_entropy(student_outputs, student_temperature);
  return combine(reconstruction, entropy, entropy_weight);
}

}  // namespace vireo::ssl
