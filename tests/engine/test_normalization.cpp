// Normalization, dropout and embedding: forward values against reference loops written here, running
// statistics, dropout statistics and reproducibility, thread-count independence, argument errors, and
// f64 gradient checks for every op and configuration.
#include <omp.h>

#include <cmath>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {

Tensor random_f64(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  return random_input(shape, seed, low, high).detach();
}

struct Moments {
  std::vector<double> mean, var;
};

// Batch statistics per channel of x [N, C, M] (biased or unbiased variance), computed with plain loops.
Moments channel_moments(const std::vector<double>& x, int64_t n, int64_t c, int64_t m, bool unbiased) {
  Moments out{std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  const double count = static_cast<double>(n * m);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) s += x[(i * c + ch) * m + j];
    const double mu = s / count;
    double q = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) q += (x[(i * c + ch) * m + j] - mu) * (x[(i * c + ch) * m + j] - mu);
    out.mean[ch] = mu;
    out.var[ch] = q / (unbiased ? count - 1 : count);
  }
  return out;
}

// (x − mean_c)/√(var_c + eps)·weight_c + bias_c over x [N, C, M]; empty weight/bias read as 1 and 0.
std::vector<double> batch_norm_reference(const std::vector<double>& x, int64_t n, int64_t c, int64_t m,
                                         const std::vector<double>& mean, const std::vector<double>& var,
                                         const std::vector<double>& weight, const std::vector<double>& bias,
                                         double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < m; ++j) {
        const int64_t at = (i * c + ch) * m + j;
        y[at] = (x[at] - mean[ch]) / std::sqrt(var[ch] + eps) * (weight.empty() ? 1.0 : weight[ch]) +
                (bias.empty() ? 0.0 : bias[ch]);
      }
  return y;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// batch_norm

TEST_CASE("batch_norm training normalizes with batch statistics and updates the running ones") {
  const int64_t n = 3, c = 2, m = 4;
  Tensor x = random_f64({n, c, 2, 2}, 1, -2.0, 3.0);
  Tensor weight = random_f64({c}, 2), bias = random_f64({c}, 3);
  Tensor running_mean = tensor({0.5, -0.25}, {.dtype = DType::f64});
  Tensor running_var = tensor({1.5, 0.75}, {.dtype = DType::f64});
  const uint64_t mean_version = running_mean.version(), var_version = running_var.version();
  const double momentum = 0.2, eps = 1e-5;
  Tensor y = batch_norm(x, running_mean, running_var, weight, bias, true, momentum, eps);

  const std::vector<double> xs = x.to_vector();
  const Moments biased = channel_moments(xs, n, c, m, false), unbiased = channel_moments(xs, n, c, m, true);
  check_close(y, batch_norm_reference(xs, n, c, m, biased.mean, biased.var, weight.to_vector(), bias.to_vector(), eps),
              1e-10);
  // running = (1 − momentum)·running + momentum·batch, with the unbiased variance.
  check_close(running_mean, {0.8 * 0.5 + 0.2 * unbiased.mean[0], 0.8 * -0.25 + 0.2 * unbiased.mean[1]}, 1e-12);
  check_close(running_var, {0.8 * 1.5 + 0.2 * unbiased.var[0], 0.8 * 0.75 + 0.2 * unbiased.var[1]}, 1e-12);
  CHECK(running_mean.version() > mean_version);
  CHECK(running_var.version() > var_version);
}

TEST_CASE("batch_norm evaluation uses the running statistics and leaves them unchanged") {
  const int64_t n = 2, c = 3, m = 5;
  Tensor x = random_f64({n, c, m}, 4, -1.0, 2.0);
  Tensor weight = random_f64({c}, 5), bias = random_f64({c}, 6);
  Tensor running_mean = tensor({0.1, -0.2, 0.3}, {.dtype = DType::f64});
  Tensor running_var = tensor({0.5, 1.5, 2.0}, {.dtype = DType::f64});
  Tensor y = batch_norm(x, running_mean, running_var, weight, bias, false, 0.1, 1e-3);
  check_close(y, batch_norm_reference(x.to_vector(), n, c, m, {0.1, -0.2, 0.3}, {0.5, 1.5, 2.0}, weight.to_vector(),
                                      bias.to_vector(), 1e-3),
              1e-10);
  check_close(running_mean, {0.1, -0.2, 0.3});
  check_close(running_var, {0.5, 1.5, 2.0});
}

TEST_CASE("batch_norm on [N C] (BatchNorm1d) in f32 without affine parameters") {
  const int64_t n = 7, c = 5;
  Tensor x = rand({n, c});
  Tensor y = batch_norm(x, {}, {}, {}, {}, true);
  CHECK(y.dtype() == DType::f32);
  const std::vector<double> xs = x.to_vector();
  const Moments biased = channel_moments(xs, n, c, 1, false);
  check_close(y, batch_norm_reference(xs, n, c, 1, biased.mean, biased.var, {}, {}, 1e-5), 1e-4);
}

