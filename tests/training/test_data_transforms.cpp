// Image operations and random transforms on tiny images against values worked out by hand (or by the
// formula, written out here), the parameters each transform reports, and construction by name.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "training/data/geometric.h"
#include "training/data/photometric.h"
#include "training/data/transforms.h"

using namespace vireo;
using namespace vireo::data;
using vireo::testing::check_error;

namespace {

// An image from rows of interleaved values.
Image make_image(int64_t height, int64_t width, int64_t channels, const std::vector<float>& values) {
  Image image(height, width, channels);
  REQUIRE(values.size() == image.pixels.size());
  image.pixels = values;
  return image;
}

// Values in [0, 1) that differ everywhere, from a fixed stream.
Image random_image(int64_t height, int64_t width, int64_t channels, uint64_t seed) {
  Image image(height, width, channels);
  RandomStream random(seed, 0, 0, 0);
  for (float& v : image.pixels) v = static_cast<float>(random.uniform());
  return image;
}

void check_same(const Image& actual, const Image& expected, double tolerance = 0.0) {
  REQUIRE(actual.height == expected.height);
  REQUIRE(actual.width == expected.width);
  REQUIRE(actual.channels == expected.channels);
  for (size_t i = 0; i < actual.pixels.size(); ++i) {
    INFO("value ", i);
    if (tolerance == 0.0) {
      REQUIRE(actual.pixels[i] == expected.pixels[i]);
    } else {
      REQUIRE(std::abs(actual.pixels[i] - expected.pixels[i]) <= tolerance);
    }
  }
}

}  // namespace

TEST_CASE("horizontal flip and the four quarter turns move pixels exactly") {
  // 1 2 3
  // 4 5 6
  const Image image = make_image(2, 3, 1, {1, 2, 3, 4, 5, 6});
  check_same(horizontal_flip(image), make_image(2, 3, 1, {3, 2, 1, 6, 5, 4}));
  // Counter-clockwise: the top-right corner goes to the top-left.
  check_same(quarter_turn(image, 1), make_image(3, 2, 1, {3, 6, 2, 5, 1, 4}));
  check_same(quarter_turn(image, 2), make_image(2, 3, 1, {6, 5, 4, 3, 2, 1}));
  check_same(quarter_turn(image, 3), make_image(3, 2, 1, {4, 1, 5, 2, 6, 3}));
  check_same(quarter_turn(image, -1), quarter_turn(image, 3));
  check_same(quarter_turn(image, 4), image);
  check_same(quarter_turn(quarter_turn(image, 1), 1), quarter_turn(image, 2));
  // Channels travel together.
  const Image rgb = make_image(1, 2, 3, {1, 2, 3, 4, 5, 6});
  check_same(horizontal_flip(rgb), make_image(1, 2, 3, {4, 5, 6, 1, 2, 3}));
  check_same(quarter_turn(rgb, 1), make_image(2, 1, 3, {4, 5, 6, 1, 2, 3}));
}

