// DUET (ssl/duet.h): the Jensen–Shannon divergence and the binned targets against hand-computed values,
// an f64 gradient check through the whole method's loss, the exact reduction to SimCLR at G = 0 and
// G = 1, a few SGD steps on a fixed synthetic batch that lower both terms, and the README example.
#include <cmath>
#include <numbers>

#include "engine/nn/linear.h"
#include "engine/optim/sgd.h"
#include "gradcheck.h"
#include "models/p4_resnet.h"
#include "models/resnet.h"
#include "ssl/duet.h"
#include "ssl/hssl.h"
#include "ssl/simclr.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;

namespace {

// The smallest backbone: flatten the image, one linear map to D features.
class LinearBackbone : public models::Backbone {
 public:
  LinearBackbone(int64_t in_features, int64_t features) {
    linear = register_module("linear", std::make_shared<nn::Linear>(in_features, features));
  }
  using nn::Module::forward;
  Tensor forward(const Tensor& images) override { return forward_features(images); }
  Tensor forward_features(const Tensor& images) override { return (*linear)(images.flatten(1)); }
  int64_t num_features() const override { return linear->out_features; }
  int64_t num_classes() const override { return 0; }
  std::shared_ptr<nn::Linear> linear;
};

ssl::BackboneFactory tiny_resnet18() {
  return [] {
    return std::static_pointer_cast<models::Backbone>(models::resnet18(
        {.num_classes = 0, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125}));
  };
}

// Two noisy views of random images, each "rotated" by the angle its parameters report.
ssl::Views synthetic_views(uint64_t seed, int64_t n = 6, int64_t side = 8) {
  Generator g(seed);
  const Tensor images = randn({n, 1, side, side}, {}, &g);
  std::vector<double> angles1, angles2;
  for (int64_t i = 0; i < n; ++i) {
    angles1.push_back(-180.0 + 360.0 * g.uniform());
    angles2.push_back(-180.0 + 360.0 * g.uniform());
  }
  return {.images = {add(images, mul(randn({n, 1, side, side}, {}, &g), 0.1)),
                     add(images, mul(randn({n, 1, side, side}, {}, &g), 0.1))},
          .transformation_parameters = {Tensor::from_vector(angles1, {n, 1}), Tensor::from_vector(angles2, {n, 1})}};
}

}  // namespace

TEST_CASE("duet: jensen-shannon divergence matches a hand-computed value") {
  // p = softmax(0, log 3) = (1/4, 3/4), t = (1/2, 1/2), m = (3/8, 5/8):
  // JSD = ½[¼ log(⅔) + ¾ log(6/5)] + ½[½ log(4/3) + ½ log(4/5)]
  const double expected = 0.5 * (0.25 * std::log(2.0 / 3.0) + 0.75 * std::log(6.0 / 5.0)) +
                          0.5 * (0.5 * std::log(4.0 / 3.0) + 0.5 * std::log(4.0 / 5.0));
  const Tensor logits = Tensor::from_vector({0.0, std::log(3.0)}, {1, 2}, {.dtype = DType::f64});
  const Tensor target = Tensor::from_vector({0.5, 0.5}, {1, 2}, {.dtype = DType::f64});
  CHECK(ssl::jensen_shannon_divergence(logits, target).item() == doctest::Approx(expected).epsilon(1e-12));
  CHECK(expected == doctest::Approx(0.0338224).epsilon(1e-5));
  // Identical distributions: 0; disjoint supports: log 2 (the maximum); a zero target entry is allowed.
  const Tensor same = Tensor::from_vector({0.25, 0.75}, {1, 2}, {.dtype = DType::f64});
  CHECK(ssl::jensen_shannon_divergence(logits, same).item() == doctest::Approx(0.0).epsilon(1e-12));
  const Tensor sharp = Tensor::from_vector({0.0, 60.0}, {1, 2}, {.dtype = DType::f64});
  const Tensor opposite = Tensor::from_vector({1.0, 0.0}, {1, 2}, {.dtype = DType::f64});
  CHECK(ssl::jensen_shannon_divergence(sharp, opposite).item() == doctest::Approx(std::log(2.0)).epsilon(1e-9));
  // A batch is averaged.
  const Tensor batch_logits = cat({logits, logits}, 0);
  const Tensor batch_target = cat({target, same}, 0);
  CHECK(ssl::jensen_shannon_divergence(batch_logits, batch_target).item() ==
        doctest::Approx(expected / 2).epsilon(1e-12));
  check_error([&] { ssl::jensen_shannon_divergence(logits, cat({target, target}, 0)); },
              {"jensen_shannon_divergence", "[1, 2]", "[2, 2]"});
}

