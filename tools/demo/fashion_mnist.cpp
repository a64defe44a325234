// demo_fashion_mnist: trains a small convolutional classifier on Fashion-MNIST with nothing but the
// engine (tensors, autograd, ops) and a hand-written SGD step — what `make run` shows until the `vireo`
// CLI and its recipes arrive. Data: Debian's dataset-fashion-mnist (gzipped IDX files), root overridable
// with VIREO_DATA_ROOT.
//
//   demo_fashion_mnist [epochs=1] [batch=128] [learning_rate=0.05]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "training/data/idx.h"

using namespace vireo;

namespace {

// The whole split as [n, 1, 28, 28] f32, scaled to [0, 1] and normalized with the training set's mean and
// standard deviation, and its labels as i64. The files are read (and checked) by training/data.
struct Split {
  Tensor images, labels;
};

Split load_split(data::Split split) {
  const data::StackedDataset stacked = data::stack_dataset(*data::fashion_mnist(split));
  constexpr double kMean = 0.2860, kStd = 0.3530;
  return {mul(add(stacked.images, -kMean), 1.0 / kStd), stacked.labels};
}

// PyTorch's default initialization for conv/linear weights: U(−b, b) with b = 1/√fan_in.
Tensor uniform_parameter(const Shape& shape, int64_t fan_in, Generator& g) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  Tensor w = add(mul(rand(shape, {}, &g), 2 * bound), -bound);
  return w.requires_grad_();
}

struct Model {
  Tensor conv1_w, conv1_b, conv2_w, conv2_b, fc_w, fc_b;

  explicit Model(Generator& g)
      : conv1_w(uniform_parameter({16, 1, 3, 3}, 9, g)), conv1_b(uniform_parameter({16}, 9, g)),
        conv2_w(uniform_parameter({32, 16, 3, 3}, 144, g)), conv2_b(uniform_parameter({32}, 144, g)),
        fc_w(uniform_parameter({10, 32 * 7 * 7}, 32 * 7 * 7, g)), fc_b(uniform_parameter({10}, 32 * 7 * 7, g)) {}

  std::vector<Tensor> parameters() const { return {conv1_w, conv1_b, conv2_w, conv2_b, fc_w, fc_b}; }

  Tensor forward(const Tensor& x) const {
    const Pool2dOptions pool{.kernel = {2, 2}};
    Tensor h = max_pool2d(relu(conv2d(x, conv1_w, conv1_b, {.padding = {1, 1}})), pool);  // 16×14×14
    h = max_pool2d(relu(conv2d(h, conv2_w, conv2_b, {.padding = {1, 1}})), pool);         // 32×7×7
    return linear(h.flatten(1), fc_w, fc_b);
  }
};

double accuracy(const Model& model, const Split& split) {
  NoGrad no_grad;
  int64_t correct = 0;
  const int64_t n = split.images.size(0);
  for (int64_t at = 0; at < n; at += 1000) {
    const int64_t end = std::min(n, at + 1000);
    Tensor predicted = argmax(model.forward(split.images.slice(0, at, end)), 1);
    correct += static_cast<int64_t>(sum(eq(predicted, split.labels.slice(0, at, end))).item());
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int epochs = argc > 1 ? std::atoi(argv[1]) : 1;
    const int64_t batch = argc > 2 ? std::atoll(argv[2]) : 128;
    const double learning_rate = argc > 3 ? std::atof(argv[3]) : 0.05;
    const std::string root = data::resolve_data_root("", data::kFashionMnistRoot);

    const Split train = load_split(data::Split::train), test = load_split(data::Split::test);
    std::printf("Fashion-MNIST: %lld training and %lld test images from %s\n",
                static_cast<long long>(train.images.size(0)), static_cast<long long>(test.images.size(0)), root.c_str());

    Generator generator(0);
    Model model(generator);
    std::vector<Tensor> velocity;
    for (const Tensor& p : model.parameters()) velocity.push_back(zeros_like(p));

    const int64_t n = train.images.size(0);
    for (int epoch = 0; epoch < epochs; ++epoch) {
      const auto start = std::chrono::steady_clock::now();
      Tensor order = randperm(n, {.dtype = DType::i64}, &generator);
      double running_loss = 0.0;
      int64_t steps = 0;
      for (int64_t at = 0; at + batch <= n; at += batch) {
        Tensor index = order.slice(0, at, at + batch);
        Tensor x = index_select(train.images, 0, index), y = index_select(train.labels, 0, index);
        Tensor loss = cross_entropy(model.forward(x), y);
        for (const Tensor& p : model.parameters()) p.zero_grad();
        loss.backward();
        {
          // SGD with momentum 0.9: v ← 0.9·v + g; p ← p − lr·v.
          NoGrad no_grad;
          auto parameters = model.parameters();
          for (size_t i = 0; i < parameters.size(); ++i) {
            velocity[i].mul_(0.9).add_(parameters[i].grad());
            parameters[i].add_(velocity[i], -learning_rate);
          }
        }
        running_loss += loss.item();
        if (++steps % 100 == 0) {
          std::printf("epoch %d  step %4lld  loss %.4f\n", epoch + 1, static_cast<long long>(steps), running_loss / 100);
          std::fflush(stdout);
          running_loss = 0.0;
        }
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("epoch %d done in %.1f s (%.0f images/s); test accuracy %.2f%%\n", epoch + 1, seconds,
                  static_cast<double>(steps * batch) / seconds, 100.0 * accuracy(model, test));
    }
    return 0;
  } catch (const Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
