// Perturbations: the graded corruptions of robustness evaluation (`vireo robustness`,
// training/eval/robustness.h). Each is a family of deterministic image operations indexed by one strength,
// where strength 0 is the identity and a larger strength is a stronger corruption:
//
//   gaussian_blur   σ in pixels (kernel 2⌈3σ⌉ + 1 taps)            photometric.h gaussian_blur
//   motion_blur     length in pixels of a horizontal smear          photometric.h motion_blur
//   brightness      exposure in stops: x ← clamp(2^s · x)           photometric.h adjust_brightness
//   contrast        s ∈ [0, 1]: contrast factor 1 − s (1: flat grey) photometric.h adjust_contrast
//   noise           std of additive gaussian noise, x ← clamp(x + s·z) photometric.h add_gaussian_noise
//   jpeg            100 − JPEG quality, s ∈ [0, 99]                 photometric.h jpeg_quantize
//   rotation        degrees counter-clockwise, black corners        geometric.h rotate
//
// They act on images as stored, values in [0, 1], before the test pipeline (Normalize) runs. Noise is the
// only one that draws: from the example's RandomStream (seed, epoch 0, example, view 0), so it is the same
// for every batch size and thread count, and the same z at every strength.
//
// On the command line a sweep is written "name:s1,s2,…" (or "name" for its default strengths, "all" for
// every family at its defaults); parse_perturbation_sweeps turns those into sweeps whose strengths always
// begin with 0, the clean column.
#pragma once

#include <string>
#include <vector>

#include "training/data/image.h"
#include "training/data/random_stream.h"
#include "training/data/transforms.h"

namespace vireo::data {

struct PerturbationFamily {
  std::string name;
  std::string strength;                    // what the strength measures, for help texts and tables
  std::vector<double> default_strengths;   // increasing, without the clean 0
  double max_strength;                     // the largest strength accepted (strengths are ≥ 0)
};

// The seven families, in the order of the table above.
const std::vector<PerturbationFamily>& perturbation_families();

// `image` corrupted by family `name` at `strength` (0: unchanged). Refuses an unknown name (listing the
// valid ones) and a strength outside [0, max_strength].
void perturb(Image& image, const std::string& name, double strength, RandomStream& random);

// perturb as the first step of a pipeline; records strength under its family's name.
class Perturbation final : public Transform {
 public:
  Perturbation(std::string family, double strength);
  const char* name() const override { return family_.c_str(); }
  void apply(Image& image, RandomStream& random, DrawnParameters& drawn) const override;

 private:
  std::string family_;
  double strength_;
};

// One row of a robustness matrix: a family and its strengths, strengths[0] = 0.
struct PerturbationSweep {
  std::string name;
  std::vector<double> strengths;
};

// "gaussian_blur:0.5,1,2", "noise" (its defaults) or "all" (every family at its defaults) → sweeps, in the
// order given, each with 0 put first. Refuses, naming --perturb and the spec: an unknown family (listing
// the valid ones), a family given twice, a strength that is not a number or out of range, an empty list.
std::vector<PerturbationSweep> parse_perturbation_sweeps(const std::vector<std::string>& specs);

}  // namespace vireo::data
