// Neuron paths: the joint-influence scores against a brute-force computation on a tiny f64 ViT (an explicit
// Riemann sum of m forward passes, each gradient by central finite differences of separate forward passes
// with the class-token rows written in by hand), the layer-progressive search against the same brute force,
// the activation-argmax baseline on a hand-set activation pattern, seeded random paths, ablation and
// enhancement hooks (only the path's class-token neurons change; detach is bit-exact), the measured effect,
// the JSON file and the refusals.
#include "steering/neuron_path.h"

#include <algorithm>
#include <fstream>

#include "engine/test_safetensors_helpers.h"
#include "steering/points.h"
#include "steering_test_models.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_error;
using vireo::testing::identical;

namespace {

constexpr int64_t kHidden = 32;  // tiny_vit: width 8, mlp_ratio 4

std::string act_point(int64_t layer) { return "blocks." + std::to_string(layer) + ".mlp.act"; }

// The tiny ViT in f64 with every parameter redrawn from N(0, 0.3²), so that probabilities and gradients are
// far from their initial near-uniform values.
std::shared_ptr<models::VisionTransformer> f64_vit(uint64_t seed) {
  auto model = vireo::testing::tiny_vit(seed);
  model->to(DType::f64);
  NoGrad no_grad;
  uint64_t draw = seed * 100;
  for (Tensor& parameter : model->parameters())
    parameter.copy_(vireo::testing::random_normal(parameter.shape(), ++draw, 0.0, 0.3));
  model->eval();
  return model;
}

Tensor f64_images(int64_t count, uint64_t seed) {
  return vireo::testing::random_normal({count, 3, 8, 8}, seed).to(DType::f64);
}

// Class-token rows per block as plain numbers: rows[k][b] is image b's H values at block k.
using Rows = std::vector<std::vector<std::vector<double>>>;

Rows observed_rows(nn::Module& model, const Tensor& images) {
  Rows rows(2);
  NoGrad no_grad;
  ScopedHooks hooks;
  for (int64_t k = 0; k < 2; ++k)
    hooks.add(model.register_forward_hook(act_point(k), [&rows, k](const Tensor& output) {
      for (int64_t b = 0; b < output.size(0); ++b) rows[k].push_back(output.select(0, b).select(0, 0).to_vector());
    }));
  model(images);
  return rows;
}

// p_y of one image with the class-token rows of blocks 0 … rows.size()−1 overwritten element by element.
double probability_with_rows(nn::Module& model, const Tensor& image, int64_t label,
                             const std::vector<std::vector<double>>& rows) {
  NoGrad no_grad;
  ScopedHooks hooks;
  for (size_t k = 0; k < rows.size(); ++k)
    hooks.add(model.register_forward_hook(act_point(static_cast<int64_t>(k)), [&rows, k](const Tensor& output) {
      Tensor edited = output.clone();
      edited.select(0, 0).select(0, 0).copy_(Tensor::from_vector(rows[k], {kHidden}, {.dtype = DType::f64}));
      return edited;
    }));
  return softmax(model(image), 1).select(1, label).item();
}

// JA(j) of METHODS.md §2 computed the slow way: per image and step, every gradient entry it needs by a
// central difference of two forward passes.
std::vector<double> brute_force_joint_influence(nn::Module& model, const Tensor& images, int64_t label,
                                                const std::vector<int64_t>& chosen, int64_t steps) {
  const Rows clean = observed_rows(model, images);
  const size_t layer = chosen.size();
  const double h = 1e-5;
  std::vector<double> scores(kHidden, 0.0);
  for (int64_t b = 0; b < images.size(0); ++b) {
    const Tensor image = images.narrow(0, b, 1);
    std::vector<double> layer_gradient_sum(kHidden, 0.0);
    double path_gradient_sum = 0.0;
    for (int64_t i = 0; i < steps; ++i) {
      const double fraction = static_cast<double>(i) / static_cast<double>(steps);
      std::vector<std::vector<double>> rows(layer + 1);
      for (size_t k = 0; k < layer; ++k) {
        rows[k] = clean[k][b];
        rows[k][chosen[k]] *= fraction;  // baseline: only n_k zeroed
      }
      rows[layer] = clean[layer][b];
      for (double& value : rows[layer]) value *= fraction;  // baseline: all zeros
      const auto derivative = [&](size_t k, int64_t j) {
        auto plus = rows, minus = rows;
        plus[k][j] += h;
        minus[k][j] -= h;
        return (probability_with_rows(model, image, label, plus) - probability_with_rows(model, image, label, minus)) /
               (2 * h);
      };
      for (int64_t j = 0; j < kHidden; ++j) layer_gradient_sum[j] += derivative(layer, j);
      for (size_t k = 0; k < layer; ++k) path_gradient_sum += derivative(k, chosen[k]);
    }
    double path_activation = 0.0;
    for (size_t k = 0; k < layer; ++k) path_activation += clean[k][b][chosen[k]];
    for (int64_t j = 0; j < kHidden; ++j)
      scores[j] += (layer_gradient_sum[j] + path_gradient_sum) * (clean[layer][b][j] + path_activation) /
                   static_cast<double>(steps) / static_cast<double>(images.size(0));
  }
  return scores;
}

void check_scores_close(const std::vector<double>& actual, const std::vector<double>& expected) {
  REQUIRE(actual.size() == expected.size());
  double largest = 0.0;
  for (double value : expected) largest = std::max(largest, std::abs(value));
  REQUIRE(largest > 1e-4);  // the scores carry signal, so a wrong one cannot hide under the tolerance
  for (size_t j = 0; j < actual.size(); ++j) {
    INFO("unit ", j);
    CHECK(std::abs(actual[j] - expected[j]) <= 1e-7 * largest);
  }
}

size_t argmax_of(const std::vector<double>& values) {
  return static_cast<size_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

}  // namespace

TEST_CASE("joint influence scores equal a brute-force Riemann sum of finite-difference gradients") {
  auto model = f64_vit(3);
  const Tensor images = f64_images(2, 4);
  const std::vector<Tensor> activations = class_token_activations(*model, images);
  REQUIRE(activations.size() == 2);
  CHECK(activations[0].shape() == Shape{2, kHidden});
  // Block 0 from nothing, then block 1 behind an arbitrary neuron of block 0 (not the argmax), m = 20.
  check_scores_close(joint_influence_scores(*model, images, 1, activations, {}, 20),
                     brute_force_joint_influence(*model, images, 1, {}, 20));
  check_scores_close(joint_influence_scores(*model, images, 2, activations, {11}, 20),
                     brute_force_joint_influence(*model, images, 2, {11}, 20));
  // Fewer steps change the sum: the step count is used, not fixed.
  check_scores_close(joint_influence_scores(*model, images, 2, activations, {11}, 3),
                     brute_force_joint_influence(*model, images, 2, {11}, 3));
}

TEST_CASE("the layer-progressive search picks at each block the argmax of the brute-force joint influence") {
  auto model = f64_vit(8);
  const Tensor images = f64_images(3, 9);
  const int64_t label = 0;
  const NeuronPath path = find_neuron_path(*model, images, label);  // m = 20
  CHECK(path.method == "joint_influence");
  CHECK(path.label == label);
  CHECK(path.layers == std::vector<int64_t>{0, 1});
  REQUIRE(path.neurons.size() == 2);
  std::vector<int64_t> chosen;
  for (size_t layer = 0; layer < 2; ++layer) {
    std::vector<double> scores = brute_force_joint_influence(*model, images, label, chosen, 20);
    const size_t best = argmax_of(scores);
    const double best_score = scores[best];
    // The winner is clear of the runner-up, so the comparison is not decided by rounding.
    scores[best] = -1e300;
    REQUIRE(best_score - scores[argmax_of(scores)] > 1e-6 * std::abs(best_score));
    INFO("block ", layer);
    CHECK(path.neurons[layer] == static_cast<int64_t>(best));
    CHECK(path.scores[layer] == doctest::Approx(best_score).epsilon(1e-7));
    chosen.push_back(static_cast<int64_t>(best));
  }
}

TEST_CASE("the activation-argmax path follows a hand-set activation pattern averaged over images") {
  auto model = vireo::testing::tiny_vit(2);
  // Block 0: image 0 has unit 3 at 5 and unit 7 at 4, image 1 has unit 7 at 4 only: the means are 2.5 and 4,
  // so unit 7 wins although image 0 alone would pick unit 3. Block 1: unit 30 at 1 in both images.
  std::vector<float> block0(2 * kHidden, 0.0f), block1(2 * kHidden, 0.0f);
  block0[3] = 5.0f;
  block0[7] = 4.0f;
  block0[kHidden + 7] = 4.0f;
  block1[30] = block1[kHidden + 30] = 1.0f;
  ScopedHooks pattern;
  for (const auto& [layer, values] : {std::pair{0, &block0}, std::pair{1, &block1}})
    pattern.add(model->register_forward_hook(act_point(layer), [values](const Tensor& output) {
      Tensor edited = output.clone();
      NoGrad no_grad;
      edited.select(1, 0).copy_(
          Tensor::from_vector(std::vector<double>(values->begin(), values->end()), {2, kHidden}));
      return edited;
    }));
  const NeuronPath path = argmax_neuron_path(*model, vireo::testing::random_normal({2, 3, 8, 8}, 1), 2);
  CHECK(path.method == "argmax");
  CHECK(path.neurons == std::vector<int64_t>{7, 30});
  CHECK(path.scores == std::vector<double>{4.0, 1.0});
}

TEST_CASE("random paths are drawn from a seed within each block's units") {
  auto model = vireo::testing::tiny_vit(2);
  const Tensor images = vireo::testing::random_normal({2, 3, 8, 8}, 1);
  const NeuronPath first = random_neuron_path(*model, images, 0, 11);
  CHECK(first.method == "random");
  CHECK(random_neuron_path(*model, images, 0, 11).neurons == first.neurons);
  bool another_differs = false;
  for (uint64_t seed = 12; seed < 16; ++seed) another_differs |= random_neuron_path(*model, images, 0, seed).neurons != first.neurons;
  CHECK(another_differs);
  for (int64_t neuron : first.neurons) CHECK((neuron >= 0 && neuron < kHidden));
  const std::vector<Tensor> activations = class_token_activations(*model, images);
  CHECK(first.scores[1] == doctest::Approx(activations[1].select(1, first.neurons[1]).mean().item()));
}

TEST_CASE("ablating a path zeroes only its class-token neurons and detaching restores the model bit for bit") {
  auto model = vireo::testing::tiny_vit(5);
  const Tensor images = vireo::testing::random_normal({3, 3, 8, 8}, 6);
  const Tensor clean_logits = [&] {
    NoGrad no_grad;
    return (*model)(images);
  }();
  const std::vector<Tensor> clean = class_token_activations(*model, images);
  NeuronPath path;
  path.label = 1;
  path.layers = {0, 1};
  path.neurons = {3, 20};
  path.scores = {0.0, 0.0};

  for (const double factor : {0.0, 2.5}) {
    AttachedIntervention attached = attach_neuron_path(*model, path, factor);
    Tensor block0;  // what block 0's MLP passes on, seen by a hook registered after the path's
    ScopedHooks observer;
    observer.add(model->register_forward_hook(act_point(0), [&block0](const Tensor& output) { block0 = output; }));
    Tensor steered_logits;
    {
      NoGrad no_grad;
      steered_logits = (*model)(images);
    }
    // Block 0 sees the clean input, so its class-token row is the clean row with unit 3 scaled.
    const std::vector<double> clean_row = clean[0].to_vector(), row = block0.select(1, 0).to_vector();
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t j = 0; j < kHidden; ++j) {
        const double expected = clean_row[b * kHidden + j] * (j == 3 ? factor : 1.0);
        CHECK(row[b * kHidden + j] == doctest::Approx(expected).epsilon(1e-6));
      }
    CHECK_FALSE(identical(steered_logits, clean_logits));
    attached.detach();
    CHECK_FALSE(attached.attached());
    NoGrad no_grad;
    CHECK(identical((*model)(images), clean_logits));
  }
  // Scaling by 1 is the identity, exactly.
  AttachedIntervention unit = attach_neuron_path(*model, path, 1.0);
  NoGrad no_grad;
  CHECK(identical((*model)(images), clean_logits));
  unit.detach();
}