TEST_CASE("batch_norm backward does not depend on the thread count") {
  Tensor x = random_input({4, 3, 5, 5}, 7);
  Tensor weight = random_input({3}, 8);
  auto gradients = [&] {
    x.zero_grad();
    weight.zero_grad();
    Tensor y = batch_norm(x, {}, {}, weight, {}, true);
    sum(mul(y, random_f64(y.shape(), 9))).backward();
    return std::pair{x.grad().to_vector(), weight.grad().to_vector()};
  };
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = gradients();
  omp_set_num_threads(std::max(2, threads));
  const auto many = gradients();
  omp_set_num_threads(threads);
  CHECK(one.first == many.first);
  CHECK(one.second == many.second);
}

TEST_CASE("batch_norm argument errors name the op and the shapes") {
  check_error([] { batch_norm(zeros({2, 3, 4}), {}, {}, zeros({4}), {}, true); }, {"batch_norm", "weight", "[4]", "[2, 3, 4]"});
  check_error([] { batch_norm(zeros({2, 3}), {}, {}, {}, {}, false); }, {"batch_norm", "running", "[2, 3]"});
  check_error([] { batch_norm(zeros({1, 3}), {}, {}, {}, {}, true); }, {"batch_norm", "more than one value", "[1, 3]"});
  check_error([] { batch_norm(zeros({4}), {}, {}, {}, {}, true); }, {"batch_norm", "[4]"});
  check_error([] { batch_norm(zeros({2, 3}), zeros({3}, {.dtype = DType::f64}), zeros({3}), {}, {}, true); },
              {"batch_norm", "running_mean", "f64"});
}

TEST_CASE("gradcheck: batch_norm training 4d") {
  Tensor running_mean = zeros({3}, {.dtype = DType::f64}), running_var = ones({3}, {.dtype = DType::f64});
  CHECK_GRADCHECK([&](const Inputs& in) { return batch_norm(in[0], running_mean, running_var, in[1], in[2], true); },
                  Inputs({random_input({2, 3, 3, 3}, 10), random_input({3}, 11), random_input({3}, 12)}));
}

TEST_CASE("gradcheck: batch_norm training 2d") {
  CHECK_GRADCHECK([](const Inputs& in) { return batch_norm(in[0], {}, {}, in[1], in[2], true); },
                  Inputs({random_input({6, 4}, 13), random_input({4}, 14), random_input({4}, 15)}));
}

TEST_CASE("gradcheck: batch_norm eval") {
  Tensor running_mean = random_f64({3}, 16), running_var = random_f64({3}, 17, 0.5, 2.0);
  CHECK_GRADCHECK([&](const Inputs& in) { return batch_norm(in[0], running_mean, running_var, in[1], in[2], false); },
                  Inputs({random_input({2, 3, 2, 2}, 18), random_input({3}, 19), random_input({3}, 20)}));
}

TEST_CASE("gradcheck: batch_norm without affine") {
  CHECK_GRADCHECK([](const Inputs& in) { return batch_norm(in[0], {}, {}, {}, {}, true); },
                  Inputs({random_input({3, 2, 4}, 21)}));
  // A non-contiguous input takes the same path after the front end's copy.
  CHECK_GRADCHECK([](const Inputs& in) { return batch_norm(in[0], {}, {}, {}, {}, true); },
                  Inputs({transposed_input({3, 4, 2}, 22)}));
}

// ---------------------------------------------------------------------------------------------------------
// layer_norm

TEST_CASE("layer_norm forward matches a reference loop") {
  const int64_t rows = 6, width = 12;
  Tensor x = random_f64({2, 3, 3, 4}, 23, -3.0, 5.0);
  Tensor weight = random_f64({3, 4}, 24), bias = random_f64({3, 4}, 25);
  Tensor y = layer_norm(x, {3, 4}, weight, bias, 1e-5);
  const std::vector<double> xs = x.to_vector(), w = weight.to_vector(), b = bias.to_vector();
  std::vector<double> expected(xs.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < width; ++i) mu += xs[r * width + i] / width;
    for (int64_t i = 0; i < width; ++i) var += (xs[r * width + i] - mu) * (xs[r * width + i] - mu) / width;
    for (int64_t i = 0; i < width; ++i)
      expected[r * width + i] = (xs[r * width + i] - mu) / std::sqrt(var + 1e-5) * w[i] + b[i];
  }
  check_close(y, expected, 1e-10);
  CHECK(y.shape() == x.shape());
  // f32 agrees with the f64 result.
  check_close(layer_norm(x.to(DType::f32), {3, 4}, weight.to(DType::f32), bias.to(DType::f32)), expected, 1e-4);
}

