// The random transforms: what each draws, in what order, and which image operation it then calls.
#include "training/data/transforms.h"

#include <cmath>
#include <sstream>

#include "training/data/geometric.h"
#include "training/data/photometric.h"

namespace vireo::data {
namespace {

void check_probability(const char* who, double p) {
  VIREO_CHECK(p >= 0.0 && p <= 1.0, who, ": p = ", p, " is not a probability in [0, 1]");
}

void check_size(const char* who, const Size& size) {
  VIREO_CHECK(size.height > 0 && size.width > 0, who, ": size ", size.height, "x", size.width,
              " must be positive");
}

// A [low, high] option: finite, ordered, and (when `positive`) above zero.
void check_range(const char* who, const char* what, const std::array<double, 2>& range, bool positive) {
  VIREO_CHECK(std::isfinite(range[0]) && std::isfinite(range[1]) && range[0] <= range[1], who, ": ", what, " [",
              range[0], ", ", range[1], "] must be two finite numbers, the smaller first");
  VIREO_CHECK(!positive || range[0] > 0.0, who, ": ", what, " [", range[0], ", ", range[1], "] must be positive");
}

// Python's round(): halves go to the even neighbour (what torchvision's int(round(x)) computes).
int64_t round_half_even(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

}  // namespace

// ---- DrawnParameters ----

void DrawnParameters::record(std::string_view transform, std::string_view key, double value) {
  entries_.push_back({std::string(transform), std::string(key), value});
}

bool DrawnParameters::contains(std::string_view transform, std::string_view key) const {
  for (const Entry& entry : entries_)
    if (entry.transform == transform && entry.key == key) return true;
  return false;
}

double DrawnParameters::get(std::string_view transform, std::string_view key) const {
  for (const Entry& entry : entries_)
    if (entry.transform == transform && entry.key == key) return entry.value;
  std::ostringstream recorded;
  for (const Entry& entry : entries_) recorded << (recorded.tellp() > 0 ? ", " : "") << entry.transform << "." << entry.key;
  fail("DrawnParameters: nothing recorded as ", transform, ".", key, " (recorded: ",
       entries_.empty() ? "nothing" : recorded.str(), ")");
}

// ---- geometric ----

RandomResizedCrop::RandomResizedCrop(RandomResizedCropOptions options) : options_(options) {
  check_size("RandomResizedCrop", options_.size);
  check_range("RandomResizedCrop", "scale", options_.scale, true);
  check_range("RandomResizedCrop", "ratio", options_.ratio, true);
}

RandomResizedCrop::Box RandomResizedCrop::sample_box(int64_t height, int64_t width, RandomStream& random) const {
  const double area = static_cast<double>(height * width);
  const double log_ratio_low = std::log(options_.ratio[0]), log_ratio_high = std::log(options_.ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * random.uniform(options_.scale[0], options_.scale[1]);
    const double aspect = std::exp(random.uniform(log_ratio_low, log_ratio_high));
    const int64_t w = round_half_even(std::sqrt(target_area * aspect));
    const int64_t h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = random.integer(0, height - h + 1);
      const int64_t left = random.integer(0, width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the whole image, narrowed to the nearest allowed aspect ratio, centred.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < options_.ratio[0]) {
    h = round_half_even(static_cast<double>(w) / options_.ratio[0]);
  } else if (in_ratio > options_.ratio[1]) {
    w = round_half_even(static_cast<double>(h) * options_.ratio[1]);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

void RandomResizedCrop::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const Box box = sample_box(image.height, image.width, random);
  drawn.record(name(), "top", static_cast<double>(box.top));
  drawn.record(name(), "left", static_cast<double>(box.left));
  drawn.record(name(), "height", static_cast<double>(box.height));
  drawn.record(name(), "width", static_cast<double>(box.width));
  drawn.record(name(), "scale", static_cast<double>(box.height * box.width) / static_cast<double>(image.height * image.width));
  drawn.record(name(), "ratio", static_cast<double>(box.width) / static_cast<double>(box.height));
  drawn.record(name(), "source_height", static_cast<double>(image.height));
  drawn.record(name(), "source_width", static_cast<double>(image.width));
  image = resized_crop(image, box.top, box.left, box.height, box.width, options_.size.height, options_.size.width);
}

RandomCrop::RandomCrop(RandomCropOptions options) : options_(std::move(options)) {
  check_size("RandomCrop", options_.size);
  VIREO_CHECK(options_.padding >= 0, "RandomCrop: padding ", options_.padding, " is negative");
  VIREO_CHECK(!options_.fill.empty(), "RandomCrop: fill is empty");
}

void RandomCrop::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  if (options_.padding > 0) image = pad(image, options_.padding, options_.fill);
  VIREO_CHECK(options_.size.height <= image.height && options_.size.width <= image.width, "RandomCrop: size ",
              options_.size.height, "x", options_.size.width, " does not fit the ", describe(image),
              " image (padded by ", options_.padding, ")");
  const int64_t top = random.integer(0, image.height - options_.size.height + 1);
  const int64_t left = random.integer(0, image.width - options_.size.width + 1);
  drawn.record(name(), "top", static_cast<double>(top));
  drawn.record(name(), "left", static_cast<double>(left));
  image = crop(image, top, left, options_.size.height, options_.size.width);
}

CenterCrop::CenterCrop(CenterCropOptions options) : options_(options) { check_size("CenterCrop", options_.size); }

void CenterCrop::apply(Image& image, RandomStream&, DrawnParameters&) const {
  const Size& size = options_.size;
  VIREO_CHECK(size.height <= image.height && size.width <= image.width, "CenterCrop: size ", size.height, "x",
              size.width, " does not fit the ", describe(image), " image");
  const int64_t top = round_half_even(static_cast<double>(image.height - size.height) / 2.0);
  const int64_t left = round_half_even(static_cast<double>(image.width - size.width) / 2.0);
  image = crop(image, top, left, size.height, size.width);
}

Resize::Resize(ResizeOptions options) : options_(options) {
  VIREO_CHECK((options_.smaller_edge > 0) != (options_.size.height > 0 && options_.size.width > 0),
              "Resize: give either a positive size (", options_.size.height, "x", options_.size.width,
              ") or a positive smaller_edge (", options_.smaller_edge, "), not both or neither");
}

void Resize::apply(Image& image, RandomStream&, DrawnParameters&) const {
  int64_t height = options_.size.height, width = options_.size.width;
  if (options_.smaller_edge > 0) {
    // torchvision: the smaller edge becomes s, the longer int(s · long / short).
    const int64_t s = options_.smaller_edge;
    if (image.height <= image.width) {
      height = s;
      width = static_cast<int64_t>(static_cast<double>(s) * static_cast<double>(image.width) / static_cast<double>(image.height));
    } else {
      width = s;
      height = static_cast<int64_t>(static_cast<double>(s) * static_cast<double>(image.height) / static_cast<double>(image.width));
    }
  }
  if (height != image.height || width != image.width) image = resize(image, height, width);
}

RandomHorizontalFlip::RandomHorizontalFlip(RandomHorizontalFlipOptions options) : options_(options) {
  check_probability("RandomHorizontalFlip", options_.p);
}

void RandomHorizontalFlip::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const bool flipped = random.bernoulli(options_.p);
  drawn.record(name(), "flipped", flipped ? 1.0 : 0.0);
  if (flipped) image = horizontal_flip(image);
}

RandomRotation::RandomRotation(RandomRotationOptions options) : options_(std::move(options)) {
  check_range("RandomRotation", "degrees", options_.degrees, false);
  VIREO_CHECK(!options_.fill.empty(), "RandomRotation: fill is empty");
}

void RandomRotation::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const double angle = random.uniform(options_.degrees[0], options_.degrees[1]);
  drawn.record(name(), "angle", angle);
  image = rotate(image, angle, options_.fill);
}

void RandomQuarterTurn::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const int64_t turns = random.integer(0, 4);
  drawn.record(name(), "quarter_turns", static_cast<double>(turns));
  drawn.record(name(), "angle", 90.0 * static_cast<double>(turns));
  image = quarter_turn(image, turns);
}

