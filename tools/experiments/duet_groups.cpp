// Experiment 4 of the SSL issue: does DUET's group vector tell the rotation an image went through, and does
// its content vector stay the same under that rotation (ssl/duet.h, METHODS.md §1 DUET)?
//
// A DUET checkpoint trained with `transformation: rotation` (training/recipes/ssl/duet.yaml) reads its
// backbone features y ∈ R^(G·C) as G rotation bins × C content columns. For the first N test images x and
// each bin k, the image is rotated to the bin's centre angle a_k = 360·(k + ½)/G − 180 degrees (the
// convention of the training target: θ = (a + 180)/360, bin k = [k/G, (k+1)/G)) — bilinear, corners filled
// with 0 as random_rotation does — then the recipe's test pipeline, and:
//
//   group-bin accuracy   the fraction of rotated images whose argmax group logit is bin k (chance 1/G),
//                        and within one bin on the circle (chance 3/G)
//   content invariance   cos(content(R_a x), content(x)) averaged over the images — against the same cosine
//                        between different images, cos(content(R_a x), content(x')), x' the next image: a
//                        representation that merely collapsed scores high on both. The content vectors are
//                        centred first (the mean upright content subtracted): post-ReLU features share a
//                        large common direction that makes every raw cosine ≈ 1.
//   retrieval top-1      the fraction of rotated images whose nearest upright image by centred content
//                        cosine, among all N, is their own original (chance 1/N)
//
// Each measure is taken for the trained network and for an untrained one built from the same recipe
// (seed run.seed) — the floor that training has to clear. Prints the table and writes OUT/duet_groups.json
// and the figure.
//
// usage: experiment_duet_groups --checkpoint runs/ssl/duet/checkpoint.safetensors [--examples 1000]
//                               [--out DIR] [--figure duet_groups.svg]
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduction.h"
#include "engine/ops/shape.h"
#include "engine/random.h"
#include "ssl/duet.h"
#include "ssl/ssl_task.h"
#include "tools/report/svg_chart.h"
#include "training/checkpoint.h"
#include "training/data/geometric.h"
#include "training/recipe.h"
#include "training/recipe_builders.h"
#include "training/task_factory.h"