TEST_CASE("measure_path_effect reports the label probability clean ablated and enhanced") {
  auto model = vireo::testing::tiny_vit(5);
  const Tensor images = vireo::testing::random_normal({4, 3, 8, 8}, 7);
  const NeuronPath path = argmax_neuron_path(*model, images, 2);
  const PathEffect effect = measure_path_effect(*model, path, images, 3.0);
  CHECK(effect.images == 4);
  CHECK(effect.enhancement_factor == 3.0);
  const double clean = mean_label_probability(*model, images, 2);
  CHECK(effect.clean_probability == clean);  // and the model is unsteered again afterwards
  AttachedIntervention ablated = attach_neuron_path(*model, path, 0.0);
  CHECK(effect.ablated_probability == mean_label_probability(*model, images, 2));
  ablated.detach();
  AttachedIntervention enhanced = attach_neuron_path(*model, path, 3.0);
  CHECK(effect.enhanced_probability == mean_label_probability(*model, images, 2));
  enhanced.detach();
  CHECK(effect.ablated_probability != clean);
  CHECK(effect.ablation_drop() == doctest::Approx(clean - effect.ablated_probability));
}

TEST_CASE("a neuron path file round-trips and a foreign file is refused naming its path") {
  vireo::testing::ScratchDirectory scratch;
  NeuronPathReport report;
  report.path = NeuronPath{.method = "joint_influence", .label = 4, .layers = {0, 1, 2}, .neurons = {5, 0, 17},
                           .scores = {0.25, -0.5, 1.5}};
  report.path.effect = PathEffect{.images = 10, .clean_probability = 0.75, .ablated_probability = 0.5,
                                  .enhancement_factor = 2.0, .enhanced_probability = 0.875};
  report.baselines.push_back(
      NeuronPath{.method = "random", .label = 4, .layers = {0, 1, 2}, .neurons = {1, 2, 3}, .scores = {0, 0, 0}});
  report.settings = {{"steps", "20"}};
  const std::string file = scratch.file("path.json");
  report.save(file);
  const NeuronPathReport loaded = NeuronPathReport::load(file);
  CHECK(loaded.path.method == "joint_influence");
  CHECK(loaded.path.label == 4);
  CHECK(loaded.path.neurons == report.path.neurons);
  CHECK(loaded.path.scores == report.path.scores);
  REQUIRE(loaded.path.effect.has_value());
  CHECK(loaded.path.effect->ablation_drop() == 0.25);
  CHECK(loaded.path.effect->enhanced_probability == 0.875);
  REQUIRE(loaded.baselines.size() == 1);
  CHECK(loaded.baselines[0].neurons == std::vector<int64_t>{1, 2, 3});
  CHECK_FALSE(loaded.baselines[0].effect.has_value());
  CHECK(loaded.settings == report.settings);

  const std::string foreign = scratch.file("foreign.json");
  std::ofstream(foreign) << R"({"class": 1, "layers": [0]})";
  check_error([&] { NeuronPathReport::load(foreign); }, {foreign.c_str(), "not a neuron path file"});
  check_error([&] { NeuronPathReport::load(scratch.file("missing.json")); }, {"missing.json"});
}

