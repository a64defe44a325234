// The Method interface on BYOL and SimCLR with tiny ResNet-18 backbones: a few SGD steps on synthetic
// views lower BYOL's loss, the target moves only through the EMA, SimCLR-ER reports its terms, and DINO
// runs multi-crop with its first-epoch freeze, center and teacher EMA.
#include <cmath>

#include "engine/optim/sgd.h"
#include "gradcheck.h"
#include "models/resnet.h"
#include "ssl/byol.h"
#include "ssl/dino_method.h"
#include "ssl/simclr.h"

using namespace vireo;
using vireo::testing::check_error;

namespace {
ssl::BackboneFactory tiny_resnet18() {
  return [] {
    return std::static_pointer_cast<models::Backbone>(models::resnet18(
        {.num_classes = 0, .stem = models::Stem::cifar, .in_channels = 1, .width = 0.125}));
  };
}
ssl::Views synthetic_views(uint64_t seed) {
  Generator g(seed);
  const Tensor images = randn({8, 1, 8, 8}, {}, &g);
  // Two "augmentations": additive noise of two draws.
  return {.images = {add(images, mul(randn({8, 1, 8, 8}, {}, &g), 0.1)),
                     add(images, mul(randn({8, 1, 8, 8}, {}, &g), 0.1))}};
}
std::vector<Tensor> values(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<Tensor> out;
  for (const auto& [name, tensor] : named) out.push_back(tensor);
  return out;
}
}  // namespace

TEST_CASE("byol method: a few SGD steps lower the loss on synthetic views") {
  ssl::Byol byol(tiny_resnet18(), {.hidden_features = 32, .projection_features = 16, .total_samples = 1000});
  const auto trainable = byol.trainable_parameters();
  CHECK(trainable.front().first.rfind("online.backbone.", 0) == 0);
  for (const Tensor& parameter : byol.target->parameters()) CHECK_FALSE(parameter.requires_grad());
  // The target starts as a copy of the online network.
  CHECK(byol.target->parameters()[0].to_vector() == byol.online->parameters()[0].to_vector());

  optim::SGD optimizer(values(trainable), {.lr = 0.05, .momentum = 0.9});
  const ssl::Views views = synthetic_views(1);
  std::vector<double> losses;
  int64_t samples_seen = 0;
  for (int step = 0; step < 8; ++step) {
    optimizer.zero_grad();
    ssl::StepOutput out = byol.forward(views, samples_seen);
    losses.push_back(out.metrics.at("loss"));
    out.loss.backward();
    byol.before_optimizer_step(samples_seen);
    optimizer.step();
    byol.after_optimizer_step(samples_seen);
    samples_seen += 8;
  }
  INFO("first loss ", losses.front(), ", last ", losses.back());
  CHECK(losses.back() < 0.7 * losses.front());
  // The EMA moved the target toward the (changed) online network, but not onto it.
  const auto online_weight = byol.online->parameters()[0].to_vector();
  const auto target_weight = byol.target->parameters()[0].to_vector();
  CHECK(online_weight != target_weight);
  check_error([&] { byol.forward({.images = {views.images[0]}}, 0); }, {"2 views"});
  check_error([] { ssl::Byol(tiny_resnet18(), {.total_samples = 0}); }, {"total_samples"});
}

TEST_CASE("simclr method: nt-xent and the er variant's named terms") {
  ssl::Simclr simclr(tiny_resnet18(), {.hidden_features = 32, .projection_features = 16});
  const ssl::Views views = synthetic_views(2);
  const ssl::StepOutput plain = simclr.forward(views, 0);
  CHECK(plain.loss.item() > 0);
  CHECK(plain.metrics.count("loss") == 1);
  plain.loss.backward();
  CHECK(simclr.trainable_parameters().front().second.grad().defined());
  ssl::Simclr er(tiny_resnet18(), {.hidden_features = 32, .projection_features = 16, .entropy_reconstruction = true});
  const ssl::StepOutput out = er.forward(views, 0);
  CHECK(out.metrics.count("entropy") == 1);
  CHECK(out.metrics.count("reconstruction") == 1);
  CHECK(out.metrics.at("loss") == doctest::Approx(out.metrics.at("reconstruction") - out.metrics.at("entropy")));
}