TEST_CASE("rotation by 0 is the identity and by multiples of 90 degrees matches the quarter turns") {
  for (int64_t side : {5, 6}) {
    const Image image = random_image(side, side, 3, static_cast<uint64_t>(side));
    check_same(rotate(image, 0.0, {0.5f}), image);
    check_same(rotate(image, 90.0, {0.5f}), quarter_turn(image, 1), 1e-5);
    check_same(rotate(image, 180.0, {0.5f}), quarter_turn(image, 2), 1e-5);
    check_same(rotate(image, 270.0, {0.5f}), quarter_turn(image, 3), 1e-5);
    check_same(rotate(image, -90.0, {0.5f}), quarter_turn(image, 3), 1e-5);
  }
  // A 4 × 6 image keeps its size: with centre (x, y) = (2.5, 1.5), output (y, x) reads input
  // (x − 1, 4 − y) — the quarter turn away from the borders — and the fill where that falls outside.
  const Image wide = random_image(4, 6, 1, 11);
  const Image turned = rotate(wide, 90.0, {0.25f});
  for (int64_t y = 0; y < 4; ++y)
    for (int64_t x = 0; x < 6; ++x) {
      const int64_t source_y = x - 1, source_x = 4 - y;
      const bool inside = source_y >= 0 && source_y < 4 && source_x >= 0 && source_x < 6;
      INFO("y ", y, " x ", x);
      CHECK(turned.at(y, x, 0) == doctest::Approx(inside ? wide.at(source_y, source_x, 0) : 0.25f).epsilon(1e-5));
    }
  // 45°: the centre stays, the corners come from outside (fill), the midpoint of the top edge of a
  // 9 × 9 image reads the point (4 + 4 sin 45°, 4 − 4 cos 45°) interpolated bilinearly.
  const Image square = random_image(9, 9, 1, 3);
  const Image diagonal = rotate(square, 45.0, {0.75f});
  CHECK(diagonal.at(4, 4, 0) == doctest::Approx(square.at(4, 4, 0)).epsilon(1e-6));
  CHECK(diagonal.at(0, 0, 0) == doctest::Approx(0.75).epsilon(1e-6));
  CHECK(diagonal.at(8, 8, 0) == doctest::Approx(0.75).epsilon(1e-6));
  const double r = 4.0 * std::numbers::sqrt2 / 2.0;
  const double sx = 4.0 - (-4.0) * (std::numbers::sqrt2 / 2.0), sy = 4.0 + (-4.0) * (std::numbers::sqrt2 / 2.0);
  REQUIRE(sx == doctest::Approx(4.0 + r));
  const int64_t x0 = static_cast<int64_t>(std::floor(sx)), y0 = static_cast<int64_t>(std::floor(sy));
  const double fx = sx - static_cast<double>(x0), fy = sy - static_cast<double>(y0);
  const double expected = (1 - fy) * ((1 - fx) * square.at(y0, x0, 0) + fx * square.at(y0, x0 + 1, 0)) +
                          fy * ((1 - fx) * square.at(y0 + 1, x0, 0) + fx * square.at(y0 + 1, x0 + 1, 0));
  CHECK(diagonal.at(0, 4, 0) == doctest::Approx(expected).epsilon(1e-5));
}

TEST_CASE("resize shrinks with the stretched triangle and enlarges bilinearly") {
  // Shrinking [a b c d] by 2: output 0 is centred at 1.0, the triangle has half-width 2, so the pixels at
  // centres 0.5, 1.5, 2.5 weigh 0.75, 0.75, 0.25 (pixel −1 lies outside), normalized by 1.75.
  const float a = 0.1f, b = 0.4f, c = 0.8f, d = 0.2f;
  const Image row = make_image(1, 4, 1, {a, b, c, d});
  check_same(resize(row, 1, 2),
             make_image(1, 2, 1, {(0.75f * a + 0.75f * b + 0.25f * c) / 1.75f, (0.25f * b + 0.75f * c + 0.75f * d) / 1.75f}), 1e-6);
  // Enlarging [a b] to 4: sampling points −0.25, 0.25, 0.75, 1.25 in input pixels, clamped at the edges.
  check_same(resize(make_image(1, 2, 1, {a, b}), 1, 4), make_image(1, 4, 1, {a, 0.75f * a + 0.25f * b, 0.25f * a + 0.75f * b, b}), 1e-6);
  // The same along columns, and a constant stays constant whatever the sizes.
  check_same(resize(make_image(2, 1, 1, {a, b}), 4, 1), make_image(4, 1, 1, {a, 0.75f * a + 0.25f * b, 0.25f * a + 0.75f * b, b}), 1e-6);
  const Image constant(7, 5, 3, 0.3f);
  check_same(resize(constant, 3, 11), Image(3, 11, 3, 0.3f), 1e-6);
  // A region of the output size is a plain crop.
  const Image image = random_image(6, 6, 2, 1);
  check_same(resized_crop(image, 1, 2, 3, 4, 3, 4), crop(image, 1, 2, 3, 4));
  check_error([&] { crop(image, 4, 0, 3, 3); }, {"crop", "top 4", "6x6x2"});
}

