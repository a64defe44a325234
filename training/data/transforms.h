// Augmentations: random transforms composed into per-view pipelines, torchvision's semantics.
//
// A Transform draws its random parameters from the RandomStream it is given — the stream of one
// (seed, epoch, sample, view) — and records what it drew in DrawnParameters, so a method that needs
// the parameters (DUET's and homomorphic SSL's targets, equivariance probes) reads them off the batch:
//
//   Pipeline view = Pipeline()
//                       .add(RandomResizedCrop({.size = {28, 28}, .scale = {0.2, 1.0}}))
//                       .add(RandomHorizontalFlip())
//                       .add(RandomQuarterTurn());
//   DrawnParameters drawn;
//   RandomStream random(seed, epoch, sample, /*view=*/0);
//   Image out = view(example.image, random, &drawn);
//   drawn.get("random_quarter_turn", "quarter_turns");  // 0, 1, 2 or 3
//
// Every transform can also be built by name from numeric options — the path a YAML recipe takes:
//   make_transform("random_resized_crop", {{"size", {28}}, {"scale", {0.2, 1.0}}})
// The deterministic image operations they call are in geometric.h and photometric.h.
#pragma once

#include <array>
#include <concepts>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "training/data/image.h"
#include "training/data/random_stream.h"

namespace vireo::data {

// What the transforms of one pipeline drew for one view of one sample: (transform, key, value) entries in
// the order they were drawn. A transform that draws records every parameter every time — its identity
// value when it did not apply (flipped 0, brightness factor 1, sigma 0 …) — so entries line up across a
// batch.
class DrawnParameters {
 public:
  struct Entry {
    std::string transform, key;
    double value = 0.0;
  };

  void record(std::string_view transform, std::string_view key, double value);
  // The value `key` recorded by the first `transform` of the pipeline; an Error listing what was recorded
  // when there is none.
  double get(std::string_view transform, std::string_view key) const;
  bool contains(std::string_view transform, std::string_view key) const;
  const std::vector<Entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

