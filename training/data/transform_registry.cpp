// make_transform: every transform by name, its options read from name -> numbers with strict checking,
// so a recipe typo is an error that names the transform, the option and what would have been accepted.
#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>

#include "training/data/transforms.h"

namespace vireo::data {
namespace {

// Reads one transform's options; each accessor names an accepted option, so finish() can refuse the
// rest and list what is accepted.
class OptionReader {
 public:
  OptionReader(const std::string& transform, const TransformOptions& options)
      : transform_(transform), options_(options) {}

  double number(const char* key, double fallback) {
    const std::vector<double>* values = find(key);
    if (!values) return fallback;
    expect_count(key, *values, 1, 1);
    return (*values)[0];
  }

  int64_t whole(const char* key, std::optional<int64_t> fallback) {
    const std::vector<double>* values = find(key);
    if (!values) return fallback ? *fallback : missing(key, int64_t{1});
    expect_count(key, *values, 1, 1);
    return to_whole(key, (*values)[0]);
  }

  // One whole number or two, as given (required).
  std::vector<int64_t> one_or_two_whole(const char* key) {
    const std::vector<double>* values = find(key);
    if (!values) return missing(key, std::vector<int64_t>{1});
    expect_count(key, *values, 1, 2);
    std::vector<int64_t> numbers;
    for (double value : *values) numbers.push_back(to_whole(key, value));
    return numbers;
  }

  // One number (a square) or two (height, width).
  Size size(const char* key) {
    const std::vector<int64_t> numbers = one_or_two_whole(key);
    return {numbers.front(), numbers.back()};
  }

  // Two numbers [low, high]; one number d reads as [−d, d] when `symmetric`, else as [d, d].
  std::array<double, 2> range(const char* key, std::array<double, 2> fallback, bool symmetric) {
    const std::vector<double>* values = find(key);
    if (!values) return fallback;
    expect_count(key, *values, 1, 2);
    if (values->size() == 2) return {(*values)[0], (*values)[1]};
    const double d = (*values)[0];
    return symmetric ? std::array<double, 2>{-d, d} : std::array<double, 2>{d, d};
  }

  std::vector<float> floats(const char* key, std::optional<std::vector<float>> fallback) {
    const std::vector<double>* values = find(key);
    if (!values) return fallback ? *fallback : missing(key, std::vector<float>{1.0f});
    expect_count(key, *values, 1, 64);
    return std::vector<float>(values->begin(), values->end());
  }

  // Refuses options nobody asked for, then required options that were not given.
  void finish() const {
    for (const auto& [key, values] : options_) {
      if (std::find(accepted_.begin(), accepted_.end(), key) != accepted_.end()) continue;
      std::ostringstream known;
      for (const std::string& name : accepted_) known << (known.tellp() > 0 ? ", " : "") << name;
      fail("make_transform: ", transform_, " has no option '", key, "' (its options: ",
           accepted_.empty() ? "none" : known.str(), ")");
    }
    if (!missing_.empty()) fail("make_transform: ", transform_, " needs option '", missing_.front(), "'");
  }

 private:
  const std::vector<double>* find(const char* key) {
    accepted_.emplace_back(key);
    auto it = options_.find(key);
    return it == options_.end() ? nullptr : &it->second;
  }

  // Notes a required option as absent (finish() refuses it) and returns a harmless stand-in meanwhile.
  template <class T>
  T missing(const char* key, T stand_in) {
    missing_.emplace_back(key);
    return stand_in;
  }

  void expect_count(const char* key, const std::vector<double>& values, size_t low, size_t high) const {
    if (values.size() >= low && values.size() <= high) return;
    fail("make_transform: ", transform_, ": option '", key, "' takes ",
         low == high ? std::to_string(low) : std::to_string(low) + " or " + std::to_string(high), " number",
         high == 1 ? "" : "s", ", got ", values.size());
  }

  int64_t to_whole(const char* key, double value) const {
    if (!(std::isfinite(value) && value == std::floor(value) && std::abs(value) < 1e15))
      fail("make_transform: ", transform_, ": option '", key, "' must be a whole number, got ", value);
    return static_cast<int64_t>(value);
  }