TEST_CASE("solarize grayscale and normalize follow their formulas") {
  Image values = make_image(1, 4, 1, {0.1f, 0.5f, 0.7f, 1.0f});
  solarize(values, 0.5);
  check_same(values, make_image(1, 4, 1, {0.1f, 0.5f, 1.0f - 0.7f, 0.0f}));

  Image rgb = make_image(1, 3, 3, {1, 0, 0, 0, 1, 0, 0.2f, 0.4f, 0.6f});
  const float luma = 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f;
  check_same(to_grayscale(rgb), make_image(1, 3, 1, {0.299f, 0.587f, luma}), 1e-7);
  grayscale_keep_channels(rgb);
  check_same(rgb, make_image(1, 3, 3, {0.299f, 0.299f, 0.299f, 0.587f, 0.587f, 0.587f, luma, luma, luma}), 1e-7);
  Image gray = make_image(1, 2, 1, {0.3f, 0.6f});
  grayscale_keep_channels(gray);
  check_same(gray, make_image(1, 2, 1, {0.3f, 0.6f}));

  Image two = make_image(1, 2, 2, {1.0f, 0.5f, 0.0f, 0.25f});
  normalize(two, {0.5f, 0.25f}, {0.5f, 0.25f});
  check_same(two, make_image(1, 2, 2, {1.0f, 1.0f, -1.0f, 0.0f}), 1e-7);
  check_error([&] { normalize(two, {0.5f, 0.5f, 0.5f}, {1.0f}); }, {"normalize", "mean has 3 values", "2 channels"});
}

TEST_CASE("colour adjustments are the identity at factor 1 and blend as torchvision does") {
  const Image image = random_image(4, 5, 3, 7);
  for (auto adjust : {adjust_brightness, adjust_contrast, adjust_saturation}) {
    Image copy = image;
    adjust(copy, 1.0);
    check_same(copy, image);
  }
  Image hue = image;
  adjust_hue(hue, 0.0);
  check_same(hue, image, 2e-6);

  Image half = image;
  adjust_brightness(half, 0.5);
  for (size_t i = 0; i < half.pixels.size(); ++i) CHECK(half.pixels[i] == doctest::Approx(0.5 * image.pixels[i]));
  // Contrast 0 gives every value the mean luma; saturation 0 gives each pixel its own luma.
  double mean_luma = 0.0;
  for (size_t i = 0; i < image.pixels.size(); i += 3)
    mean_luma += 0.299 * image.pixels[i] + 0.587 * image.pixels[i + 1] + 0.114 * image.pixels[i + 2];
  mean_luma /= 20.0;
  Image flat = image;
  adjust_contrast(flat, 0.0);
  for (float v : flat.pixels) CHECK(v == doctest::Approx(mean_luma).epsilon(1e-6));
  Image desaturated = image;
  adjust_saturation(desaturated, 0.0);
  Image luma = image;
  grayscale_keep_channels(luma);
  check_same(desaturated, luma, 1e-6);
  // One channel: contrast 0.5 around the mean 0.5 of {0, 1}; saturation and hue leave it alone.
  Image mono = make_image(1, 2, 1, {0.0f, 1.0f});
  adjust_contrast(mono, 0.5);
  check_same(mono, make_image(1, 2, 1, {0.25f, 0.75f}));
  adjust_saturation(mono, 0.0);
  adjust_hue(mono, 0.3);
  check_same(mono, make_image(1, 2, 1, {0.25f, 0.75f}));
  // Hue: red shifted by a third of a turn is green, by half a turn cyan.
  Image red = make_image(1, 1, 3, {1, 0, 0});
  adjust_hue(red, 1.0 / 3.0);
  check_same(red, make_image(1, 1, 3, {0, 1, 0}), 1e-6);
  Image cyan = make_image(1, 1, 3, {1, 0, 0});
  adjust_hue(cyan, 0.5);
  check_same(cyan, make_image(1, 1, 3, {0, 1, 1}), 1e-6);
  // Brightness clamps at 1.
  Image bright = make_image(1, 1, 1, {0.8f});
  adjust_brightness(bright, 2.0);
  CHECK(bright.pixels[0] == 1.0f);
}

