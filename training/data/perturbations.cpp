// The perturbation families: each strength mapped onto the image operation that realizes it.
#include "training/data/perturbations.h"

#include <charconv>
#include <cmath>

#include "engine/error.h"
#include "training/data/geometric.h"
#include "training/data/photometric.h"

namespace vireo::data {
namespace {

std::string family_names() {
  std::string names = "all";
  for (const PerturbationFamily& family : perturbation_families()) names += ", " + family.name;
  return names;
}

const PerturbationFamily& find_family(const std::string& name, const std::string& who) {
  for (const PerturbationFamily& family : perturbation_families())
    if (family.name == name) return family;
  fail(who, "unknown perturbation '", name, "' (valid: ", family_names(), ")");
}

void check_strength(const PerturbationFamily& family, double strength, const std::string& who) {
  VIREO_CHECK(std::isfinite(strength) && strength >= 0.0 && strength <= family.max_strength, who, family.name,
              " strength ", strength, " is outside [0, ", family.max_strength, "] (", family.strength, ")");
}

// A number spelled exactly (all of `text`), as strtod reads it.
bool parse_number(const std::string& text, double& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end && !text.empty();
}

}  // namespace

const std::vector<PerturbationFamily>& perturbation_families() {
  static const std::vector<PerturbationFamily> families = {
      {"gaussian_blur", "sigma in pixels", {0.5, 1.0, 1.5, 2.0}, 16.0},
      {"motion_blur", "smear length in pixels", {3.0, 5.0, 7.0, 9.0}, 64.0},
      {"brightness", "exposure in stops, x <- 2^s x", {0.5, 1.0, 1.5, 2.0}, 8.0},
      {"contrast", "contrast factor 1 - s", {0.25, 0.5, 0.75, 0.9}, 1.0},
      {"noise", "std of additive gaussian noise", {0.05, 0.1, 0.2, 0.3}, 4.0},
      {"jpeg", "100 - JPEG quality", {50.0, 75.0, 90.0, 95.0}, 99.0},
      {"rotation", "degrees counter-clockwise", {10.0, 20.0, 30.0, 45.0}, 180.0},
  };
  return families;
}

void perturb(Image& image, const std::string& name, double strength, RandomStream& random) {
  check_strength(find_family(name, "perturb: "), strength, "perturb: ");
  if (strength == 0.0) return;
  if (name == "gaussian_blur") {
    const auto radius = static_cast<int64_t>(std::ceil(3.0 * strength));
    gaussian_blur(image, 2 * radius + 1, strength);
  } else if (name == "motion_blur") {
    motion_blur(image, strength);
  } else if (name == "brightness") {
    adjust_brightness(image, std::exp2(strength));
  } else if (name == "contrast") {
    adjust_contrast(image, 1.0 - strength);
  } else if (name == "noise") {
    add_gaussian_noise(image, strength, random);
  } else if (name == "jpeg") {
    jpeg_quantize(image, 100 - static_cast<int64_t>(std::lround(strength)));
  } else if (name == "rotation") {
    image = rotate(image, strength, {0.0f});
  }
}

Perturbation::Perturbation(std::string family, double strength) : family_(std::move(family)), strength_(strength) {
  check_strength(find_family(family_, "perturb: "), strength_, "perturb: ");
}

void Perturbation::apply(Image& image, RandomStream& random, DrawnParameters& drawn) const {
  perturb(image, family_, strength_, random);
  drawn.record(family_, "strength", strength_);
}

std::vector<PerturbationSweep> parse_perturbation_sweeps(const std::vector<std::string>& specs) {
  VIREO_CHECK(!specs.empty(), "--perturb: no perturbation given (valid: ", family_names(), ")");
  std::vector<PerturbationSweep> sweeps;
  auto add = [&](const PerturbationFamily& family, std::vector<double> strengths, const std::string& spec) {
    for (const PerturbationSweep& sweep : sweeps)
      VIREO_CHECK(sweep.name != family.name, "--perturb ", spec, ": ", family.name, " is given twice");
    if (strengths.front() != 0.0) strengths.insert(strengths.begin(), 0.0);
    sweeps.push_back({family.name, std::move(strengths)});
  };
  for (const std::string& spec : specs) {
    const std::string who = "--perturb " + spec + ": ";
    const size_t colon = spec.find(':');
    const std::string name = spec.substr(0, colon);
    if (name == "all") {
      VIREO_CHECK(colon == std::string::npos, who, "'all' takes no strengths (give each family its own)");
      for (const PerturbationFamily& family : perturbation_families()) add(family, family.default_strengths, spec);
      continue;
    }
    const PerturbationFamily& family = find_family(name, who);
    if (colon == std::string::npos) {
      add(family, family.default_strengths, spec);
      continue;
    }
    std::vector<double> strengths;
    const std::string list = spec.substr(colon + 1);
    for (size_t start = 0; start <= list.size();) {
      const size_t comma = std::min(list.find(',', start), list.size());
      const std::string text = list.substr(start, comma - start);
      double strength = 0.0;
      VIREO_CHECK(parse_number(text, strength), who, "'", text, "' is not a number (write name:s1,s2,...)");
      check_strength(family, strength, who);
      strengths.push_back(strength);
      start = comma + 1;
    }
    add(family, std::move(strengths), spec);
  }
  return sweeps;
}

}  // namespace vireo::data