TEST_CASE("layer_norm backward does not depend on the thread count") {
  Tensor x = random_input({70, 33}, 26);
  Tensor weight = random_input({33}, 27), bias = random_input({33}, 28);
  auto gradients = [&] {
    for (Tensor* t : {&x, &weight, &bias}) t->zero_grad();
    Tensor y = layer_norm(x, {33}, weight, bias);
    sum(mul(y, random_f64(y.shape(), 29))).backward();
    return std::vector{x.grad().to_vector(), weight.grad().to_vector(), bias.grad().to_vector()};
  };
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = gradients();
  omp_set_num_threads(std::max(2, threads));
  const auto many = gradients();
  omp_set_num_threads(threads);
  CHECK(one == many);
}

TEST_CASE("layer_norm argument errors name the op and the shapes") {
  check_error([] { layer_norm(zeros({2, 3}), {4}); }, {"layer_norm", "[4]", "[2, 3]"});
  check_error([] { layer_norm(zeros({2, 3}), {3}, zeros({2})); }, {"layer_norm", "weight", "[2]", "[3]"});
  check_error([] { layer_norm(zeros({3}), {2, 3}); }, {"layer_norm", "[2, 3]", "[3]"});
}

TEST_CASE("gradcheck: layer_norm") {
  CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], {3, 4}, in[1], in[2]); },
                  Inputs({random_input({2, 3, 4}, 30), random_input({3, 4}, 31), random_input({3, 4}, 32)}));
  // The parameter gradients are summed over fixed blocks of 32 rows: 70 rows span three of them.
  CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], {3}, in[1], in[2]); },
                  Inputs({random_input({70, 3}, 33), random_input({3}, 34), random_input({3}, 35)}));
}

TEST_CASE("gradcheck: layer_norm without affine") {
  CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], {5}); }, Inputs({random_input({4, 5}, 36)}));
}

TEST_CASE("gradcheck: layer_norm non-contiguous input") {
  CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], {5}, in[1], in[2]); },
                  Inputs({transposed_input({2, 4, 5}, 37), random_input({5}, 38), random_input({5}, 39)}));
}

// ---------------------------------------------------------------------------------------------------------
// group_norm

TEST_CASE("group_norm forward matches a reference loop") {
  const int64_t n = 2, c = 6, groups = 3, m = 4, per_group = c / groups;
  Tensor x = random_f64({n, c, 2, 2}, 40, -2.0, 4.0);
  Tensor weight = random_f64({c}, 41), bias = random_f64({c}, 42);
  Tensor y = group_norm(x, groups, weight, bias, 1e-5);
  const std::vector<double> xs = x.to_vector(), w = weight.to_vector(), b = bias.to_vector();
  std::vector<double> expected(xs.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      double mu = 0, var = 0;
      const int64_t count = per_group * m;
      for (int64_t ch = g * per_group; ch < (g + 1) * per_group; ++ch)
        for (int64_t j = 0; j < m; ++j) mu += xs[(i * c + ch) * m + j] / count;
      for (int64_t ch = g * per_group; ch < (g + 1) * per_group; ++ch)
        for (int64_t j = 0; j < m; ++j) var += std::pow(xs[(i * c + ch) * m + j] - mu, 2) / count;
      for (int64_t ch = g * per_group; ch < (g + 1) * per_group; ++ch)
        for (int64_t j = 0; j < m; ++j) {
          const int64_t at = (i * c + ch) * m + j;
          expected[at] = (xs[at] - mu) / std::sqrt(var + 1e-5) * w[ch] + b[ch];
        }
    }
  check_close(y, expected, 1e-10);
}

TEST_CASE("group_norm argument errors name the op and the shapes") {
  check_error([] { group_norm(zeros({2, 6, 3}), 4); }, {"group_norm", "6 channels", "[2, 6, 3]", "4 groups"});
  check_error([] { group_norm(zeros({2, 6, 3}), 3, zeros({3})); }, {"group_norm", "weight", "[3]", "[6]"});
}

TEST_CASE("gradcheck: group_norm") {
  CHECK_GRADCHECK([](const Inputs& in) { return group_norm(in[0], 3, in[1], in[2]); },
                  Inputs({random_input({2, 6, 2, 2}, 43), random_input({6}, 44), random_input({6}, 45)}));
  CHECK_GRADCHECK([](const Inputs& in) { return group_norm(in[0], 2); }, Inputs({transposed_input({2, 4, 3}, 46)}));
}

// ---------------------------------------------------------------------------------------------------------
// dropout