TEST_CASE("the gaussian kernel sums to one and blurs with reflected borders") {
  const std::vector<float> kernel = gaussian_kernel(5, 1.0);
  double total = 0.0;
  const double norm = 1.0 + 2.0 * std::exp(-0.5) + 2.0 * std::exp(-2.0);
  for (int i = 0; i < 5; ++i) {
    const double x = i - 2;
    CHECK(kernel[static_cast<size_t>(i)] == doctest::Approx(std::exp(-0.5 * x * x) / norm).epsilon(1e-6));
    total += kernel[static_cast<size_t>(i)];
  }
  CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
  for (int64_t size : {3, 9, 23}) {
    double sum = 0.0;
    for (float w : gaussian_kernel(size, 0.7)) sum += w;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
  }
  // An impulse in the middle of 11 × 11 spreads as the outer product of the kernel with itself.
  Image impulse(11, 11, 1, 0.0f);
  impulse.at(5, 5, 0) = 1.0f;
  gaussian_blur(impulse, 5, 1.0);
  for (int64_t y = 0; y < 11; ++y)
    for (int64_t x = 0; x < 11; ++x) {
      const bool near = std::abs(y - 5) <= 2 && std::abs(x - 5) <= 2;
      const double expected = near ? kernel[static_cast<size_t>(y - 3)] * kernel[static_cast<size_t>(x - 3)] : 0.0;
      CHECK(impulse.at(y, x, 0) == doctest::Approx(expected).epsilon(1e-6));
    }
  // Reflection at the border: [a b c] with 3 taps reads b a b at the left edge and b c b at the right.
  const std::vector<float> k3 = gaussian_kernel(3, 0.8);
  Image row = make_image(1, 3, 1, {0.2f, 0.5f, 0.9f});
  gaussian_blur(row, 3, 0.8);
  CHECK(row.pixels[0] == doctest::Approx(k3[0] * 0.5f + k3[1] * 0.2f + k3[2] * 0.5f).epsilon(1e-6));
  CHECK(row.pixels[2] == doctest::Approx(k3[0] * 0.5f + k3[1] * 0.9f + k3[2] * 0.5f).epsilon(1e-6));
  Image constant(6, 4, 3, 0.4f);
  gaussian_blur(constant, 7, 2.0);
  check_same(constant, Image(6, 4, 3, 0.4f), 1e-6);
  check_error([] { gaussian_kernel(4, 1.0); }, {"gaussian_kernel", "size 4", "odd"});
}

TEST_CASE("random resized crop draws torchvision's box and reports it") {
  const RandomResizedCrop transform({.size = {8, 8}});
  // torchvision's get_params, written out again: 10 tries, then the centre fallback.
  auto expected_box = [](int64_t height, int64_t width, RandomStream& random) {
    const double area = static_cast<double>(height * width);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target = area * (0.08 + (1.0 - 0.08) * random.uniform());
      const double log_low = std::log(3.0 / 4.0), log_high = std::log(4.0 / 3.0);
      const double aspect = std::exp(log_low + (log_high - log_low) * random.uniform());
      const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
      const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
      if (w > 0 && w <= width && h > 0 && h <= height) {
        const int64_t top = random.integer(0, height - h + 1);
        return RandomResizedCrop::Box{top, random.integer(0, width - w + 1), h, w};
      }
    }
    return RandomResizedCrop::Box{-1, -1, -1, -1};
  };
  for (uint64_t sample = 0; sample < 200; ++sample) {
    RandomStream ours(9, 1, sample, 0), theirs(9, 1, sample, 0);
    const RandomResizedCrop::Box box = transform.sample_box(20, 30, ours);
    const RandomResizedCrop::Box expected = expected_box(20, 30, theirs);
    REQUIRE(box.top == expected.top);
    REQUIRE(box.left == expected.left);
    REQUIRE(box.height == expected.height);
    REQUIRE(box.width == expected.width);
    REQUIRE(box.top + box.height <= 20);
    REQUIRE(box.left + box.width <= 30);
  }
  // Fallbacks: an impossible scale takes the whole image narrowed to the ratio bounds, centred.
  RandomStream random(1, 0, 0, 0);
  const RandomResizedCrop too_big({.size = {8, 8}, .scale = {2.0, 3.0}});
  const RandomResizedCrop::Box wide = too_big.sample_box(20, 30, random);  // 30/20 > 4/3: width round(20·4/3)
  CHECK(wide.height == 20);
  CHECK(wide.width == 27);
  CHECK(wide.top == 0);
  CHECK(wide.left == 1);
  const RandomResizedCrop tall({.size = {8, 8}, .scale = {2.0, 3.0}, .ratio = {2.0, 3.0}});
  const RandomResizedCrop::Box narrowed = tall.sample_box(20, 20, random);  // 1 < 2: height round(20/2)
  CHECK(narrowed.height == 10);
  CHECK(narrowed.width == 20);
  CHECK(narrowed.top == 5);
  CHECK(narrowed.left == 0);

  // The reported box is the one cut out and resized.
  const Image image = random_image(20, 30, 3, 4);
  for (uint64_t sample = 0; sample < 5; ++sample) {
    RandomStream stream(2, 0, sample, 1);
    DrawnParameters drawn;
    Image out = image;
    transform.apply(out, stream, drawn);
    const int64_t top = static_cast<int64_t>(drawn.get("random_resized_crop", "top"));
    const int64_t left = static_cast<int64_t>(drawn.get("random_resized_crop", "left"));
    const int64_t height = static_cast<int64_t>(drawn.get("random_resized_crop", "height"));
    const int64_t width = static_cast<int64_t>(drawn.get("random_resized_crop", "width"));
    CHECK(drawn.get("random_resized_crop", "scale") == doctest::Approx(static_cast<double>(height * width) / 600.0));
    CHECK(drawn.get("random_resized_crop", "ratio") == doctest::Approx(static_cast<double>(width) / static_cast<double>(height)));
    CHECK(drawn.get("random_resized_crop", "source_width") == 30.0);
    check_same(out, resized_crop(image, top, left, height, width, 8, 8));
  }
}

