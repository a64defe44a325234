// Homomorphic SSL (ssl/hssl.h): the fiber loss against a hand-computed value, an f64 gradient check through
// it, the rotation fibers of a P4ResNet shifting exactly under a 90° rotation of the input, and the method
// training (loss finite and falling) with rotation fibers, translation fibers and the ablation.
#include <cmath>

#include "engine/optim/sgd.h"
#include "gradcheck.h"
#include "models/p4_resnet.h"
#include "models/resnet.h"
#include "ssl/hssl.h"

using namespace vireo;
using vireo::testing::check_error;
using vireo::testing::random_input;

namespace {

ssl::BackboneFactory p4_resnet(bool equivariant) {
  return [equivariant] {
    return std::static_pointer_cast<models::Backbone>(std::make_shared<models::P4ResNet>(
        models::P4ResNetOptions{.in_channels = 1, .width = 4, .blocks_per_stage = {1, 1}, .equivariant = equivariant}));
  };
}

ssl::BackboneFactory tiny_resnet18() {
  return [] {
    return std::static_pointer_cast<models::Backbone>(models::resnet18(
        {.num_classes = 0, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125}));
  };
}

std::vector<Tensor> values(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  for (const auto& [name, tensor] : named) out.push_back(tensor);
  return out;
}

// A few SGD steps of `method` on one fixed batch; the losses per step.
std::vector<double> train(ssl::Method& method, const Tensor& images, int steps) {
  optim::SGD optimizer(values(method.trainable_parameters()), {.lr = 0.05, .momentum = 0.9});
  std::vector<double> losses;
  for (int step = 0; step < steps; ++step) {
    optimizer.zero_grad();
    // The same samples_seen every step: the same fiber pairs, so the loss curve shows learning, not redraws.
    ssl::StepOutput out = method.forward({.images = {images}}, 0);
    losses.push_back(out.metrics.at("loss"));
    out.loss.backward();
    optimizer.step();
  }
  return losses;
}

}  // namespace

TEST_CASE("hssl: the fiber loss matches a hand-computed value") {
  // Two images, two 2-D fibers each (F [N, D, K]): image 0 has (1, 0) and (0, 1), image 1 (−1, 0) and
  // (0, −1). Pairs (0, 1): a = {(1, 0), (−1, 0)}, b = {(0, 1), (0, −1)}. For every fiber the positive has
  // cosine 0, one negative cosine 0 and one −1, so with τ = ½:
  //   ℓ = −log(e⁰ / (e⁰ + e⁰ + e⁻²)) = log(2 + e⁻²).
  const Tensor fibers = Tensor::from_vector({1, 0, 0, 1, -1, 0, 0, -1}, {2, 2, 2}, {.dtype = DType::f64});
  const double expected = std::log(2.0 + std::exp(-2.0));
  CHECK(ssl::hssl_fiber_loss(fibers, {0, 0}, {1, 1}, nullptr, 0.5).item() == doctest::Approx(expected).epsilon(1e-12));
  // Picking (1, 0) for image 0 and (0, 1) for image 1 gathers exactly those fibers.
  const Tensor a = Tensor::from_vector({0, 1, -1, 0}, {2, 2}, {.dtype = DType::f64});
  const Tensor b = Tensor::from_vector({1, 0, 0, -1}, {2, 2}, {.dtype = DType::f64});
  CHECK(ssl::hssl_fiber_loss(fibers, {1, 0}, {0, 1}, nullptr, 0.3).item() ==
        doctest::Approx(ssl::nt_xent_loss(a, b, 0.3).item()).epsilon(1e-12));
  check_error([&] { ssl::hssl_fiber_loss(fibers, {0, 2}, {1, 1}, nullptr, 0.5); }, {"hssl_fiber_loss", "2", "[0, 2)"});
}