 private:
  std::vector<Entry> entries_;
};

class Transform {
 public:
  virtual ~Transform() = default;
  // The registry name ("random_resized_crop"), also the `transform` of the parameters it records.
  virtual const char* name() const = 0;
  // Transforms `image` (it may change size or channels), drawing from `random` and recording in `drawn`.
  // Must be safe to call from several threads at once: transforms hold only their options.
  virtual void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const = 0;
};

// ---- geometric ----

// Crops a random box of random area fraction `scale` and aspect ratio (width / height) `ratio`, resized
// to `size` (bilinear, antialiased). Records top, left, height, width (the box in the input's pixels),
// scale (the box's area over the image's), ratio (its width / height), source_height, source_width.
struct RandomResizedCropOptions {
  Size size = {};
  std::array<double, 2> scale = {0.08, 1.0};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
};
class RandomResizedCrop final : public Transform {
 public:
  struct Box {
    int64_t top = 0, left = 0, height = 0, width = 0;
  };
  explicit RandomResizedCrop(RandomResizedCropOptions options);
  const char* name() const override { return "random_resized_crop"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;
  // torchvision's RandomResizedCrop.get_params: up to 10 tries of area ~ U(scale)·H·W and
  // log(ratio) ~ U(log ratio), w = round(√(area·ratio)), h = round(√(area/ratio)), kept when it fits, at a
  // uniform position; failing that, the centred largest box whose ratio is clamped into `ratio`.
  Box sample_box(int64_t height, int64_t width, RandomStream& random) const;

 private:
  RandomResizedCropOptions options_;
};

// Pads every side by `padding` pixels of `fill`, then crops `size` at a uniform position (the classic
// CIFAR augmentation: padding 4, size 32). Records top and left in the padded image.
struct RandomCropOptions {
  Size size = {};
  int64_t padding = 0;
  std::vector<float> fill = {0.0f};
};
class RandomCrop final : public Transform {
 public:
  explicit RandomCrop(RandomCropOptions options);
  const char* name() const override { return "random_crop"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  RandomCropOptions options_;
};

// The centred `size` box (top = round((H − h)/2), left likewise, Python's rounding); deterministic.
struct CenterCropOptions {
  Size size = {};
};
class CenterCrop final : public Transform {
 public:
  explicit CenterCrop(CenterCropOptions options);
  const char* name() const override { return "center_crop"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  CenterCropOptions options_;
};

// Bilinear (antialiased) resize to exactly `size`, or — when smaller_edge > 0 — so that the smaller edge
// becomes smaller_edge and the other keeps the aspect ratio (torchvision's Resize(int)); deterministic.
struct ResizeOptions {
  Size size = {};
  int64_t smaller_edge = 0;
};
class Resize final : public Transform {
 public:
  explicit Resize(ResizeOptions options);
  const char* name() const override { return "resize"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  ResizeOptions options_;
};

// Mirrors left-right with probability p. Records flipped (0 or 1).
struct RandomHorizontalFlipOptions {
  double p = 0.5;
};
class RandomHorizontalFlip final : public Transform {
 public:
  explicit RandomHorizontalFlip(RandomHorizontalFlipOptions options = {});
  const char* name() const override { return "random_horizontal_flip"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  RandomHorizontalFlipOptions options_;
};

// Rotates counter-clockwise by an angle ~ U(degrees) with bilinear sampling, the corners filled with
// `fill` (geometric.h's rotate). Records angle (degrees).
struct RandomRotationOptions {
  std::array<double, 2> degrees = {-180.0, 180.0};
  std::vector<float> fill = {0.0f};
};
class RandomRotation final : public Transform {
 public:
  explicit RandomRotation(RandomRotationOptions options);
  const char* name() const override { return "random_rotation"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  RandomRotationOptions options_;
};

// Rotates by k·90° counter-clockwise, k uniform in {0, 1, 2, 3}, exactly (no resampling): the rotation
// group C4 of homomorphic SSL. Records quarter_turns (k) and angle (90·k).
class RandomQuarterTurn final : public Transform {
 public:
  const char* name() const override { return "random_quarter_turn"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;
};

// ---- photometric ----

// torchvision's ColorJitter applied with probability p (RandomApply): factors brightness ~ U[max(0, 1−b),
// 1+b], contrast and saturation likewise, hue shift ~ U[−h, h], applied in a random order. A 0 option
// leaves its adjustment out. Records applied, brightness, contrast, saturation, hue (identity values 1, 1,
// 1, 0 for what did not apply) and order: the adjustments as decimal digits in the order applied
// (0 brightness, 1 contrast, 2 saturation, 3 hue; 1302 = contrast, hue, brightness, saturation).
struct ColorJitterOptions {
  double brightness = 0.0, contrast = 0.0, saturation = 0.0, hue = 0.0;
  double p = 1.0;
};
class ColorJitter final : public Transform {
 public:
  explicit ColorJitter(ColorJitterOptions options);
  const char* name() const override { return "color_jitter"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  ColorJitterOptions options_;
};

// With probability p every channel becomes the luma (channel count kept). Records grayscale (0 or 1).
struct RandomGrayscaleOptions {
  double p = 0.1;
};
class RandomGrayscale final : public Transform {
 public:
  explicit RandomGrayscale(RandomGrayscaleOptions options = {});
  const char* name() const override { return "random_grayscale"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  RandomGrayscaleOptions options_;
};

// With probability p, a gaussian blur of kernel_size taps (odd) and σ ~ U(sigma). Records applied and
// sigma (0 when not applied).
struct GaussianBlurOptions {
  int64_t kernel_size = 0;
  std::array<double, 2> sigma = {0.1, 2.0};
  double p = 1.0;
};
class GaussianBlur final : public Transform {
 public:
  explicit GaussianBlur(GaussianBlurOptions options);
  const char* name() const override { return "gaussian_blur"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  GaussianBlurOptions options_;
};

// With probability p, x ← 1 − x for every x ≥ threshold. Records solarized (0 or 1).
struct RandomSolarizeOptions {
  double threshold = 0.5;
  double p = 0.5;
};
class RandomSolarize final : public Transform {
 public:
  explicit RandomSolarize(RandomSolarizeOptions options = {});
  const char* name() const override { return "random_solarize"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  RandomSolarizeOptions options_;
};

// (x − mean_c) / std_c; one value for every channel or one per channel. Usually last.
struct NormalizeOptions {
  std::vector<float> mean, std;
};
class Normalize final : public Transform {
 public:
  explicit Normalize(NormalizeOptions options);
  const char* name() const override { return "normalize"; }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  NormalizeOptions options_;
};

// ---- composition ----

// The transforms of one view, applied in order. Copies share the (immutable) transforms.
class Pipeline {
 public:
  Pipeline() = default;
  explicit Pipeline(std::vector<std::shared_ptr<const Transform>> steps);

  Pipeline& add(std::shared_ptr<const Transform> step);
  template <std::derived_from<Transform> T>
  Pipeline& add(T step) {
    return add(std::shared_ptr<const Transform>(std::make_shared<const T>(std::move(step))));
  }

  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const;
  Image operator()(Image image, RandomStream& random, DrawnParameters* drawn = nullptr) const;

  const std::vector<std::shared_ptr<const Transform>>& steps() const { return steps_; }
  std::string describe() const;  // "random_resized_crop -> random_horizontal_flip"

 private:
  std::vector<std::shared_ptr<const Transform>> steps_;
};

// ---- construction by name (recipes) ----

// Option name -> its numbers: a single number is a list of one ("p: 0.5" -> {0.5}, "scale: [0.2, 1]" ->
// {0.2, 1.0}). Sizes take one number (square) or two (height, width) — except resize's single number,
// which is the smaller edge, as torchvision's Resize(int). Ranges given as one number d read as [−d, d]
// for random_rotation's degrees and as [d, d] otherwise (a fixed gaussian_blur sigma).
using TransformOptions = std::map<std::string, std::vector<double>>;

// The transform `name` with `options`; an unknown name, an unknown option, a missing required option or
// a value of the wrong length or kind is refused with an Error naming it and what is accepted.
std::shared_ptr<const Transform> make_transform(const std::string& name, const TransformOptions& options = {});
// The names make_transform knows, sorted.
std::vector<std::string> transform_names();

struct TransformSpec {
  std::string name;
  TransformOptions options;
};
Pipeline make_pipeline(const std::vector<TransformSpec>& steps);

}  // namespace vireo::data
