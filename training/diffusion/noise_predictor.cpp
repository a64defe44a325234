// A module as a noise predictor, and the shape check every caller of one shares
// (training/diffusion/noise_predictor.h).
#include "training/diffusion/noise_predictor.h"

#include <vector>

namespace vireo::diffusion {

NoisePredictor noise_predictor(nn::Module& model) {
  return [&model](const Tensor& noisy_images, const Tensor& timesteps, const Tensor& labels) {
    return labels.defined() ? model(std::vector<Tensor>{noisy_images, timesteps, labels})
                            : model(std::vector<Tensor>{noisy_images, timesteps});
  };
}

Tensor predict_noise(const char* op, const NoisePredictor& predictor, const Tensor& noisy_images,
                     const Tensor& timesteps, const Tensor& labels) {
  VIREO_CHECK(static_cast<bool>(predictor), op, ": the noise predictor is empty");
  Tensor prediction = predictor(noisy_images, timesteps, labels);
  VIREO_CHECK(prediction.defined() && prediction.shape() == noisy_images.shape(), op,
              ": the noise predictor must return a tensor of the images' shape ", noisy_images.shape(), ", got ",
              prediction.defined() ? describe(prediction) : std::string("an undefined tensor"));
  return prediction;
}

}  // namespace vireo::diffusion