// ---- photometric ----

ColorJitter::ColorJitter(ColorJitterOptions options) : options_(options) {
  VIREO_CHECK(options_.brightness >= 0 && options_.contrast >= 0 && options_.saturation >= 0,
              "ColorJitter: brightness ", options_.brightness, ", contrast ", options_.contrast, " and saturation ",
              options_.saturation, " must be non-negative");
  VIREO_CHECK(options_.hue >= 0.0 && options_.hue <= 0.5, "ColorJitter: hue ", options_.hue, " is outside [0, 0.5]");
  check_probability("ColorJitter", options_.p);
}

void ColorJitter::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const bool applied = random.bernoulli(options_.p);
  double brightness = 1.0, contrast = 1.0, saturation = 1.0, hue = 0.0;
  int order[4] = {0, 1, 2, 3};
  if (applied) {
    // torchvision's get_params: the order (torch.randperm(4)) first, then the factors in a fixed order.
    for (int i = 3; i > 0; --i) std::swap(order[i], order[random.integer(0, i + 1)]);
    auto factor = [&](double amount) { return random.uniform(std::max(0.0, 1.0 - amount), 1.0 + amount); };
    if (options_.brightness > 0) brightness = factor(options_.brightness);
    if (options_.contrast > 0) contrast = factor(options_.contrast);
    if (options_.saturation > 0) saturation = factor(options_.saturation);
    if (options_.hue > 0) hue = random.uniform(-options_.hue, options_.hue);
    for (int adjustment : order) {
      if (adjustment == 0 && options_.brightness > 0) adjust_brightness(image, brightness);
      if (adjustment == 1 && options_.contrast > 0) adjust_contrast(image, contrast);
      if (adjustment == 2 && options_.saturation > 0) adjust_saturation(image, saturation);
      if (adjustment == 3 && options_.hue > 0) adjust_hue(image, hue);
    }
  }
  drawn.record(name(), "applied", applied ? 1.0 : 0.0);
  drawn.record(name(), "brightness", brightness);
  drawn.record(name(), "contrast", contrast);
  drawn.record(name(), "saturation", saturation);
  drawn.record(name(), "hue", hue);
  drawn.record(name(), "order", order[0] * 1000 + order[1] * 100 + order[2] * 10 + order[3]);
}

