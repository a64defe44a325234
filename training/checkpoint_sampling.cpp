// sample_checkpoint: the DDPM run's recipe and weights out of its checkpoint, the samplers of
// training/diffusion, and the classifier's verdict on what they drew.
#include "training/checkpoint_sampling.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "models/backbone.h"
#include "models/unet.h"
#include "training/checkpoint.h"
#include "training/data/image.h"
#include "training/data/random_stream.h"
#include "training/ddpm.h"
#include "training/diffusion/ddim_sampler.h"
#include "training/diffusion/ddpm_sampler.h"
#include "training/diffusion/noise_predictor.h"
#include "training/eval/frechet.h"
#include "training/recipe_builders.h"

namespace vireo::training {
namespace {

struct ImageSize {
  int64_t channels = 0, height = 0, width = 0;
  bool operator==(const ImageSize&) const = default;
  std::string text() const {
    return std::to_string(channels) + "×" + std::to_string(height) + "×" + std::to_string(width);
  }
};

ImageSize size_of(const data::Image& image) { return {image.channels, image.height, image.width}; }

// The first test example of the recipe's dataset, as stored and after the test pipeline.
struct FirstTestImage {
  ImageSize stored, transformed;
};
FirstTestImage first_test_image(const Recipe& recipe) {
  const auto test_set = make_dataset(recipe.data, data::Split::test);
  if (test_set->size() == 0) fail(recipe.source, ": data.dataset ", recipe.data.dataset, " has no test images");
  const data::Image stored = test_set->get(0).image;
  data::RandomStream random(recipe.run.seed, 0, 0, 0);
  return {size_of(stored), size_of(make_pipeline(recipe.data, data::Split::test)(stored, random))};
}

// A checkpoint with its stored recipe, which must be of `task`.
struct LoadedRun {
  Checkpoint checkpoint;
  Recipe recipe;
};
LoadedRun load_run(const std::string& path, const std::string& task, const std::string& role) {
  LoadedRun run{load_checkpoint(path), {}};
  run.recipe = parse_recipe(run.checkpoint.recipe_yaml, path + " (stored recipe)");
  if (run.recipe.task != task)
    fail(path, ": a '", run.recipe.task, "' checkpoint, but ", role, " must be a '", task, "' run's");
  return run;
}

// The --classifier run, checked and loaded before any sampling: a classification model taking images of
// the samples' size, and the test pipeline its inputs go through.
struct Classifier {
  std::shared_ptr<nn::Module> model;
  models::Backbone* backbone = nullptr;  // the same model, for its pooled features
  data::Pipeline pipeline;
  int64_t num_classes = 0;
  Recipe recipe;
};
Classifier load_classifier(const std::string& path, const ImageSize& drawn) {
  const LoadedRun run = load_run(path, "classification", "--classifier");
  const ImageSize input = first_test_image(run.recipe).stored;
  if (!(input == drawn))
    fail(path, ": --classifier takes ", input.text(), " images (its ", run.recipe.data.dataset,
         " data) but the samples are ", drawn.text());
  Classifier classifier{make_model(run.recipe.model), nullptr, make_pipeline(run.recipe.data, data::Split::test), 0,
                        run.recipe};
  classifier.backbone = dynamic_cast<models::Backbone*>(classifier.model.get());
  if (!classifier.backbone || classifier.backbone->num_classes() <= 0)
    fail(path, ": --classifier: its model ", run.recipe.model.name, " is not a classifier");
  classifier.num_classes = classifier.backbone->num_classes();
  load_module_state(*classifier.model, run.checkpoint.model, "model", path, run.recipe.model.name);
  classifier.model->eval();
  return classifier;
}

// The classifier's verdict on `samples` ([N, C, H, W] in [−1, 1]): each sample back to [0, 1] as an
// Image, through the classifier's test pipeline, `batch_size` at a time through its model.
// The classifier's pooled features of the dataset's first `count` test images, through its test pipeline.
Tensor real_features(const Classifier& classifier, int64_t count, int64_t batch_size, uint64_t seed) {
  NoGrad no_grad;
  const auto test_set = make_dataset(classifier.recipe.data, data::Split::test);
  if (test_set->size() < count)
    fail("--frechet: asks for ", count, " test images but ", classifier.recipe.data.dataset, " has ", test_set->size());
  std::vector<Tensor> features, inputs;
  for (int64_t i = 0; i < count; ++i) {
    data::RandomStream random(seed, 0, static_cast<uint64_t>(i), 0);
    inputs.push_back(data::to_tensor(classifier.pipeline(test_set->get(i).image, random)));
    if (static_cast<int64_t>(inputs.size()) == batch_size || i + 1 == count) {
      features.push_back(classifier.backbone->forward_features(stack(inputs)));
      inputs.clear();
    }
  }
  return cat(features, 0);
}

void classify(const Classifier& classifier, const Tensor& samples, int64_t batch_size, uint64_t seed,
              bool with_features, SamplingResult& result, Tensor& features) {
  NoGrad no_grad;
  const int64_t count = samples.shape()[0], channels = samples.shape()[1], height = samples.shape()[2],
                width = samples.shape()[3];
  const std::vector<double> values = samples.to_vector();
  const int64_t classes = classifier.num_classes;
  result.class_counts.assign(static_cast<size_t>(classes), 0);
  int64_t recognisable = 0;
  for (int64_t start = 0; start < count; start += batch_size) {
    const int64_t end = std::min(count, start + batch_size);
    std::vector<Tensor> inputs;
    for (int64_t i = start; i < end; ++i) {
      data::Image image(height, width, channels);
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t y = 0; y < height; ++y)
          for (int64_t x = 0; x < width; ++x) {
            const double v = values[static_cast<size_t>(((i * channels + c) * height + y) * width + x)];
            image.at(y, x, c) = static_cast<float>(std::clamp((v + 1.0) / 2.0, 0.0, 1.0));
          }
      data::RandomStream random(seed, 0, static_cast<uint64_t>(i), 0);
      inputs.push_back(data::to_tensor(classifier.pipeline(std::move(image), random)));
    }
    const Tensor batch = stack(inputs);
    const std::vector<double> probabilities = softmax((*classifier.model)(batch), 1).to_vector();
    if (with_features) features = features.defined() ? cat({features, classifier.backbone->forward_features(batch)}, 0)
                                                     : classifier.backbone->forward_features(batch);
    for (int64_t row = 0; row < end - start; ++row) {
      const auto first = probabilities.begin() + row * classes;
      const auto best = std::max_element(first, first + classes);
      result.class_counts[static_cast<size_t>(best - first)] += 1;
      result.predicted_classes.push_back(best - first);
      if (*best > 0.5) recognisable += 1;
    }
  }
  result.classified = true;
  result.recognisable_fraction = static_cast<double>(recognisable) / static_cast<double>(count);
}

}  // namespace

