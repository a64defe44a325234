// Robustness evaluation (training/data/perturbations.h, training/eval/roc_auc.h, training/eval/robustness.h):
// every perturbation is the identity at strength 0 and grows stronger with its strength, JPEG at quality 100
// nearly round-trips, the rank AUC and the group AUCs match values worked out by hand (ties counted ½), and
// bad --perturb, --groups and --groups-file inputs are refused naming what is wrong.
#include <cmath>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "training/data/perturbations.h"
#include "training/data/photometric.h"
#include "training/data_helpers.h"
#include "training/run_helpers.h"
#include "training/eval/robustness.h"
#include "training/eval/roc_auc.h"

using namespace vireo;
using namespace vireo::data;
using vireo::testing::check_error;

namespace {

// A 16×16 image with structure at every scale: a bright square on a dark ground, with fine random texture.
Image test_image(int64_t channels = 1) {
  Image image(16, 16, channels);
  RandomStream random(11, 0, 0, 0);
  for (int64_t y = 0; y < 16; ++y)
    for (int64_t x = 0; x < 16; ++x)
      for (int64_t c = 0; c < channels; ++c) {
        const bool square = y >= 4 && y < 12 && x >= 5 && x < 11;
        image.at(y, x, c) = static_cast<float>((square ? 0.6 : 0.15) + 0.25 * random.uniform());
      }
  return image;
}

Image perturbed(const std::string& name, double strength, uint64_t seed = 0) {
  Image image = test_image();
  RandomStream random(seed, 0, 7, 0);
  perturb(image, name, strength, random);
  return image;
}

// Σ of squared differences between horizontal (and, with vertical, also vertical) neighbours: the image's
// high-frequency energy.
double neighbour_energy(const Image& image, bool vertical) {
  double energy = 0.0;
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x) {
      if (x + 1 < image.width) energy += std::pow(image.at(y, x + 1, 0) - image.at(y, x, 0), 2);
      if (vertical && y + 1 < image.height) energy += std::pow(image.at(y + 1, x, 0) - image.at(y, x, 0), 2);
    }
  return energy;
}

double mean_squared_difference(const Image& a, const Image& b) {
  double total = 0.0;
  for (size_t i = 0; i < a.pixels.size(); ++i) total += std::pow(a.pixels[i] - b.pixels[i], 2);
  return total / static_cast<double>(a.pixels.size());
}

double pixel_variance(const Image& image) {
  double mean = 0.0, squares = 0.0;
  for (float v : image.pixels) mean += v, squares += static_cast<double>(v) * v;
  mean /= static_cast<double>(image.pixels.size());
  return squares / static_cast<double>(image.pixels.size()) - mean * mean;
}

}  // namespace

TEST_CASE("perturbations: every family at strength 0 is the identity") {
  for (const PerturbationFamily& family : perturbation_families()) {
    INFO(family.name);
    const Image clean = test_image(3);
    Image image = clean;
    RandomStream random(1, 0, 0, 0);
    perturb(image, family.name, 0.0, random);
    CHECK(image.pixels == clean.pixels);
    CHECK(family.default_strengths.front() > 0.0);
  }
  CHECK(perturbation_families().size() == 7);
}

TEST_CASE("perturbations: blur removes more high-frequency energy as its strength grows") {
  double previous = neighbour_energy(test_image(), true);
  for (double sigma : {0.5, 1.0, 2.0}) {
    const double energy = neighbour_energy(perturbed("gaussian_blur", sigma), true);
    CHECK(energy < previous);
    previous = energy;
  }
  previous = neighbour_energy(test_image(), false);
  for (double length : {2.0, 3.0, 5.0, 9.0}) {
    const double energy = neighbour_energy(perturbed("motion_blur", length), false);
    CHECK(energy < previous);
    previous = energy;
  }
}

TEST_CASE("perturbations: motion blur smears a point into a horizontal segment of its length") {
  Image image(5, 7, 1);
  image.at(2, 3, 0) = 1.0f;
  motion_blur(image, 3.0);
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 7; ++x) CHECK(image.at(y, x, 0) == doctest::Approx(y == 2 && x >= 2 && x <= 4 ? 1.0 / 3 : 0.0));
  // Length 2: the centre tap whole, the two neighbours half each, over 2.
  Image half(1, 5, 1);
  half.at(0, 2, 0) = 1.0f;
  motion_blur(half, 2.0);
  CHECK(half.at(0, 1, 0) == doctest::Approx(0.25));
  CHECK(half.at(0, 2, 0) == doctest::Approx(0.5));
  CHECK(half.at(0, 3, 0) == doctest::Approx(0.25));
  CHECK(half.at(0, 0, 0) == 0.0f);
}