TEST_CASE("random crop pads then crops and center crop rounds as Python") {
  const Image image = random_image(4, 4, 2, 5);
  const RandomCrop transform({.size = {4, 4}, .padding = 1, .fill = {0.5f}});
  bool saw_offset = false;
  for (uint64_t sample = 0; sample < 20; ++sample) {
    RandomStream random(0, 0, sample, 0);
    DrawnParameters drawn;
    Image out = image;
    transform.apply(out, random, drawn);
    const int64_t top = static_cast<int64_t>(drawn.get("random_crop", "top"));
    const int64_t left = static_cast<int64_t>(drawn.get("random_crop", "left"));
    REQUIRE(top >= 0);
    REQUIRE(top <= 2);
    REQUIRE(left >= 0);
    REQUIRE(left <= 2);
    saw_offset = saw_offset || top != 1 || left != 1;
    check_same(out, crop(pad(image, 1, {0.5f}), top, left, 4, 4));
  }
  CHECK(saw_offset);
  const Image padded = pad(image, 1, {0.5f});
  CHECK(padded.at(0, 0, 1) == 0.5f);
  CHECK(padded.at(1, 1, 1) == image.at(0, 0, 1));
  // (7 − 2)/2 = 2.5 rounds to 2 and (6 − 3)/2 = 1.5 to 2: halves go to the even neighbour.
  RandomStream unused(0, 0, 0, 0);
  DrawnParameters nothing;
  Image seven = random_image(7, 6, 1, 6);
  Image centred = seven;
  CenterCrop({.size = {2, 3}}).apply(centred, unused, nothing);
  check_same(centred, crop(seven, 2, 2, 2, 3));
  CHECK(nothing.entries().empty());
}