SamplingResult sample_checkpoint(const SamplingRequest& request) {
  const LoadedRun run = load_run(request.checkpoint, "ddpm", "CHECKPOINT");
  SamplingResult result;
  result.recipe = run.recipe;
  const Recipe& recipe = result.recipe;
  const diffusion::NoiseSchedule schedule = make_noise_schedule(recipe.diffusion);
  const int64_t timesteps = schedule.timesteps();
  if (request.num <= 0) fail("--num: must be at least 1, got ", request.num);
  if (request.batch_size <= 0) fail("--batch: must be at least 1, got ", request.batch_size);
  if (request.sampler == Sampler::ddim && (request.steps < 1 || request.steps > timesteps))
    fail("--steps: must lie in [1, ", timesteps, "] (the run's diffusion.timesteps), got ", request.steps);
  if (!(request.eta >= 0.0 && request.eta <= 1.0)) fail("--eta: must lie in [0, 1], got ", request.eta);
  const bool has_ema = !run.checkpoint.ema.empty();
  if (request.require_ema && !has_ema)
    fail(request.checkpoint, ": --ema: the checkpoint holds no EMA model (the run had no train.ema)");

  set_math_threads(recipe.run);
  const auto model = make_model(recipe.model);
  const auto* unet = dynamic_cast<const models::UNet*>(model.get());
  if (!unet) fail(request.checkpoint, ": its model ", recipe.model.name, " is not a noise predictor");
  result.used_ema = request.use_ema && has_ema;
  load_module_state(*model, result.used_ema ? run.checkpoint.ema : run.checkpoint.model,
                    result.used_ema ? "ema" : "model", request.checkpoint, recipe.model.name);
  result.num_classes = unet->options.num_classes;
  Tensor labels;
  if (result.num_classes > 0) {
    if (request.class_label >= result.num_classes)
      fail("--class: the model has classes 0 to ", result.num_classes - 1, ", got ", request.class_label);
    std::vector<double> values(static_cast<size_t>(request.num));
    for (int64_t i = 0; i < request.num; ++i)
      values[static_cast<size_t>(i)] =
          static_cast<double>(request.class_label >= 0 ? request.class_label : i % result.num_classes);
    labels = Tensor::from_vector(values, {request.num}, {.dtype = DType::i64});
  } else if (request.class_label >= 0) {
    fail("--class: ", request.checkpoint, " holds an unconditional model (model.num_classes 0)");
  }
  const ImageSize size = first_test_image(recipe).transformed;
  const Shape shape{request.num, size.channels, size.height, size.width};
  std::optional<Classifier> classifier;
  if (!request.classifier.empty()) classifier = load_classifier(request.classifier, size);
  if (request.frechet_images < 0 || (request.frechet_images > 0 && (!classifier || request.frechet_images < 2)))
    fail("--frechet: needs --classifier and at least 2 test images, got ", request.frechet_images);

  model->eval();
  if (request.prepare_model) request.prepare_model(*model);
  Generator generator(request.seed);
  const diffusion::NoisePredictor predictor = diffusion::noise_predictor(*model);
  const auto start = std::chrono::steady_clock::now();
  if (request.sampler == Sampler::ddpm) {
    result.steps = timesteps;
    result.samples = diffusion::ddpm_sample(predictor, schedule, shape, generator,
                                            {.batch_size = request.batch_size, .labels = labels});
  } else {
    result.steps = request.steps;
    result.samples = diffusion::ddim_sample(predictor, schedule, shape, generator,
                                            {.steps = request.steps, .eta = request.eta,
                                             .batch_size = request.batch_size, .labels = labels});
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (classifier) {
    Tensor sample_features;
    classify(*classifier, result.samples, request.batch_size, request.seed, request.frechet_images > 0, result,
             sample_features);
    if (request.frechet_images > 0)
      result.frechet_distance = eval::frechet_distance(
          sample_features, real_features(*classifier, request.frechet_images, request.batch_size, request.seed));
  }
  return result;
}

}  // namespace vireo::training
