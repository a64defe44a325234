// Modules and optimizers together: a small MLP and a small CNN learn synthetic tasks that a linear model
// cannot solve, to a loss and a held-out accuracy that a broken layer, gradient or update would not reach.
// Also the pooling modules against their functional ops.
#include <cmath>

#include "engine/nn.h"
#include "engine/optim.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::testing;

namespace {

// Two concentric rings in 2-D (class 0 inside radius 1, class 1 between radii 1.5 and 2.5): not linearly
// separable, so only a working hidden layer fits it.
std::pair<Tensor, Tensor> rings(int64_t count, uint64_t seed) {
  Generator generator(seed);
  const std::vector<double> angles = rand({count}, {.dtype = DType::f64}, &generator).to_vector();
  const std::vector<double> units = rand({count}, {.dtype = DType::f64}, &generator).to_vector();
  const std::vector<double> labels = randint(0, 2, {count}, {.dtype = DType::i64}, &generator).to_vector();
  std::vector<double> points(count * 2);
  for (int64_t i = 0; i < count; ++i) {
    const double radius = labels[i] == 1 ? 1.5 + units[i] : units[i];
    points[2 * i] = radius * std::cos(2 * M_PI * angles[i]);
    points[2 * i + 1] = radius * std::sin(2 * M_PI * angles[i]);
  }
  return {Tensor::from_vector(points, {count, 2}), Tensor::from_vector(labels, {count}, {.dtype = DType::i64})};
}

double accuracy(const Tensor& logits, const Tensor& labels) {
  return eq(argmax(logits, 1), labels).to(DType::f32).mean().item();
}

// 1×8×8 images holding one bright bar, horizontal (class 0) or vertical (class 1), at a random row or
// column, plus noise: the class is in the local structure, not in any single pixel's mean.
std::pair<Tensor, Tensor> bars(int64_t count, uint64_t seed) {
  Generator generator(seed);
  std::vector<double> pixels(count * 64), labels(count);
  Tensor noise = mul(randn({count * 64}, {.dtype = DType::f64}, &generator), 0.2);
  Tensor choice = randint(0, 16, {count}, {.dtype = DType::i64}, &generator);
  const std::vector<double> noise_values = noise.to_vector(), choices = choice.to_vector();
  for (int64_t n = 0; n < count; ++n) {
    const int64_t vertical = static_cast<int64_t>(choices[n]) / 8, line = static_cast<int64_t>(choices[n]) % 8;
    labels[n] = static_cast<double>(vertical);
    for (int64_t y = 0; y < 8; ++y)
      for (int64_t x = 0; x < 8; ++x) {
        const bool on = vertical ? x == line : y == line;
        pixels[n * 64 + y * 8 + x] = (on ? 1.0 : 0.0) + noise_values[n * 64 + y * 8 + x];
      }
  }
  return {Tensor::from_vector(pixels, {count, 1, 8, 8}), Tensor::from_vector(labels, {count}, {.dtype = DType::i64})};
}

}  // namespace

TEST_CASE("an MLP learns two rings that no linear model separates") {
  manual_seed(1);
  auto [train_x, train_y] = rings(512, 11);
  auto [test_x, test_y] = rings(512, 12);
  auto model = std::make_shared<nn::MLP>(2, std::vector<int64_t>{32, 32, 2});
  optim::Adam optimizer(model->named_parameters(), {.lr = 0.02});
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor loss = nn::cross_entropy((*model)(train_x), train_y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    (step == 0 ? first_loss : last_loss) = loss.item();
  }
  model->eval();
  NoGrad no_grad;
  CHECK(first_loss > 0.6);  // chance level is ln 2 = 0.69
  CHECK(last_loss < 0.05);
  CHECK(accuracy((*model)(test_x), test_y) > 0.97);
}

TEST_CASE("a CNN with BatchNorm and pooling learns bar orientation and generalizes in eval mode") {
  manual_seed(2);
  auto [train_x, train_y] = bars(256, 21);
  auto [test_x, test_y] = bars(256, 22);
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(1, 8, 3, nn::Conv2dOptions{.padding = 1, .bias = false}),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(8, 16, 3, nn::Conv2dOptions{.padding = 1}), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::AdaptiveAvgPool2d>(1), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(16, 2));
  optim::SGD optimizer(model->parameters(), {.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-4});
  double first_loss = 0, last_loss = 0;
  for (int epoch = 0; epoch < 15; ++epoch)
    for (int64_t start = 0; start < 256; start += 32) {
      Tensor loss = nn::cross_entropy((*model)(train_x.slice(0, start, start + 32)), train_y.slice(0, start, start + 32));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      (epoch == 0 && start == 0 ? first_loss : last_loss) = loss.item();
    }
  model->eval();  // running statistics from here on
  NoGrad no_grad;
  CHECK(first_loss > 0.5);
  CHECK(last_loss < 0.1);
  CHECK(accuracy((*model)(test_x), test_y) > 0.95);
}

TEST_CASE("pooling modules apply their functional op with PyTorch's defaults") {
  Tensor x = randn({2, 3, 7, 7});
  nn::MaxPool2d max_pool(3, {.stride = 2, .padding = 1});
  check_close(max_pool(x), max_pool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}).to_vector(), 1e-9);
  nn::AvgPool2d avg_pool(2);  // stride defaults to the kernel
  CHECK(avg_pool(x).shape() == Shape{2, 3, 3, 3});
  check_close(avg_pool(x), avg_pool2d(x, {.kernel = {2, 2}, .stride = {2, 2}}).to_vector(), 1e-9);
  nn::AdaptiveAvgPool2d global(1);
  check_close(global(x).flatten(1), x.mean({2, 3}).to_vector(), 1e-6);
  nn::Upsample up(2);
  Tensor y = up(x);
  CHECK(y.shape() == Shape{2, 3, 14, 14});
  check_close(y.slice(2, 1, 14, 2).slice(3, 1, 14, 2), x.to_vector(), 1e-9);  // nearest: each pixel repeated 2×2
  CHECK(max_pool.str() == "MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1))");
  check_error([] { nn::Upsample(0); }, {"Upsample", "at least 1"});
}