TEST_CASE("flip quarter turn rotation and solarize report what they drew") {
  const Image image = random_image(6, 6, 3, 8);
  Pipeline pipeline;
  pipeline.add(RandomHorizontalFlip()).add(RandomQuarterTurn()).add(RandomRotation({.degrees = {-30, 30}, .fill = {0.0f}}));
  pipeline.add(RandomSolarize({.threshold = 0.6, .p = 0.5}));
  CHECK(pipeline.describe() == "random_horizontal_flip -> random_quarter_turn -> random_rotation -> random_solarize");
  int flips = 0, solarized = 0;
  std::vector<int> turns(4, 0);
  for (uint64_t sample = 0; sample < 200; ++sample) {
    RandomStream random(3, 0, sample, 0);
    DrawnParameters drawn;
    const Image out = pipeline(image, random, &drawn);
    // Replaying the recorded parameters through the plain operations gives the same image.
    Image replay = image;
    if (drawn.get("random_horizontal_flip", "flipped") == 1.0) replay = horizontal_flip(replay), ++flips;
    const int64_t k = static_cast<int64_t>(drawn.get("random_quarter_turn", "quarter_turns"));
    REQUIRE(k >= 0);
    REQUIRE(k < 4);
    CHECK(drawn.get("random_quarter_turn", "angle") == 90.0 * static_cast<double>(k));
    ++turns[static_cast<size_t>(k)];
    replay = quarter_turn(replay, k);
    const double angle = drawn.get("random_rotation", "angle");
    REQUIRE(std::abs(angle) <= 30.0);
    replay = rotate(replay, angle, {0.0f});
    if (drawn.get("random_solarize", "solarized") == 1.0) solarize(replay, 0.6), ++solarized;
    check_same(out, replay);
    // The same stream gives the same image.
    RandomStream again(3, 0, sample, 0);
    check_same(pipeline(image, again), out);
  }
  // Fair coins and a fair die over 200 draws (each bound is beyond five standard deviations).
  CHECK(flips > 65);
  CHECK(flips < 135);
  CHECK(solarized > 65);
  CHECK(solarized < 135);
  for (int count : turns) CHECK(count > 20);
  DrawnParameters drawn;
  drawn.record("random_crop", "top", 1);
  check_error([&] { drawn.get("random_crop", "bottom"); }, {"DrawnParameters", "random_crop.bottom", "random_crop.top"});
}

TEST_CASE("colour jitter grayscale and blur report factors that replay to the same image") {
  const Image image = random_image(5, 5, 3, 9);
  const ColorJitter jitter({.brightness = 0.4, .contrast = 0.4, .saturation = 0.2, .hue = 0.1, .p = 0.8});
  const RandomGrayscale grayscale({.p = 0.5});
  const GaussianBlur blur({.kernel_size = 3, .sigma = {0.1, 2.0}, .p = 0.5});
  int applied = 0;
  for (uint64_t sample = 0; sample < 100; ++sample) {
    RandomStream random(4, 2, sample, 1);
    DrawnParameters drawn;
    Image out = image;
    jitter.apply(out, random, drawn);
    grayscale.apply(out, random, drawn);
    blur.apply(out, random, drawn);
    Image replay = image;
    const double b = drawn.get("color_jitter", "brightness"), c = drawn.get("color_jitter", "contrast");
    const double s = drawn.get("color_jitter", "saturation"), h = drawn.get("color_jitter", "hue");
    if (drawn.get("color_jitter", "applied") == 1.0) {
      ++applied;
      REQUIRE(b >= 0.6);
      REQUIRE(b <= 1.4);
      REQUIRE(s >= 0.8);
      REQUIRE(s <= 1.2);
      REQUIRE(std::abs(h) <= 0.1);
      // order: four distinct digits naming the adjustments in the order applied.
      int order = static_cast<int>(drawn.get("color_jitter", "order"));
      int digits[4];
      for (int i = 3; i >= 0; --i) digits[i] = order % 10, order /= 10;
      int seen = 0;
      for (int adjustment : digits) {
        seen |= 1 << adjustment;
        if (adjustment == 0) adjust_brightness(replay, b);
        if (adjustment == 1) adjust_contrast(replay, c);
        if (adjustment == 2) adjust_saturation(replay, s);
        if (adjustment == 3) adjust_hue(replay, h);
      }
      REQUIRE(seen == 15);
    } else {
      CHECK(b == 1.0);
      CHECK(c == 1.0);
      CHECK(s == 1.0);
      CHECK(h == 0.0);
    }
    if (drawn.get("random_grayscale", "grayscale") == 1.0) grayscale_keep_channels(replay);
    const double sigma = drawn.get("gaussian_blur", "sigma");
    if (drawn.get("gaussian_blur", "applied") == 1.0) {
      REQUIRE(sigma >= 0.1);
      REQUIRE(sigma <= 2.0);
      gaussian_blur(replay, 3, sigma);
    } else {
      CHECK(sigma == 0.0);
    }
    check_same(out, replay);
  }
  CHECK(applied > 60);
  CHECK(applied < 97);
}