TEST_CASE("dino method: multi-crop step with the frozen last layer and the center") {
  ssl::Dino dino(tiny_resnet18(), {.head = {.hidden_features = 16, .bottleneck_features = 8, .out_features = 12},
                                   .loss = {.warmup_teacher_temperature_samples = 100},
                                   .total_samples = 1000,
                                   .freeze_last_layer_samples = 16});
  for (const auto& [name, tensor] : dino.trainable_parameters()) CHECK(name != "student.projector.last_layer.weight_g");
  CHECK(dino.state_dict().count("loss.center") == 1);
  Generator g(5);
  const Tensor globals = randn({4, 1, 8, 8}, {}, &g);
  const ssl::Views views{.images = {globals, add(globals, 0.1), randn({4, 1, 4, 4}, {}, &g)}};  // 2 global, 1 local
  optim::SGD optimizer(values(dino.trainable_parameters()), {.lr = 0.01});
  const std::vector<double> teacher_before = dino.teacher->parameters()[0].to_vector();
  for (int64_t samples_seen : {0, 4, 8, 12, 16}) {
    optimizer.zero_grad();
    ssl::StepOutput out = dino.forward(views, samples_seen);
    CHECK(std::isfinite(out.metrics.at("loss")));
    CHECK(out.metrics.at("teacher_temperature") == doctest::Approx(0.04));
    out.loss.backward();
    dino.before_optimizer_step(samples_seen);
    // The last layer learns only after freeze_last_layer_samples.
    CHECK(dino.student_head->last_layer->weight_v.grad().defined() == (samples_seen >= 16));
    optimizer.step();
    dino.after_optimizer_step(samples_seen);
  }
  double center_norm = 0;
  for (double v : dino.loss->center.to_vector()) center_norm += v * v;
  CHECK(center_norm > 0);  // the center moved from 0
  CHECK(dino.teacher->parameters()[0].to_vector() != teacher_before);
  ssl::Dino dino_er(tiny_resnet18(), {.head = {.hidden_features = 16, .bottleneck_features = 8, .out_features = 12},
                                      .total_samples = 1000,
                                      .entropy_reconstruction = true});
  const ssl::StepOutput er = dino_er.forward(views, 0);
  CHECK(er.metrics.count("entropy") == 1);
  CHECK(er.metrics.at("loss") == doctest::Approx(er.metrics.at("reconstruction") - er.metrics.at("entropy")));
  check_error([&] { dino.forward({.images = {globals}}, 0); }, {"2 global"});
}

TEST_CASE("dino method: local crops train the student but leave its running statistics to the global crops") {
  const ssl::DinoOptions options{.head = {.hidden_features = 16, .bottleneck_features = 8, .out_features = 12},
                                 .total_samples = 1000};
  Generator g(7);
  const Tensor globals = randn({4, 1, 8, 8}, {}, &g);
  const Tensor first = add(globals, 0.1), second = add(globals, -0.1);
  // Local crops of another size and far from the globals' statistics (mean 3, spread 4).
  const Tensor local = add(mul(randn({4, 1, 4, 4}, {}, &g), 4.0), 3.0);
  manual_seed(11);
  ssl::Dino with_locals(tiny_resnet18(), options);
  manual_seed(11);
  ssl::Dino globals_only(tiny_resnet18(), options);
  const auto buffers_before = with_locals.student->named_buffers();
  std::vector<std::vector<double>> initial;
  for (const auto& [name, buffer] : buffers_before) initial.push_back(buffer.to_vector());

  const ssl::StepOutput out = with_locals.forward({.images = {first, second, local, local}}, 0);
  const double loss_without_locals = globals_only.forward({.images = {first, second}}, 0).metrics.at("loss");
  const auto kept = with_locals.student->named_buffers(), reference = globals_only.student->named_buffers();
  REQUIRE(kept.size() == reference.size());
  bool moved = false;
  for (size_t i = 0; i < kept.size(); ++i) {
    INFO(kept[i].first);
    CHECK(kept[i].second.to_vector() == reference[i].second.to_vector());  // exactly the globals' update
    moved = moved || kept[i].second.to_vector() != initial[i];
  }
  CHECK(moved);  // the global crops did update them
  // The local crops still reach the loss and the student's gradient.
  out.loss.backward();
  CHECK(with_locals.student->parameters()[0].grad().defined());
  CHECK(out.metrics.at("loss") != doctest::Approx(loss_without_locals));
}