namespace {

using namespace vireo;

// What one network shows at one rotation angle.
struct AngleMeasures {
  double group_accuracy = 0.0;        // argmax bin is the angle's bin
  double group_accuracy_within1 = 0.0;  // … or one of its two circular neighbours
  double content_cosine_same = 0.0;   // mean cos(content(R_a x), content(x))
  double content_cosine_other = 0.0;  // mean cos(content(R_a x), content(x')), x' the next image
  double retrieval = 0.0;             // nearest upright image by content is the original
};

// The DUET method of `recipe`, built as the trainer builds it (the seed set first, as a fresh run does).
std::shared_ptr<ssl::Duet> build_duet(const training::Recipe& recipe) {
  manual_seed(recipe.run.seed);
  auto duet = std::dynamic_pointer_cast<ssl::Duet>(training::build_task_and_model(recipe).model);
  VIREO_CHECK(duet != nullptr, "duet_groups: the checkpoint's method is not duet");
  duet->eval();
  return duet;
}

// The images rotated by `degrees`, through the test pipeline, as one [N, C, H, W] batch.
Tensor rotated_batch(const std::vector<data::Image>& images, double degrees, const data::Pipeline& pipeline) {
  std::vector<Tensor> tensors;
  data::RandomStream unused(0, 0, 0, 0);  // the test pipeline draws nothing
  for (const data::Image& image : images) {
    data::Image rotated = degrees == 0.0 ? image : data::rotate(image, degrees, {0.0f});
    tensors.push_back(data::to_tensor(pipeline(std::move(rotated), unused)));
  }
  return stack(tensors, 0);
}

// The representation of `batch` in chunks of `chunk` images.
ssl::Duet::Representation represent(ssl::Duet& duet, const Tensor& batch, int64_t chunk) {
  std::vector<Tensor> contents, groups;
  for (int64_t start = 0; start < batch.size(0); start += chunk) {
    const int64_t end = std::min(batch.size(0), start + chunk);
    const ssl::Duet::Representation part = duet.represent(slice(batch, 0, start, end));
    contents.push_back(part.content);
    groups.push_back(part.group_logits);
  }
  return {.content = cat(contents, 0), .group_logits = cat(groups, 0)};
}

nlohmann::ordered_json as_json(const AngleMeasures& m) {
  return {{"group_accuracy", m.group_accuracy},
          {"group_accuracy_within_one_bin", m.group_accuracy_within1},
          {"content_cosine_same_image", m.content_cosine_same},
          {"content_cosine_other_image", m.content_cosine_other},
          {"retrieval_top1", m.retrieval}};
}

void print_row(const std::string& angle, const std::string& bin, const AngleMeasures& t, const AngleMeasures& u) {
  std::printf("%7s %3s | %6.3f %6.3f %6.3f %6.3f %6.3f | %6.3f %6.3f %6.3f %6.3f %6.3f\n", angle.c_str(), bin.c_str(),
              t.group_accuracy, t.group_accuracy_within1, t.content_cosine_same, t.content_cosine_other, t.retrieval,
              u.group_accuracy, u.group_accuracy_within1, u.content_cosine_same, u.content_cosine_other, u.retrieval);
}

// The mean of each measure over the angles.
AngleMeasures mean_of(const std::vector<AngleMeasures>& measures) {
  AngleMeasures sum;
  for (const AngleMeasures& m : measures) {
    sum.group_accuracy += m.group_accuracy;
    sum.group_accuracy_within1 += m.group_accuracy_within1;
    sum.content_cosine_same += m.content_cosine_same;
    sum.content_cosine_other += m.content_cosine_other;
    sum.retrieval += m.retrieval;
  }
  const double count = static_cast<double>(measures.size());
  return {.group_accuracy = sum.group_accuracy / count,
          .group_accuracy_within1 = sum.group_accuracy_within1 / count,
          .content_cosine_same = sum.content_cosine_same / count,
          .content_cosine_other = sum.content_cosine_other / count,
          .retrieval = sum.retrieval / count};
}

// `rotated` against the upright images' centred content `reference_content` and their mean `center`.
AngleMeasures measure(const ssl::Duet::Representation& rotated, const Tensor& reference_content, const Tensor& center,
                      int64_t bin, int64_t groups) {
  const int64_t n = rotated.content.size(0);
  AngleMeasures out;
  const std::vector<double> predicted = argmax(rotated.group_logits, 1).to_vector();
  for (const double p : predicted) {
    const int64_t distance = std::abs(static_cast<int64_t>(p) - bin);
    const int64_t circular = std::min(distance, groups - distance);
    out.group_accuracy += circular == 0;
    out.group_accuracy_within1 += circular <= 1;
  }
  out.group_accuracy /= static_cast<double>(n);
  out.group_accuracy_within1 /= static_cast<double>(n);
  const Tensor content = sub(rotated.content, center);
  const Tensor next = cat({slice(reference_content, 0, 1, n), slice(reference_content, 0, 0, 1)}, 0);
  out.content_cosine_same = mean(cosine_similarity(content, reference_content, 1)).item();
  out.content_cosine_other = mean(cosine_similarity(content, next, 1)).item();
  const Tensor similarity = matmul(normalize(content, 2.0, 1), transpose(normalize(reference_content, 2.0, 1), 0, 1));
  const std::vector<double> nearest = argmax(similarity, 1).to_vector();
  for (int64_t i = 0; i < n; ++i) out.retrieval += nearest[static_cast<size_t>(i)] == static_cast<double>(i);
  out.retrieval /= static_cast<double>(n);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Experiment 4: DUET's group vector against the rotation, and its content vector's invariance"};
  std::string checkpoint_path, out_dir = ".", figure;
  int64_t examples = 1000, chunk = 250;
  app.add_option("--checkpoint", checkpoint_path, "A DUET run's checkpoint.safetensors")->required();
  app.add_option("--examples", examples, "The first N test images (1000)")->check(CLI::PositiveNumber);
  app.add_option("--batch", chunk, "Images per forward pass (250)")->check(CLI::PositiveNumber);
  app.add_option("--out", out_dir, "The folder of duet_groups.json");
  app.add_option("--figure", figure, "The SVG line chart to write");
  CLI11_PARSE(app, argc, argv);

  try {
    ssl::register_tasks();
    const training::Checkpoint checkpoint = training::load_checkpoint(checkpoint_path);
    const training::Recipe recipe =
        training::parse_recipe(checkpoint.recipe_yaml, checkpoint_path + " (stored recipe)");
    const auto& method = dynamic_cast<const ssl::MethodRecipe&>(*recipe.task_options);
    VIREO_CHECK(method.name == "duet" && method.duet.transformation == ssl::DuetTransformation::rotation &&
                    method.duet.groups > 1,
                checkpoint_path, ": not a DUET run with transformation rotation and groups > 1");
    const int64_t groups = method.duet.groups;
    training::set_math_threads(recipe.run);

    const auto test_set = training::make_dataset(recipe.data, data::Split::test);
    const data::Pipeline pipeline = training::make_pipeline(recipe.data, data::Split::test);
    std::vector<data::Image> images;
    for (int64_t i = 0; i < std::min(examples, test_set->size()); ++i) images.push_back(test_set->get(i).image);
    VIREO_CHECK(images.size() >= 2, "duet_groups: needs at least 2 test images");

    const std::shared_ptr<ssl::Duet> untrained = build_duet(recipe);
    const std::shared_ptr<ssl::Duet> trained = build_duet(recipe);
    training::load_module_state(*trained, checkpoint.model, "model", checkpoint_path, recipe.model.name);

    NoGrad no_grad;
    const Tensor upright = rotated_batch(images, 0.0, pipeline);
    const Tensor upright_trained = represent(*trained, upright, chunk).content;
    const Tensor upright_untrained = represent(*untrained, upright, chunk).content;
    const Tensor center_trained = mean(upright_trained, {0}, true), center_untrained = mean(upright_untrained, {0}, true);
    const Tensor reference_trained = sub(upright_trained, center_trained);
    const Tensor reference_untrained = sub(upright_untrained, center_untrained);

    std::printf("DUET on %zu test images of %s, G = %lld rotation bins (chance %.3f, within one bin %.3f)\n",
                images.size(), recipe.data.dataset.c_str(), static_cast<long long>(groups), 1.0 / groups,
                3.0 / groups);
    std::printf("trained network | untrained network: group-bin accuracy, within one bin, centred content cosine\n"
                "to the same upright image and to another one, retrieval of the upright original (chance %.4f)\n",
                1.0 / static_cast<double>(images.size()));
    std::printf("%7s %3s | %6s %6s %6s %6s %6s | %6s %6s %6s %6s %6s\n", "angle", "bin", "group", "near", "same",
                "other", "retr", "group", "near", "same", "other", "retr");
    nlohmann::ordered_json summary = {{"checkpoint", checkpoint_path},
                                      {"examples", images.size()},
                                      {"groups", groups},
                                      {"angles", nlohmann::ordered_json::array()}};
    std::vector<double> angles;
    std::vector<AngleMeasures> trained_measures, untrained_measures;
    for (int64_t bin = 0; bin < groups; ++bin) {
      const double angle = 360.0 * (static_cast<double>(bin) + 0.5) / static_cast<double>(groups) - 180.0;
      const Tensor batch = rotated_batch(images, angle, pipeline);
      const AngleMeasures t = measure(represent(*trained, batch, chunk), reference_trained, center_trained, bin, groups);
      const AngleMeasures u = measure(represent(*untrained, batch, chunk), reference_untrained, center_untrained, bin, groups);
      char angle_text[32];
      std::snprintf(angle_text, sizeof angle_text, "%.1f", angle);
      print_row(angle_text, std::to_string(bin), t, u);
      angles.push_back(angle);
      trained_measures.push_back(t);
      untrained_measures.push_back(u);
      summary["angles"].push_back({{"degrees", angle}, {"bin", bin}, {"trained", as_json(t)}, {"untrained", as_json(u)}});
    }
    const AngleMeasures mean_trained = mean_of(trained_measures), mean_untrained = mean_of(untrained_measures);
    print_row("mean", "", mean_trained, mean_untrained);
    summary["mean_trained"] = as_json(mean_trained);
    summary["mean_untrained"] = as_json(mean_untrained);
    std::filesystem::create_directories(out_dir);
    std::ofstream(out_dir + "/duet_groups.json") << summary.dump(2) << "\n";
    std::printf("summary: %s/duet_groups.json\n", out_dir.c_str());

    if (!figure.empty()) {
      // group bin: argmax bin = the rotation's; cos: centred content cosine to the upright image (same) or
      // to another image (other); retrieval: the nearest upright image is the original.
      report::SvgChart chart{.title = "DUET: rotation bin from the group vector, content invariance",
                             .x_label = "rotation (degrees)", .y_label = "accuracy / cosine", .width = 800};
      auto series = [&](const std::string& name, const std::vector<AngleMeasures>& measures, auto field, int colour,
                        bool dashed) {
        report::Series line{.name = name, .colour = colour, .dashed = dashed};
        line.x = angles;
        for (const AngleMeasures& m : measures) line.y.push_back(m.*field);
        chart.add(line);
      };
      series("group bin, DUET", trained_measures, &AngleMeasures::group_accuracy, 0, false);
      series("group bin, untrained", untrained_measures, &AngleMeasures::group_accuracy, 0, true);
      series("cos same, DUET", trained_measures, &AngleMeasures::content_cosine_same, 1, false);
      series("cos other, DUET", trained_measures, &AngleMeasures::content_cosine_other, 2, false);
      series("cos same, untrained", untrained_measures, &AngleMeasures::content_cosine_same, 1, true);
      series("cos other, untrained", untrained_measures, &AngleMeasures::content_cosine_other, 2,
             true);
      series("retrieval, DUET", trained_measures, &AngleMeasures::retrieval, 4, false);
      series("retrieval, untrained", untrained_measures, &AngleMeasures::retrieval, 4, true);
      report::Series chance{.name = "chance 1/G", .x = {angles.front(), angles.back()},
                            .y = {1.0 / groups, 1.0 / groups}, .colour = 3, .dashed = true};
      chart.add(chance);
      chart.write(figure);
      std::printf("figure: %s\n", figure.c_str());
    }
  } catch (const Error& error) {
    std::fprintf(stderr, "experiment_duet_groups: %s\n", error.what());
    return 1;
  }
  return 0;
}