TEST_CASE("perturbations: noise contrast brightness jpeg and rotation grow with their strength") {
  const Image clean = test_image();
  // The noise's z is the same at every strength, and the same again for the same stream.
  CHECK(perturbed("noise", 0.1).pixels == perturbed("noise", 0.1).pixels);
  CHECK(perturbed("noise", 0.1).pixels != perturbed("noise", 0.1, 1).pixels);
  double previous = 0.0;
  for (double std : {0.05, 0.1, 0.2}) {
    const double difference = mean_squared_difference(perturbed("noise", std), clean);
    CHECK(difference > previous);
    previous = difference;
  }
  previous = pixel_variance(clean);
  for (double strength : {0.25, 0.5, 0.9}) {
    const double variance = pixel_variance(perturbed("contrast", strength));
    CHECK(variance < previous);
    previous = variance;
  }
  CHECK(pixel_variance(perturbed("contrast", 1.0)) == doctest::Approx(0.0).epsilon(1e-9));
  // Over-exposure: one stop doubles the values, clipping the bright square at 1.
  CHECK(perturbed("brightness", 1.0).at(0, 0, 0) == doctest::Approx(2 * clean.at(0, 0, 0)));
  CHECK(perturbed("brightness", 1.0).at(8, 8, 0) == 1.0f);
  previous = 0.0;
  for (double strength : {50.0, 90.0, 97.0}) {
    const double difference = mean_squared_difference(perturbed("jpeg", strength), clean);
    CHECK(difference > previous);
    previous = difference;
  }
  CHECK(mean_squared_difference(perturbed("rotation", 10.0), clean) <
        mean_squared_difference(perturbed("rotation", 45.0), clean));
}

TEST_CASE("perturbations: JPEG at quality 100 nearly round-trips and keeps odd sizes") {
  Image image(13, 11, 3);  // not a multiple of 8: the blocks run past the border
  RandomStream random(5, 0, 0, 0);
  for (float& v : image.pixels) v = static_cast<float>(random.uniform());
  Image compressed = image;
  jpeg_quantize(compressed, 100);
  REQUIRE(compressed.height == 13);
  REQUIRE(compressed.width == 11);
  double worst = 0.0;
  for (size_t i = 0; i < image.pixels.size(); ++i) worst = std::max(worst, std::abs(double(compressed.pixels[i]) - image.pixels[i]));
  CHECK(std::sqrt(mean_squared_difference(compressed, image)) < 1.0 / 255);
  CHECK(worst < 3.0 / 255);
  // The output is on the decoder's 8-bit levels.
  for (float v : compressed.pixels) CHECK(std::abs(v * 255.0 - std::round(v * 255.0)) < 1e-4);
  // A flat 8×8 block has only its DC coefficient, 8 × its level (255·0.7 − 128 = 50.5): at quality 50 the
  // step is 16, so 404 becomes 400, the level 50 and the value 178/255.
  Image flat(8, 8, 1, 0.7f);
  jpeg_quantize(flat, 50);
  for (float v : flat.pixels) CHECK(v * 255.0 == doctest::Approx(178.0));
  check_error([] { Image bad(8, 8, 1); jpeg_quantize(bad, 0); }, {"jpeg_quantize", "quality 0"});
}

TEST_CASE("perturbations: sweeps parse with the clean 0 first and bad specs are refused") {
  const auto all = parse_perturbation_sweeps({"all"});
  REQUIRE(all.size() == 7);
  for (const PerturbationSweep& sweep : all) {
    CHECK(sweep.strengths.front() == 0.0);
    CHECK(sweep.strengths.size() == 5);
  }
  const auto given = parse_perturbation_sweeps({"gaussian_blur:0.5,1,2", "noise", "rotation:0,15"});
  REQUIRE(given.size() == 3);
  CHECK(given[0].strengths == std::vector<double>{0.0, 0.5, 1.0, 2.0});
  CHECK(given[1].name == "noise");
  CHECK(given[1].strengths == std::vector<double>{0.0, 0.05, 0.1, 0.2, 0.3});
  CHECK(given[2].strengths == std::vector<double>{0.0, 15.0});
  check_error([] { parse_perturbation_sweeps({"blurr:1"}); },
              {"--perturb blurr:1", "unknown perturbation 'blurr'", "gaussian_blur", "motion_blur", "jpeg", "rotation"});
  check_error([] { parse_perturbation_sweeps({"noise:0.1,abc"}); }, {"--perturb noise:0.1,abc", "'abc' is not a number"});
  check_error([] { parse_perturbation_sweeps({"noise:"}); }, {"--perturb noise:", "is not a number"});
  check_error([] { parse_perturbation_sweeps({"contrast:1.5"}); }, {"contrast strength 1.5", "[0, 1]"});
  check_error([] { parse_perturbation_sweeps({"jpeg:-5"}); }, {"jpeg strength -5"});
  check_error([] { parse_perturbation_sweeps({"noise", "all"}); }, {"noise is given twice"});
}

TEST_CASE("roc auc: ranks with ties counted half against a hand count") {
  using eval::roc_auc;
  // Positive–negative pairs: 0.9 beats both; each 0.5 ties 0.5 (½) and beats 0.1: (2 + 1.5 + 1.5) / 6.
  CHECK(roc_auc({0.9, 0.5, 0.5}, {0.5, 0.1}) == doctest::Approx(5.0 / 6.0));
  CHECK(roc_auc({1, 2, 3}, {0, -1}) == 1.0);
  CHECK(roc_auc({0, -1}, {1, 2, 3}) == 0.0);
  CHECK(roc_auc({0.3, 0.3}, {0.3, 0.3, 0.3}) == 0.5);
  CHECK(std::isnan(roc_auc({}, {1.0})));
  CHECK(std::isnan(roc_auc({1.0}, {})));
}

