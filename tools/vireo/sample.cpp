// vireo sample CHECKPOINT [options]: images drawn from a DDPM run's checkpoint, written as one PNG grid,
// with one JSON line on stdout — and, given --classifier, the fraction a supervised classifier
// recognises (training/checkpoint_sampling.h):
//
//   {"num":64,"sampler":"ddim","steps":50,"eta":0.0,"seed":0,"ema":true,"seconds":12.3,"out":"samples.png"}
//   (eta only for DDIM; with --classifier also recognisable_fraction, class_counts and, given --frechet M,
//   frechet_distance: the samples against M real test images in the classifier's feature space)
//
// The grid is written to OUT.tmp and renamed over OUT, so a failed or interrupted run leaves no partial
// file; OUT's folder is checked for writing before any sampling starts.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/error.h"
#include "tools/vireo/commands.h"
#include "training/checkpoint_sampling.h"
#include "training/diffusion/image_grid.h"

namespace vireo::cli {
namespace {

struct SampleArguments {
  training::SamplingRequest request;
  std::string sampler = "ddim";
  std::string out = "samples.png";
  int64_t nrow = 0;
  bool ema = false, no_ema = false, steps_given = false;
};

// Fails now, naming --out, when `out` cannot be created (a missing folder, no permission, a folder).
void check_writable(const std::string& out) {
  if (std::filesystem::is_directory(out)) fail("--out ", out, ": is a folder, not a file name");
  const std::string probe = out + ".tmp";
  std::ofstream file(probe, std::ios::binary | std::ios::trunc);
  const bool writable = static_cast<bool>(file);
  file.close();
  std::error_code ignored;
  std::filesystem::remove(probe, ignored);
  if (!writable) fail("--out ", out, ": cannot write there (does its folder exist and allow writing?)");
}

int run_sample(SampleArguments& arguments) {
  training::SamplingRequest& request = arguments.request;
  request.sampler = arguments.sampler == "ddpm" ? training::Sampler::ddpm : training::Sampler::ddim;
  if (arguments.steps_given && request.sampler == training::Sampler::ddpm)
    fail("--steps: applies to --sampler ddim (DDPM walks all T timesteps)");
  if (arguments.nrow < 0) fail("--nrow: must be 0 (automatic) or more, got ", arguments.nrow);
  request.use_ema = !arguments.no_ema;
  request.require_ema = arguments.ema;
  check_writable(arguments.out);

  const training::SamplingResult result = training::sample_checkpoint(request);
  // Automatic rows: one column per class when a conditional model cycles through its classes.
  const int64_t columns = arguments.nrow > 0                                      ? arguments.nrow
                          : result.num_classes > 0 && request.class_label < 0 ? result.num_classes
                                                                                : 0;
  const std::string temporary = arguments.out + ".tmp";
  try {
    diffusion::write_image_grid(temporary, result.samples, {.columns = columns});
    std::filesystem::rename(temporary, arguments.out);
  } catch (const std::exception& failure) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    fail("--out ", arguments.out, ": cannot write the grid: ", failure.what());
  }

  nlohmann::ordered_json line = {{"num", request.num},
                                 {"sampler", arguments.sampler},
                                 {"steps", result.steps}};
  if (request.sampler == training::Sampler::ddim) line["eta"] = request.eta;
  line["seed"] = request.seed;
  line["ema"] = result.used_ema;
  line["seconds"] = result.seconds;
  line["out"] = arguments.out;
  if (result.classified) {
    line["classifier"] = request.classifier;
    line["recognisable_fraction"] = result.recognisable_fraction;
    line["class_counts"] = result.class_counts;
    if (request.frechet_images > 0) line["frechet_distance"] = result.frechet_distance;
  }
  std::printf("%s\n", line.dump().c_str());
  return 0;
}

}  // namespace

Subcommand add_sample_command(CLI::App& vireo) {
  auto arguments = std::make_shared<SampleArguments>();
  training::SamplingRequest& request = arguments->request;
  CLI::App* app = vireo.add_subcommand("sample", "Draw images from a DDPM checkpoint into a PNG grid");
  app->footer(
      "The model is rebuilt from the recipe stored in the checkpoint (task: ddpm); its EMA weights are used\n"
      "when it has them. Prints one JSON line: num, sampler, steps, eta, seed, ema, seconds, out — and with\n"
      "--classifier (a classification run's checkpoint, e.g. the supervised ResNet-18 on Fashion-MNIST)\n"
      "recognisable_fraction (samples it gives a softmax above 0.5) and class_counts.\n"
      "Example: vireo sample runs/ddpm_unet_fmnist/checkpoint.safetensors --num 1000 --steps 50 \\\n"
      "           --classifier runs/supervised_resnet18_fmnist/checkpoint.safetensors");
  app->add_option("checkpoint", request.checkpoint, "A checkpoint.safetensors of a task: ddpm run")->required();
  app->add_option("--num", request.num, "Number of samples")->capture_default_str();
  app->add_option("--sampler", arguments->sampler, "ddim (S steps, η) or ddpm (ancestral, all T steps)")
      ->check(CLI::IsMember({"ddpm", "ddim"}))
      ->capture_default_str();
  app->add_option("--steps", request.steps, "DDIM steps S, 1 ≤ S ≤ T")
      ->capture_default_str()
      ->each([arguments](const std::string&) { arguments->steps_given = true; });
  app->add_option("--eta", request.eta, "DDIM η in [0, 1] (0: deterministic)")->capture_default_str();
  app->add_option("--seed", request.seed, "Seed of x_T and of every noise draw")->capture_default_str();
  app->add_option("--out", arguments->out, "The PNG grid to write")->capture_default_str();
  app->add_option("--nrow", arguments->nrow, "Images per row (0: one column per class, else ⌈√N⌉)");
  app->add_option("--class", request.class_label, "Class of every sample (class-conditional models)");
  CLI::Option* ema = app->add_flag("--ema", arguments->ema, "Sample the EMA weights (refuse a checkpoint without)");
  app->add_flag("--no-ema", arguments->no_ema, "Sample the trained weights, not the EMA")->excludes(ema);
  app->add_option("--classifier", request.classifier, "A classification checkpoint judging the samples");
  app->add_option("--frechet", request.frechet_images,
                  "With --classifier: the Fréchet distance in its feature space to this many test images");
  app->add_option("--batch", request.batch_size, "Images through a model at once")->capture_default_str();
  return {app, [arguments] { return run_sample(*arguments); }};
}

}  // namespace vireo::cli
