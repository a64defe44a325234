// The pieces both samplers share (training/diffusion/sampling.h).
#include "training/diffusion/sampling.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/ops.h"

namespace vireo::diffusion {

void check_sampling_arguments(const char* op, const Shape& shape, const Tensor& labels, int64_t batch_size) {
  VIREO_CHECK(!shape.empty() && shape[0] >= 1, op, ": the sample shape must be [N, ...] with N >= 1, got ", shape);
  for (int64_t extent : shape)
    VIREO_CHECK(extent >= 1, op, ": the sample shape ", shape, " has an empty dimension");
  VIREO_CHECK(batch_size >= 0, op, ": batch_size must be >= 0 (0: every image at once), got ", batch_size);
  VIREO_CHECK(!labels.defined() || (labels.dim() == 1 && labels.size(0) == shape[0]), op, ": labels must be [",
              shape[0], "] (one per sample), got ", labels.defined() ? describe(labels) : std::string());
}

Tensor starting_noise(const char* op, const Shape& shape, DType dtype, Device device, const Tensor& given,
                      Generator& generator) {
  VIREO_CHECK(is_floating(dtype), op, ": samples need a floating dtype, got ", dtype);
  if (!given.defined()) return randn(shape, {.dtype = dtype, .device = device}, &generator);
  VIREO_CHECK(given.shape() == shape, op, ": the initial noise ", describe(given), " does not have the sample shape ",
              shape);
  return given.detach().to(device).to(dtype);
}

Denoised denoise(const char* op, const NoisePredictor& predictor, const NoiseSchedule& schedule, const Tensor& x,
                 int64_t t, const Tensor& labels, int64_t batch_size, bool clip) {
  const int64_t images = x.size(0);
  const int64_t chunk = batch_size > 0 ? std::min(batch_size, images) : images;
  std::vector<Tensor> predictions;
  for (int64_t start = 0; start < images; start += chunk) {
    const int64_t count = std::min(chunk, images - start);
    const Tensor timesteps = full({count}, static_cast<double>(t), {.dtype = DType::i64, .device = x.device()});
    const Tensor part_labels = labels.defined() ? labels.narrow(0, start, count).to(x.device()) : Tensor();
    predictions.push_back(predict_noise(op, predictor, x.narrow(0, start, count), timesteps, part_labels));
  }
  Denoised result;
  result.noise = predictions.size() == 1 ? predictions[0] : cat(predictions, 0);
  const double signal_scale = std::sqrt(schedule.alpha_bar(t)), noise_scale = std::sqrt(1.0 - schedule.alpha_bar(t));
  // x̂_0 = (x_t − √(1 − ᾱ_t) · ε̂) / √ᾱ_t
  result.x0 = (x - result.noise * noise_scale) / signal_scale;
  if (clip) {
    result.x0 = clamp(result.x0, -1.0, 1.0);
    // ε̂ = (x_t − √ᾱ_t · x̂_0) / √(1 − ᾱ_t): the noise the clipped x̂_0 implies.
    result.noise = (x - result.x0 * signal_scale) / noise_scale;
  }
  return result;
}

}  // namespace vireo::diffusion