TEST_CASE("duet: the normalized parameters and the binned gaussian target match hand-computed values") {
  ssl::DuetOptions rotation{.groups = 4};
  check_close(ssl::duet_normalized_parameter(Tensor::from_vector({0.0, 180.0, -90.0, 90.0}, {4}), rotation),
              {0.5, 0.0, 0.25, 0.75}, 1e-12);
  ssl::DuetOptions scale{.groups = 4, .transformation = ssl::DuetTransformation::crop_scale, .image_size = 28};
  check_close(ssl::duet_normalized_parameter(Tensor::from_vector({28.0, 7.0}, {2}), scale), {0.0, 0.75}, 1e-12);
  ssl::DuetOptions flip{.groups = 2, .transformation = ssl::DuetTransformation::flip};
  check_close(ssl::duet_normalized_parameter(Tensor::from_vector({0.0, 1.0}, {2}), flip), {0.25, 0.75}, 1e-12);
  check_error([] { ssl::duet_normalized_parameter(Tensor::from_vector({7.0}, {1}),
                                                  {.transformation = ssl::DuetTransformation::crop_scale}); },
              {"crop_scale", "image_size"});

  // Gaussian σ = 0.2 centred on θ = 0.5, bins of width ¼: with Φ(−1.25) = 0.1056498 and Φ(−2.5) = 0.0062097,
  // the inner bins hold 0.5 − 0.1056498 = 0.3943502, the outer ones 0.1056498 − 0.0062097 = 0.0994401;
  // normalized by their sum 0.9875806: 0.3993094 and 0.1006906.
  const Tensor target = ssl::duet_target(Tensor::from_vector({0.5}, {1}), scale);
  check_close(target, {0.1006906, 0.3993094, 0.3993094, 0.1006906}, 1e-5);
}

TEST_CASE("duet: the von mises target integrates the circular density over each bin") {
  const ssl::DuetOptions options{.groups = 8, .von_mises_concentration = 3.0};
  const std::vector<double> centers = {0.0, 0.3, 0.93};
  const std::vector<double> target = ssl::duet_target(Tensor::from_vector(centers, {3}), options).to_vector();
  for (size_t row = 0; row < centers.size(); ++row) {
    // An independent integration: the midpoint rule with 20 000 points per bin.
    std::vector<double> reference(8);
    double total = 0;
    for (int k = 0; k < 8; ++k) {
      for (int i = 0; i < 20000; ++i) {
        const double u = (k + (i + 0.5) / 20000.0) / 8.0;
        reference[k] += std::exp(3.0 * std::cos(2 * std::numbers::pi * (u - centers[row])));
      }
      total += reference[k];
    }
    int argmax = 0;
    for (int k = 0; k < 8; ++k) {
      INFO("row ", row, " bin ", k);
      CHECK(target[row * 8 + k] == doctest::Approx(reference[k] / total).epsilon(1e-7));
      if (target[row * 8 + k] > target[row * 8 + argmax]) argmax = k;
    }
    // The most probable bin holds θ — across the wrap-around too (θ = 0.93 is in bin 7).
    CHECK(argmax == static_cast<int>(std::floor(centers[row] * 8)));
  }
  // θ = 0 sits on the boundary of bins 0 and 7, which share the mass symmetrically.
  CHECK(target[0] == doctest::Approx(target[7]).epsilon(1e-12));
  CHECK(target[1] == doctest::Approx(target[6]).epsilon(1e-12));
}

TEST_CASE("duet: gradient check in f64 through the whole loss") {
  ssl::Duet duet([] { return std::make_shared<LinearBackbone>(16, 12); },
                 {.groups = 3, .hidden_features = 6, .projection_features = 5, .group_weight = 2.0});
  duet.to(DType::f64);
  ssl::Views views = synthetic_views(3, 4, 4);
  for (Tensor& images : views.images) images = images.to(DType::f64);
  std::vector<Tensor> parameters = duet.parameters();
  CHECK_GRADCHECK([&](const std::vector<Tensor>&) { return duet.forward(views, 0).loss; }, parameters);
  const ssl::StepOutput out = duet.forward(views, 0);
  CHECK(out.metrics.at("group_loss") > 0);
  CHECK(out.metrics.at("loss") == doctest::Approx(out.metrics.at("content_loss") + 2.0 * out.metrics.at("group_loss")));
}