TEST_CASE("robustness: group AUC and accuracy against a hand count") {
  // Four examples of three classes; rows are p(0|x), p(1|x), p(2|x).
  const std::vector<float> probabilities = {0.7f, 0.2f, 0.1f,   // label 0, predicted 0
                                            0.4f, 0.5f, 0.1f,   // label 0, predicted 1
                                            0.1f, 0.6f, 0.3f,   // label 1, predicted 1
                                            0.4f, 0.3f, 0.3f};  // label 2, predicted 0
  const std::vector<int64_t> labels = {0, 0, 1, 2};
  const eval::Grouping by_class = eval::parse_class_groups("first=0;rest=1,2", 3);
  const auto members = eval::group_members(by_class, labels);
  REQUIRE(members == std::vector<std::vector<int64_t>>{{0, 1}, {2, 3}});
  const eval::GroupScores scores = eval::score_groups(probabilities, labels, 3, members);
  // first: p(0|x) of {0.7, 0.4} against {0.1, 0.4}: 1 + 1 + 1 + ½ of 4.
  CHECK(scores.auc[0] == doctest::Approx(3.5 / 4));
  // rest: class 1 (0.6 against 0.2, 0.5, 0.3) = 1; class 2 (0.3 against 0.1, 0.1, 0.3) = 2.5/3.
  CHECK(scores.auc[1] == doctest::Approx((1.0 + 2.5 / 3) / 2));
  CHECK(scores.accuracy == std::vector<double>{0.5, 0.5});

  // A partition by example: {0, 2} and {1, 3}; negatives still come from every example.
  eval::Grouping partition;
  partition.groups = {{"even", {}}, {"odd", {}}};
  partition.example_group = {0, 1, 0, 1};
  const eval::GroupScores split = eval::score_groups(probabilities, labels, 3, eval::group_members(partition, labels));
  CHECK(split.auc[0] == doctest::Approx(1.0));  // 0.7 against {0.1, 0.4}; 0.6 against {0.2, 0.5, 0.3}
  CHECK(split.auc[1] == doctest::Approx((0.75 + 2.5 / 3) / 2));  // 0.4 against {0.1, 0.4}; 0.3 as above
  CHECK(split.accuracy == std::vector<double>{1.0, 0.0});
}

TEST_CASE("robustness: class groups and group files parse and bad ones are refused") {
  const eval::Grouping classes = eval::parse_class_groups("classes", 3, {"cat", "dog", "bird"});
  REQUIRE(classes.groups.size() == 3);
  CHECK(classes.groups[1].name == "dog");
  CHECK(classes.groups[1].classes == std::vector<int64_t>{1});
  CHECK(eval::parse_class_groups("classes", 2).groups[1].name == "class_1");
  const eval::Grouping named = eval::parse_class_groups("tops=0, 2 ;bottoms=1;", 3);
  REQUIRE(named.groups.size() == 2);
  CHECK(named.groups[0].classes == std::vector<int64_t>{0, 2});
  check_error([] { eval::parse_class_groups("tops=0,12", 10); }, {"--groups", "'tops' lists class 12", "10 classes"});
  check_error([] { eval::parse_class_groups("tops 0,2", 10); }, {"--groups", "'tops 0,2' is not name=class"});
  check_error([] { eval::parse_class_groups("a=1;a=2", 10); }, {"--groups", "'a' is given twice"});
  check_error([] { eval::parse_class_groups("a=1,1", 10); }, {"--groups", "lists class 1 twice"});
  check_error([] { eval::parse_class_groups("a=1,x", 10); }, {"--groups", "'x' is not a class number"});
  check_error([] { eval::parse_class_groups("=1", 10); }, {"--groups", "no name"});

  vireo::testing::TempFolder folder("robustness_groups");
  vireo::testing::write_text(folder / "groups.csv", "site\n# comment\n3\n1\n\n3\n");
  const eval::Grouping file = eval::read_group_file(folder / "groups.csv", 3);
  REQUIRE(file.groups.size() == 2);
  CHECK(file.groups[0].name == "group_1");
  CHECK(file.groups[1].name == "group_3");
  CHECK(file.example_group == std::vector<int64_t>{1, 0, 1});
  check_error([&] { eval::read_group_file(folder / "groups.csv", 4); }, {"groups.csv", "3 group labels for 4 test examples"});
  vireo::testing::write_text(folder / "bad.txt", "1\n2\ntwo\n");
  check_error([&] { eval::read_group_file(folder / "bad.txt", 3); }, {"bad.txt:3", "'two' is not an integer"});
  check_error([&] { eval::read_group_file(folder / "missing.txt", 3); }, {"missing.txt", "cannot open"});
}