RandomGrayscale::RandomGrayscale(RandomGrayscaleOptions options) : options_(options) {
  check_probability("RandomGrayscale", options_.p);
}

void RandomGrayscale::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const bool gray = random.bernoulli(options_.p);
  drawn.record(name(), "grayscale", gray ? 1.0 : 0.0);
  if (gray) grayscale_keep_channels(image);
}

GaussianBlur::GaussianBlur(GaussianBlurOptions options) : options_(options) {
  VIREO_CHECK(options_.kernel_size > 0 && options_.kernel_size % 2 == 1, "GaussianBlur: kernel_size ",
              options_.kernel_size, " must be odd and positive");
  check_range("GaussianBlur", "sigma", options_.sigma, true);
  check_probability("GaussianBlur", options_.p);
}

void GaussianBlur::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const bool applied = random.bernoulli(options_.p);
  const double sigma = applied ? random.uniform(options_.sigma[0], options_.sigma[1]) : 0.0;
  drawn.record(name(), "applied", applied ? 1.0 : 0.0);
  drawn.record(name(), "sigma", sigma);
  if (applied) gaussian_blur(image, options_.kernel_size, sigma);
}

RandomSolarize::RandomSolarize(RandomSolarizeOptions options) : options_(options) {
  check_probability("RandomSolarize", options_.p);
}

void RandomSolarize::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  const bool solarized = random.bernoulli(options_.p);
  drawn.record(name(), "solarized", solarized ? 1.0 : 0.0);
  if (solarized) solarize(image, options_.threshold);
}

Normalize::Normalize(NormalizeOptions options) : options_(std::move(options)) {
  VIREO_CHECK(!options_.mean.empty() && !options_.std.empty(), "Normalize: mean and std must be given");
  for (size_t c = 0; c < options_.std.size(); ++c)
    VIREO_CHECK(options_.std[c] > 0.0f, "Normalize: std[", c, "] = ", options_.std[c], " must be positive");
}

void Normalize::apply(Image& image, RandomStream&, DrawnParameters&) const {
  normalize(image, options_.mean, options_.std);
}

// ---- Pipeline ----

Pipeline::Pipeline(std::vector<std::shared_ptr<const Transform>> steps) : steps_(std::move(steps)) {
  for (size_t i = 0; i < steps_.size(); ++i) VIREO_CHECK(steps_[i] != nullptr, "Pipeline: step ", i, " is null");
}

Pipeline& Pipeline::add(std::shared_ptr<const Transform> step) {
  VIREO_CHECK(step != nullptr, "Pipeline::add: null transform");
  steps_.push_back(std::move(step));
  return *this;
}

void Pipeline::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  for (const auto& step : steps_) step->apply(image, random, drawn);
}

Image Pipeline::operator()(Image image, RandomStream& random, DrawnParameters* drawn) const {
  DrawnParameters ignored;
  apply(image, random, drawn ? *drawn : ignored);
  return image;
}

std::string Pipeline::describe() const {
  std::string text;
  for (const auto& step : steps_) text += (text.empty() ? "" : " -> ") + std::string(step->name());
  return text.empty() ? "(identity)" : text;
}

}  // namespace vireo::data