TEST_CASE("dropout keeps about 1 − p of the elements scaled by 1/(1 − p)") {
  const double p = 0.3;
  Tensor x = add(rand({200000}), 1.0);  // values in [1, 2): a kept element is never 0
  Generator generator(7);
  Tensor y = dropout(x, p, true, &generator);
  const std::vector<double> xs = x.to_vector(), ys = y.to_vector();
  int64_t kept = 0;
  bool scaled = true;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (ys[i] == 0.0) continue;
    ++kept;
    scaled = scaled && std::abs(ys[i] - xs[i] / (1 - p)) <= 1e-6 * std::abs(ys[i]);
  }
  // The kept count is Binomial(200000, 0.7): its standard deviation is about 205, so ±2000 is ~10σ.
  CHECK(std::abs(static_cast<double>(kept) - 0.7 * 200000) < 2000);
  CHECK(scaled);
}

TEST_CASE("dropout with the same seed gives the same mask for any thread count") {
  Tensor x = ones({5000}, {.dtype = DType::f64});
  Generator a(11), b(11), c(12);
  Tensor first = dropout(x, 0.5, true, &a);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  Tensor second = dropout(x, 0.5, true, &b);
  omp_set_num_threads(threads);
  CHECK(first.to_vector() == second.to_vector());
  CHECK(first.to_vector() != dropout(x, 0.5, true, &c).to_vector());
  // The generator advances: a second draw from it differs from the first.
  CHECK(first.to_vector() != dropout(x, 0.5, true, &a).to_vector());
}

TEST_CASE("dropout edge cases: evaluation p = 0 and p = 1") {
  Tensor x = random_f64({4, 5}, 50);
  check_close(dropout(x, 0.5, false), x.to_vector());
  check_close(dropout(x, 0.0, true), x.to_vector());
  check_close(dropout(x, 1.0, true), std::vector<double>(20, 0.0));
  check_error([&] { dropout(x, -0.1, true); }, {"dropout", "p must be in [0, 1]", "-0.1"});
  check_error([&] { dropout(x, 1.5, true); }, {"dropout", "1.5"});
}

TEST_CASE("dropout backward multiplies by the saved mask") {
  Tensor x = random_input({300}, 51);
  Generator generator(5);
  Tensor y = dropout(x, 0.25, true, &generator);
  sum(y).backward();
  const std::vector<double> ys = y.to_vector(), xs = x.to_vector(), gs = x.grad().to_vector();
  for (size_t i = 0; i < ys.size(); ++i) {
    INFO("element ", i);
    CHECK(gs[i] == doctest::Approx(ys[i] == 0.0 ? 0.0 : 1.0 / 0.75));
  }
}

TEST_CASE("gradcheck: dropout") {
  CHECK_GRADCHECK(
      [](const Inputs& in) {
        Generator generator(42);  // the same mask on every evaluation
        return dropout(in[0], 0.4, true, &generator);
      },
      Inputs({random_input({3, 7}, 52)}));
}

// ---------------------------------------------------------------------------------------------------------
// embedding

TEST_CASE("embedding picks rows and checks indices") {
  Tensor weight = Tensor::from_vector({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2});
  Tensor indices = Tensor::from_vector({3, 0, 0, 2, 1, 3}, {2, 3}, {.dtype = DType::i64});
  Tensor y = embedding(indices, weight);
  CHECK(y.shape() == Shape{2, 3, 2});
  check_close(y, {30, 31, 0, 1, 0, 1, 20, 21, 10, 11, 30, 31});
  check_error([&] { embedding(tensor({1, 4}, {.dtype = DType::i64}), weight); },
              {"embedding", "index 4", "num_embeddings 4"});
  check_error([&] { embedding(tensor({-1}, {.dtype = DType::i64}), weight); }, {"embedding", "index -1", "4"});
  check_error([&] { embedding(tensor({1.0}), weight); }, {"embedding", "i64", "f32"});
}

TEST_CASE("embedding backward adds the gradient of repeated indices") {
  Tensor weight = random_input({4, 3}, 53);
  Tensor indices = Tensor::from_vector({2, 0, 2, 2}, {4}, {.dtype = DType::i64});
  sum(embedding(indices, weight)).backward();
  check_close(weight.grad(), {1, 1, 1, 0, 0, 0, 3, 3, 3, 0, 0, 0});
}

TEST_CASE("gradcheck: embedding") {
  Tensor indices = Tensor::from_vector({4, 0, 2, 2, 1, 4}, {3, 2}, {.dtype = DType::i64});
  CHECK_GRADCHECK([&](const Inputs& in) { return embedding(indices, in[0]); }, Inputs({random_input({5, 3}, 54)}));
}
