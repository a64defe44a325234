// Linear probe on frozen features: linearly separable features are classified (almost) perfectly with SGD
// and with Adam, random labels give chance on held-out data however well the training set is fit, the same
// seed gives the same probe, the standardization uses the training set's statistics, bad arguments.
#include <cmath>
#include <vector>

#include "gradcheck.h"
#include "training/eval/linear_probe.h"

using namespace vireo;
using namespace vireo::eval;
using vireo::testing::check_error;

namespace {

struct Features {
  Tensor features, labels;
};

// Gaussian clusters around well-separated class means: linearly separable with overwhelming probability.
// An offset and unequal scales per dimension give the standardization something to do.
Features separable(int64_t count, int64_t classes, int64_t width, uint64_t seed) {
  Generator means_generator(100);
  const Tensor means = randn({classes, width}, {}, &means_generator) * 3.0;
  Generator generator(seed);
  const Tensor labels = randint(0, classes, {count}, {.dtype = DType::i64}, &generator);
  const Tensor scales = linspace(0.5, 4.0, width);
  const Tensor features = (index_select(means, 0, labels) + randn({count, width}, {}, &generator) * 0.5) * scales + 7.0;
  return {features, labels};
}

}  // namespace

TEST_CASE("a linear probe classifies linearly separable features almost perfectly") {
  const Features train = separable(400, 4, 16, 1), test = separable(200, 4, 16, 2);
  for (ProbeOptimizer optimizer : {ProbeOptimizer::sgd, ProbeOptimizer::adam}) {
    const char* name = optimizer == ProbeOptimizer::sgd ? "SGD" : "Adam";
    INFO(name);
    const LinearProbeResult result = linear_probe(
        train.features, train.labels, test.features, test.labels,
        {.epochs = 20, .batch_size = 64, .optimizer = optimizer, .lr = optimizer == ProbeOptimizer::sgd ? 0.1 : 0.01});
    CHECK(result.train_top1 >= 0.99);
    CHECK(result.test_top1 >= 0.98);
    REQUIRE(result.epoch_losses.size() == 20);
    CHECK(result.epoch_losses.back() < 0.25 * result.epoch_losses.front());
    CHECK(result.classifier->weight.shape() == Shape{4, 16});
  }
}

TEST_CASE("a linear probe on random labels is at chance on held-out data") {
  Generator generator(3);
  // 64-dimensional features, 128 training examples: enough room to fit random labels.
  const Tensor train_features = randn({128, 64}, {}, &generator);
  const Tensor train_labels = randint(0, 4, {128}, {.dtype = DType::i64}, &generator);
  const Tensor test_features = randn({1000, 64}, {}, &generator);
  const Tensor test_labels = randint(0, 4, {1000}, {.dtype = DType::i64}, &generator);
  const LinearProbeResult result =
      linear_probe(train_features, train_labels, test_features, test_labels, {.epochs = 60, .batch_size = 32});
  INFO("train ", result.train_top1, ", test ", result.test_top1);
  CHECK(result.train_top1 > 0.6);  // well above chance: the probe fits the noise it was given
  // Chance is 1/4; the standard error over 1000 test examples is 0.014.
  CHECK(std::abs(result.test_top1 - 0.25) < 0.06);
}

TEST_CASE("a linear probe is deterministic from its seed") {
  const Features train = separable(120, 3, 8, 4), test = separable(60, 3, 8, 5);
  const LinearProbeOptions options{.epochs = 3, .batch_size = 16, .seed = 42};
  const LinearProbeResult a = linear_probe(train.features, train.labels, test.features, test.labels, options);
  const LinearProbeResult b = linear_probe(train.features, train.labels, test.features, test.labels, options);
  CHECK(a.epoch_losses == b.epoch_losses);
  CHECK(a.classifier->weight.to_vector() == b.classifier->weight.to_vector());
  CHECK(a.classifier->bias.to_vector() == b.classifier->bias.to_vector());
  LinearProbeOptions other = options;
  other.seed = 43;
  const LinearProbeResult c = linear_probe(train.features, train.labels, test.features, test.labels, other);
  CHECK(c.epoch_losses != a.epoch_losses);
}

TEST_CASE("the probe standardizes with the training set's mean and population std") {
  const Features train = separable(50, 3, 4, 6), test = separable(20, 3, 4, 7);
  const LinearProbeResult result =
      linear_probe(train.features, train.labels, test.features, test.labels, {.epochs = 1, .batch_size = 50});
  const std::vector<double> values = train.features.to_vector();
  std::vector<double> mean(4, 0.0), deviation(4, 0.0);
  for (size_t i = 0; i < values.size(); ++i) mean[i % 4] += values[i] / 50.0;
  for (size_t i = 0; i < values.size(); ++i) deviation[i % 4] += (values[i] - mean[i % 4]) * (values[i] - mean[i % 4]) / 50.0;
  for (double& d : deviation) d = std::sqrt(d);
  vireo::testing::check_close(result.feature_mean, mean, 1e-5);
  vireo::testing::check_close(result.feature_std, deviation, 1e-5);
  const LinearProbeResult raw = linear_probe(train.features, train.labels, test.features, test.labels,
                                             {.epochs = 1, .batch_size = 50, .standardize = false});
  CHECK_FALSE(raw.feature_mean.defined());
}

TEST_CASE("linear probe arguments are checked") {
  const Tensor features = zeros({4, 3});
  const Tensor labels = vireo::testing::indices({0, 1, 0, 1}, {4});
  check_error([&] { linear_probe(features, labels, zeros({4, 2}), labels); }, {"linear_probe", "differ in width"});
  check_error([&] { linear_probe(features, labels, features, labels, {.epochs = 0}); }, {"linear_probe", "epochs"});
  check_error([&] { linear_probe(features, labels, features, labels, {.lr = -1.0}); }, {"linear_probe", "lr"});
  check_error([&] { linear_probe(features, labels, features, labels, {.num_classes = 1}); },
              {"linear_probe", "label 1", "[0, 1)"});
  check_error([&] { linear_probe(zeros({4}), labels, features, labels); }, {"linear_probe", "train features", "[N, D]"});
}