  std::string transform_;
  const TransformOptions& options_;
  std::vector<std::string> accepted_, missing_;
};

// Checks the options read (finish) before building, so an option typo is reported as such rather than
// as a value the transform's constructor refuses.
template <class T, class Options>
std::shared_ptr<const Transform> build(OptionReader& reader, Options options) {
  reader.finish();
  return std::make_shared<const T>(std::move(options));
}

using Factory = std::function<std::shared_ptr<const Transform>(OptionReader&)>;

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> factories = {
      {"random_resized_crop",
       [](OptionReader& o) {
         RandomResizedCropOptions defaults;
         return build<RandomResizedCrop>(o, RandomResizedCropOptions{
             .size = o.size("size"), .scale = o.range("scale", defaults.scale, false),
             .ratio = o.range("ratio", defaults.ratio, false)});
       }},
      {"random_crop",
       [](OptionReader& o) {
         return build<RandomCrop>(o, RandomCropOptions{
             .size = o.size("size"), .padding = o.whole("padding", 0), .fill = o.floats("fill", std::vector<float>{0.0f})});
       }},
      {"center_crop", [](OptionReader& o) { return build<CenterCrop>(o, CenterCropOptions{.size = o.size("size")}); }},
      {"resize",
       [](OptionReader& o) {
         // size: [s] -> the smaller edge becomes s (torchvision's Resize(int)); [h, w] -> exactly h × w.
         const std::vector<int64_t> size = o.one_or_two_whole("size");
         return build<Resize>(o, size.size() == 1 ? ResizeOptions{.size = {}, .smaller_edge = size[0]}
                                                  : ResizeOptions{.size = {size[0], size[1]}});
       }},
      {"random_horizontal_flip",
       [](OptionReader& o) {
         return build<RandomHorizontalFlip>(o, RandomHorizontalFlipOptions{.p = o.number("p", 0.5)});
       }},
      {"random_rotation",
       [](OptionReader& o) {
         RandomRotationOptions defaults;
         return build<RandomRotation>(o, RandomRotationOptions{
             .degrees = o.range("degrees", defaults.degrees, true), .fill = o.floats("fill", defaults.fill)});
       }},
      {"random_quarter_turn",
       [](OptionReader& o) -> std::shared_ptr<const Transform> {
         o.finish();
         return std::make_shared<const RandomQuarterTurn>();
       }},
      {"color_jitter",
       [](OptionReader& o) {
         return build<ColorJitter>(o, ColorJitterOptions{
             .brightness = o.number("brightness", 0.0), .contrast = o.number("contrast", 0.0),
             .saturation = o.number("saturation", 0.0), .hue = o.number("hue", 0.0), .p = o.number("p", 1.0)});
       }},
      {"random_grayscale",
       [](OptionReader& o) {
         return build<RandomGrayscale>(o, RandomGrayscaleOptions{.p = o.number("p", 0.1)});
       }},
      {"gaussian_blur",
       [](OptionReader& o) {
         GaussianBlurOptions defaults;
         return build<GaussianBlur>(o, GaussianBlurOptions{
             .kernel_size = o.whole("kernel_size", std::nullopt), .sigma = o.range("sigma", defaults.sigma, false),
             .p = o.number("p", 1.0)});
       }},
      {"random_solarize",
       [](OptionReader& o) {
         return build<RandomSolarize>(o, RandomSolarizeOptions{.threshold = o.number("threshold", 0.5), .p = o.number("p", 0.5)});
       }},
      {"normalize",
       [](OptionReader& o) {
         return build<Normalize>(o, NormalizeOptions{.mean = o.floats("mean", std::nullopt), .std = o.floats("std", std::nullopt)});
       }},
  };
  return factories;
}

}  // namespace

std::vector<std::string> transform_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

std::shared_ptr<const Transform> make_transform(const std::string& name, const TransformOptions& options) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::ostringstream known;
    for (const std::string& known_name : transform_names()) known << (known.tellp() > 0 ? ", " : "") << known_name;
    fail("make_transform: unknown transform '", name, "' (known: ", known.str(), ")");
  }
  OptionReader reader(name, options);
  return it->second(reader);
}

Pipeline make_pipeline(const std::vector<TransformSpec>& steps) {
  Pipeline pipeline;
  for (const TransformSpec& step : steps) pipeline.add(make_transform(step.name, step.options));
  return pipeline;
}

}  // namespace vireo::data