TEST_CASE("neuron paths refuse a mean-pooled ViT a label out of range and a neuron out of range") {
  manual_seed(1);
  auto mean_pooled = models::vit({.image_size = 8, .patch_size = 4, .depth = 1, .width = 8, .heads = 2,
                                  .pooling = models::Pooling::mean, .num_classes = 3});
  const Tensor images = vireo::testing::random_normal({1, 3, 8, 8}, 1);
  check_error([&] { find_neuron_path(*mean_pooled, images, 0); }, {"class token"});
  auto model = vireo::testing::tiny_vit(1);
  check_error([&] { find_neuron_path(*model, images, 3); }, {"label 3", "3 classes"});
  NeuronPath path{.method = "argmax", .label = 0, .layers = {1}, .neurons = {32}, .scores = {0}};
  check_error([&] { attach_neuron_path(*model, path, 0.0); }, {"neuron 32", "block 1", "32 MLP units"});
}

TEST_CASE("the README neuron path example runs as written") {
  vireo::testing::ScratchDirectory scratch;
  auto vit = vireo::testing::tiny_vit(4);
  const Tensor class_images = vireo::testing::random_normal({3, 3, 8, 8}, 2);
  const Tensor test_images = vireo::testing::random_normal({4, 3, 8, 8}, 3);
  const int64_t label = 1;
  const std::string file = scratch.file("path.json");
  // ---- README: Steering, neuron paths ----
  auto path = steering::find_neuron_path(*vit, class_images, label);          // {.layers, .neurons, .scores}
  auto argmax = steering::argmax_neuron_path(*vit, class_images, label);
  path.effect = steering::measure_path_effect(*vit, path, test_images, 2.0);  // p(label) clean/ablated/×2
  auto ablated = steering::attach_neuron_path(*vit, path, 0.0);               // ... ablated.detach();
  steering::NeuronPathReport{.path = path, .baselines = {argmax}}.save(file);
  // ----
  CHECK(ablated.attached());
  ablated.detach();
  const NeuronPathReport loaded = NeuronPathReport::load(file);
  CHECK(loaded.path.neurons == path.neurons);
  CHECK(loaded.baselines.at(0).neurons == argmax.neurons);
}
