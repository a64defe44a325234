// L_simple, the noise-prediction loss (training/diffusion/training_loss.h).
#include "training/diffusion/training_loss.h"

#include "engine/ops.h"
#include "training/diffusion/forward_process.h"

namespace vireo::diffusion {

Tensor diffusion_loss(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Tensor& images,
                      Generator& generator, const Tensor& labels) {
  VIREO_CHECK(images.defined() && images.dim() >= 1 && images.size(0) > 0,
              "diffusion_loss: expects a non-empty batch of images [N, ...], got ",
              images.defined() ? describe(images) : std::string("an undefined tensor"));
  const Tensor timesteps =
      randint(0, schedule.timesteps(), {images.size(0)}, {.dtype = DType::i64, .device = images.device()}, &generator);
  const Tensor noise = randn(images.shape(), images.options(), &generator);
  return diffusion_loss(predictor, schedule, images, timesteps, noise, labels);
}

Tensor diffusion_loss(const NoisePredictor& predictor, const NoiseSchedule& schedule, const Tensor& images,
                      const Tensor& timesteps, const Tensor& noise, const Tensor& labels) {
  VIREO_CHECK(!labels.defined() || (labels.dim() == 1 && labels.size(0) == images.size(0)),
              "diffusion_loss: labels must be [", images.size(0), "] (one per image), got ", describe(labels));
  // The noisy images carry no gradient: only the predictor's parameters are trained.
  const Tensor noisy_images = q_sample(schedule, images.detach(), timesteps, noise.detach());
  const Tensor predicted_noise = predict_noise("diffusion_loss", predictor, noisy_images, timesteps, labels);
  // L = mean over every element of (ε − ε_θ(x_t, t))²
  return mse_loss(predicted_noise, noise.detach());
}

}  // namespace vireo::diffusion