TEST_CASE("hssl: the two-view fiber loss picks each pair's fibers from their own views") {
  // With both views equal it is the one-view loss; with different views it is NT-Xent of the fibers picked
  // from each, gathered here by hand.
  const Tensor first = Tensor::from_vector({1, 0, 0, 1, -1, 0, 0, -1}, {2, 2, 2}, {.dtype = DType::f64});
  const Tensor second = Tensor::from_vector({0.5, 2, -1, 0.25, 3, -2, 1, 0}, {2, 2, 2}, {.dtype = DType::f64});
  CHECK(ssl::hssl_fiber_loss(first, first, {0, 1}, {1, 0}, nullptr, 0.5).item() ==
        ssl::hssl_fiber_loss(first, {0, 1}, {1, 0}, nullptr, 0.5).item());
  // Image 0: fiber 0 of the first view (1, 0), fiber 1 of the second (2, 0.25); image 1: fiber 1 of the
  // first (0, −1), fiber 0 of the second (3, 1).
  const Tensor a = Tensor::from_vector({1, 0, 0, -1}, {2, 2}, {.dtype = DType::f64});
  const Tensor b = Tensor::from_vector({2, 0.25, 3, 1}, {2, 2}, {.dtype = DType::f64});
  CHECK(ssl::hssl_fiber_loss(first, second, {0, 1}, {1, 0}, nullptr, 0.4).item() ==
        doctest::Approx(ssl::nt_xent_loss(a, b, 0.4).item()).epsilon(1e-12));
  check_error([&] { ssl::hssl_fiber_loss(first, second.narrow(0, 0, 1), {0, 1}, {1, 0}, nullptr, 0.4); },
              {"hssl_fiber_loss", "one shape"});
}

TEST_CASE("hssl: gradient check in f64 through the two-view fiber loss") {
  std::vector<Tensor> inputs = {random_input({3, 2, 4}, 5), random_input({3, 2, 4}, 6)};
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) { return ssl::hssl_fiber_loss(in[0], in[1], {0, 3, 2}, {1, 1, 0}, nullptr, 0.3); },
      inputs);
}

TEST_CASE("hssl: gradient check in f64 through the fiber loss") {
  std::vector<Tensor> inputs = {random_input({4, 3, 5}, 1)};
  CHECK_GRADCHECK(
      [](const std::vector<Tensor>& in) {
        return ssl::hssl_fiber_loss(in[0], {0, 4, 2, 1}, {3, 1, 0, 4}, nullptr, 0.2);
      },
      inputs);
}

TEST_CASE("hssl: rotation fibers of a P4ResNet shift exactly when the input turns") {
  manual_seed(2);
  auto backbone = p4_resnet(true)();
  backbone->to(DType::f64);
  Generator g(3);
  const Tensor images = randn({3, 1, 8, 8}, {.dtype = DType::f64}, &g);
  const Tensor fibers = ssl::hssl_fibers(*backbone, images, ssl::HsslFibers::rotation);
  CHECK(fibers.shape() == Shape{3, 8, 4});
  const Tensor turned = ssl::hssl_fibers(*backbone, models::rotate_quarter_turns(images, 1), ssl::HsslFibers::rotation);
  for (int64_t g1 = 0; g1 < 4; ++g1) {
    const std::vector<double> expected = fibers.select(2, (g1 + 3) % 4).to_vector();
    const std::vector<double> actual = turned.select(2, g1).to_vector();
    for (size_t i = 0; i < expected.size(); ++i) CHECK(std::abs(actual[i] - expected[i]) < 1e-10);
  }
  // Translation fibers: one per spatial position of the 4×4 map.
  CHECK(ssl::hssl_fibers(*backbone, images, ssl::HsslFibers::translation).shape() == Shape{3, 32, 16});
}