TEST_CASE("make_transform builds every transform by name and refuses unknown names and options") {
  const std::vector<TransformSpec> all = {
      {"random_resized_crop", {{"size", {6}}, {"scale", {0.2, 1.0}}, {"ratio", {0.5, 2.0}}}},
      {"random_quarter_turn", {}},
      {"random_crop", {{"size", {6, 6}}, {"padding", {2}}, {"fill", {0.1, 0.2, 0.3}}}},
      {"center_crop", {{"size", {5}}}},
      {"resize", {{"size", {7, 9}}}},
      {"resize", {{"size", {6}}}},
      {"random_horizontal_flip", {{"p", {0.5}}}},
      {"random_rotation", {{"degrees", {15}}, {"fill", {0.5}}}},
      {"color_jitter", {{"brightness", {0.4}}, {"contrast", {0.4}}, {"saturation", {0.4}}, {"hue", {0.1}}, {"p", {0.8}}}},
      {"random_grayscale", {{"p", {0.2}}}},
      {"gaussian_blur", {{"kernel_size", {3}}, {"sigma", {0.1, 2.0}}}},
      {"random_solarize", {{"threshold", {0.5}}, {"p", {0.2}}}},
      {"normalize", {{"mean", {0.5}}, {"std", {0.25}}}},
  };
  std::vector<std::string> used;
  for (const TransformSpec& spec : all) used.push_back(spec.name);
  for (const std::string& name : transform_names()) CHECK(std::find(used.begin(), used.end(), name) != used.end());
  const Pipeline pipeline = make_pipeline(all);
  REQUIRE(pipeline.steps().size() == all.size());
  // resize [6] makes the smaller edge 6: 7 × 9 -> 6 × 7 (int(6 · 9 / 7) = 7).
  RandomStream random(0, 0, 0, 0);
  DrawnParameters drawn;
  const Image out = pipeline(random_image(10, 12, 3, 10), random, &drawn);
  CHECK(out.height == 6);
  CHECK(out.width == 7);
  CHECK(drawn.contains("random_crop", "top"));
  CHECK(drawn.contains("random_rotation", "angle"));
  CHECK(!drawn.contains("normalize", "mean"));
  // Wrong names and options, each named in the error.
  check_error([] { make_transform("random_crap"); }, {"make_transform", "unknown transform 'random_crap'", "random_resized_crop"});
  check_error([] { make_transform("random_resized_crop", {{"size", {8}}, {"scal", {0.2, 1}}}); },
              {"random_resized_crop has no option 'scal'", "size, scale, ratio"});
  check_error([] { make_transform("random_resized_crop", {{"scale", {0.2, 1}}}); }, {"random_resized_crop needs option 'size'"});
  check_error([] { make_transform("random_resized_crop", {{"size", {8, 8, 8}}}); }, {"option 'size' takes 1 or 2 numbers, got 3"});
  check_error([] { make_transform("center_crop", {{"size", {8.5}}}); }, {"center_crop", "'size' must be a whole number", "8.5"});
  check_error([] { make_transform("random_horizontal_flip", {{"p", {1.5}}}); }, {"RandomHorizontalFlip", "p = 1.5"});
  check_error([] { make_transform("gaussian_blur", {{"kernel_size", {4}}}); }, {"GaussianBlur", "kernel_size 4", "odd"});
  check_error([] { make_transform("random_quarter_turn", {{"p", {0.5}}}); }, {"random_quarter_turn has no option 'p'", "none"});
  check_error([] { make_transform("normalize", {{"mean", {0.5}}}); }, {"normalize needs option 'std'"});
  check_error([] { RandomResizedCrop({.size = {8, 8}, .scale = {1.0, 0.5}}); }, {"RandomResizedCrop", "scale [1, 0.5]"});
  check_error([] { ColorJitter({.hue = 0.7}); }, {"ColorJitter", "hue 0.7"});
}