TEST_CASE("duet: with G = 0 or G = 1 the loss is exactly SimCLR's on the same weights") {
  manual_seed(7);
  ssl::Simclr simclr(tiny_resnet18(), {.hidden_features = 32, .projection_features = 16});
  const ssl::Views views = synthetic_views(5);
  const double simclr_loss = simclr.forward(views, 0).loss.item();
  for (int64_t groups : {0, 1}) {
    INFO("G = ", groups);
    ssl::Duet duet(tiny_resnet18(), {.groups = groups, .hidden_features = 32, .projection_features = 16});
    duet.backbone_module->load_state_dict(simclr.encoder->backbone->state_dict());
    duet.projector->load_state_dict(simclr.encoder->projector->state_dict());
    const ssl::StepOutput out = duet.forward(views, 0);
    CHECK(out.loss.item() == doctest::Approx(simclr_loss).epsilon(1e-12));
    CHECK(out.metrics.at("group_loss") == doctest::Approx(0.0).epsilon(1e-12));
  }
  // Any G ≥ 2 adds a positive group term.
  ssl::Duet grouped(tiny_resnet18(), {.groups = 8, .hidden_features = 32, .projection_features = 16});
  CHECK(grouped.forward(views, 0).metrics.at("group_loss") > 0);
  check_error([&] { grouped.forward({.images = views.images}, 0); }, {"Duet", "transformation parameters"});
  check_error([] { ssl::Duet(tiny_resnet18(), {.groups = 3}); }, {"Duet", "groups 3", "64"});
}

TEST_CASE("duet: a few SGD steps lower both terms on a fixed synthetic batch") {
  manual_seed(11);
  ssl::Duet duet([] { return std::make_shared<LinearBackbone>(64, 32); },
                 {.groups = 4, .hidden_features = 32, .projection_features = 16, .group_weight = 10.0});
  std::vector<Tensor> parameters = duet.parameters();
  optim::SGD optimizer(parameters, {.lr = 0.05, .momentum = 0.9});
  const ssl::Views views = synthetic_views(9, 16, 8);
  std::vector<ssl::StepOutput> history;
  for (int step = 0; step < 30; ++step) {
    optimizer.zero_grad();
    history.push_back(duet.forward(views, step * 16));
    history.back().loss.backward();
    optimizer.step();
  }
  const auto& first = history.front().metrics;
  const auto& last = history.back().metrics;
  INFO("content ", first.at("content_loss"), " -> ", last.at("content_loss"), ", group ", first.at("group_loss"),
       " -> ", last.at("group_loss"), ", accuracy ", last.at("group_accuracy"));
  CHECK(last.at("content_loss") < first.at("content_loss"));
  CHECK(last.at("group_loss") < 0.7 * first.at("group_loss"));
  CHECK(last.at("group_accuracy") > first.at("group_accuracy"));
}

TEST_CASE("duet: the README example runs as written") {
  manual_seed(13);
  const ssl::BackboneFactory make_backbone = tiny_resnet18();
  const ssl::Views views = synthetic_views(15, 4, 8);
  const Tensor &view1 = views.images[0], &view2 = views.images[1];
  const Tensor &angles1 = views.transformation_parameters[0], &angles2 = views.transformation_parameters[1];
  const int64_t samples_seen = 0;
  // --- README ---
  ssl::Duet duet(make_backbone, {.groups = 8, .group_weight = 10.0,
                                 .transformation = ssl::DuetTransformation::rotation});
  ssl::StepOutput step = duet.forward({.images = {view1, view2},
                                       .transformation_parameters = {angles1, angles2}},  // [N, 1], degrees
                                      samples_seen);
  ssl::Hssl hssl([] { return models::p4_resnet({.in_channels = 1, .width = 16}); },
                 {.fibers = ssl::HsslFibers::rotation});
  // --- end README ---
  for (const char* key : {"loss", "content_loss", "group_loss", "group_accuracy"}) CHECK(step.metrics.count(key) == 1);
  CHECK(std::isfinite(step.loss.item()));
  CHECK(std::isfinite(hssl.forward({.images = {view1}}, samples_seen).loss.item()));
}