TEST_CASE("hssl: the method trains with rotation fibers and with its non-equivariant ablation") {
  Generator g(4);
  const Tensor images = randn({8, 1, 8, 8}, {}, &g);
  for (bool equivariant : {true, false}) {
    INFO("equivariant ", equivariant);
    manual_seed(5);
    ssl::Hssl hssl(p4_resnet(equivariant), {.fibers = ssl::HsslFibers::rotation, .hidden_features = 32,
                                            .projection_features = 16});
    CHECK(hssl.trainable_parameters().front().first.rfind("backbone.", 0) == 0);
    const std::vector<double> losses = train(hssl, images, 10);
    for (double loss : losses) CHECK(std::isfinite(loss));
    INFO("first loss ", losses.front(), ", last ", losses.back());
    CHECK(losses.back() < 0.8 * losses.front());
  }
}

TEST_CASE("hssl: pairs across two views take one fiber from each view and train") {
  Generator g(7);
  const Tensor images = randn({8, 1, 8, 8}, {}, &g), other = randn({8, 1, 8, 8}, {}, &g);
  const ssl::HsslOptions within{.fibers = ssl::HsslFibers::rotation, .hidden_features = 32, .projection_features = 16};
  ssl::HsslOptions across_options = within;
  across_options.pairs_across_views = true;
  manual_seed(8);
  ssl::Hssl one_view(p4_resnet(true), within);
  manual_seed(8);
  ssl::Hssl across(p4_resnet(true), across_options);
  // Two copies of one view draw the same pairs from the same fibers: the one-view loss.
  CHECK(across.forward({.images = {images, images}}, 3).loss.item() ==
        doctest::Approx(one_view.forward({.images = {images}}, 3).loss.item()).epsilon(1e-6));
  // Different views give a different loss; one view is refused.
  CHECK(across.forward({.images = {images, other}}, 3).loss.item() !=
        doctest::Approx(one_view.forward({.images = {images}}, 3).loss.item()).epsilon(1e-3));
  check_error([&] { across.forward({.images = {images}}, 3); }, {"Hssl", "exactly 2 views"});
  // It learns: the loss of a fixed pair of views falls.
  optim::SGD optimizer(values(across.trainable_parameters()), {.lr = 0.05, .momentum = 0.9});
  std::vector<double> losses;
  for (int step = 0; step < 10; ++step) {
    optimizer.zero_grad();
    ssl::StepOutput out = across.forward({.images = {images, models::rotate_quarter_turns(images, 1)}}, 0);
    losses.push_back(out.loss.item());
    out.loss.backward();
    optimizer.step();
  }
  INFO("first loss ", losses.front(), ", last ", losses.back());
  CHECK(losses.back() < 0.8 * losses.front());
}

TEST_CASE("hssl: translation fibers of a ResNet train and the pairs follow samples_seen") {
  Generator g(6);
  const Tensor images = randn({8, 1, 16, 16}, {}, &g);
  manual_seed(7);
  ssl::Hssl hssl(tiny_resnet18(), {.fibers = ssl::HsslFibers::translation, .hidden_features = 32,
                                   .projection_features = 16, .seed = 3});
  // The same step draws the same pairs; another step other pairs.
  const double at_zero = hssl.forward({.images = {images}}, 0).loss.item();
  CHECK(hssl.forward({.images = {images}}, 0).loss.item() == at_zero);
  CHECK(hssl.forward({.images = {images}}, 8).loss.item() != at_zero);
  const std::vector<double> losses = train(hssl, images, 10);
  for (double loss : losses) CHECK(std::isfinite(loss));
  INFO("first loss ", losses.front(), ", last ", losses.back());
  CHECK(losses.back() < 0.8 * losses.front());

  check_error([] { ssl::Hssl(tiny_resnet18(), {.fibers = ssl::HsslFibers::rotation}); },
              {"Hssl", "rotation fibers need a P4ResNet"});
  check_error([&] { hssl.forward({.images = {randn({8, 1, 8, 8})}}, 0); }, {"Hssl", "only 1 fiber"});
}
