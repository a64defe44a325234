// nn layers: each forward against plain loops or the functional op, BatchNorm's running statistics in
// training and evaluation (momentum and cumulative average), Dropout's statistics, containers,
// MultiheadAttention against softmax(QKᵀ/√d)V composed here with the same weights, the MLP's structure,
// argument errors, and f64 gradient checks through Linear, Conv2d, ConvTranspose2d, MultiheadAttention
// and the MLP with respect to the input and every parameter.
#include <cmath>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "nn_test_models.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;

using Inputs = std::vector<Tensor>;

namespace {

Tensor random_f64(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  return random_input(shape, seed, low, high).detach();
}

// Parameters as gradcheck inputs after the module's own input(s).
Inputs with_parameters(Inputs inputs, const nn::Module& module) {
  for (const Tensor& p : module.parameters()) inputs.push_back(p);
  return inputs;
}

// Per-channel batch mean and variance of x [N, C, M] with plain loops.
void channel_moments(const std::vector<double>& x, int64_t n, int64_t c, int64_t m, std::vector<double>& mean,
                     std::vector<double>& biased_var, std::vector<double>& unbiased_var) {
  mean.assign(c, 0.0);
  biased_var.assign(c, 0.0);
  unbiased_var.assign(c, 0.0);
  const double count = static_cast<double>(n * m);
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) s += x[(i * c + ch) * m + j];
    mean[ch] = s / count;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) q += std::pow(x[(i * c + ch) * m + j] - mean[ch], 2);
    biased_var[ch] = q / count;
    unbiased_var[ch] = q / (count - 1);
  }
}

// (x − mean_c)/√(var_c + eps)·w_c + b_c over x [N, C, M].
std::vector<double> normalize_channels(const std::vector<double>& x, int64_t n, int64_t c, int64_t m,
                                       const std::vector<double>& mean, const std::vector<double>& var,
                                       const std::vector<double>& w, const std::vector<double>& b, double eps) {
  std::vector<double> y(x.size());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < m; ++j) {
        const int64_t at = (i * c + ch) * m + j;
        y[at] = (x[at] - mean[ch]) / std::sqrt(var[ch] + eps) * w[ch] + b[ch];
      }
  return y;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Linear, Identity, Flatten, activations

TEST_CASE("Linear computes x W^T + b as plain loops do") {
  nn::Linear layer(4, 3);
  layer.to(DType::f64);
  const Tensor x = random_f64({2, 5, 4}, 1);
  const Tensor y = layer(x);
  CHECK(y.shape() == Shape{2, 5, 3});
  const std::vector<double> xs = x.to_vector(), w = layer.weight.to_vector(), b = layer.bias.to_vector();
  std::vector<double> expected(2 * 5 * 3);
  for (int64_t row = 0; row < 10; ++row)
    for (int64_t o = 0; o < 3; ++o) {
      double s = b[o];
      for (int64_t i = 0; i < 4; ++i) s += xs[row * 4 + i] * w[o * 4 + i];
      expected[row * 3 + o] = s;
    }
  check_close(y, expected, 1e-12);

  nn::Linear no_bias(4, 3, {.bias = false});
  CHECK_FALSE(no_bias.bias.defined());
  CHECK(no_bias.parameters().size() == 1);
  CHECK(no_bias.state_dict().count("bias") == 0);
  check_error([&] { layer(random_f64({2, 5}, 2)); }, {"Linear", "[..., 4]", "[2, 5]"});
}

TEST_CASE("Identity Flatten and the activation modules match their functional ops") {
  const Tensor x = random_f64({2, 3, 4}, 3, -3.0, 3.0);
  CHECK(nn::Identity()(x).impl() == x.impl());
  CHECK(nn::Flatten()(x).shape() == Shape{2, 12});
  CHECK(nn::Flatten(0, 1)(x).shape() == Shape{6, 4});
  check_close(nn::ReLU()(x), relu(x).to_vector(), 1e-15);
  check_close(nn::GELU()(x), gelu(x).to_vector(), 1e-15);
  check_close(nn::GELU(GeluApproximation::tanh)(x), gelu(x, GeluApproximation::tanh).to_vector(), 1e-15);
  check_close(nn::SiLU()(x), silu(x).to_vector(), 1e-15);
  check_close(nn::Sigmoid()(x), sigmoid(x).to_vector(), 1e-15);
  check_close(nn::Tanh()(x), tanh(x).to_vector(), 1e-15);
  check_close(nn::LeakyReLU(0.2)(x), leaky_relu(x, 0.2).to_vector(), 1e-15);
  check_close(nn::Softplus(2.0, 10.0)(x), softplus(x, 2.0, 10.0).to_vector(), 1e-15);
  check_close(nn::Softmax(1)(x), softmax(x, 1).to_vector(), 1e-15);
  check_close(nn::LogSoftmax(-1)(x), log_softmax(x, -1).to_vector(), 1e-15);
  // The GELU of a negative value differs between the two forms: the option is really passed on.
  CHECK(nn::GELU()(x).to_vector() != nn::GELU(GeluApproximation::tanh)(x).to_vector());
}

// ---------------------------------------------------------------------------------------------------------
// convolutions

TEST_CASE("Conv2d matches the functional conv2d with its own weights and options") {
  nn::Conv2d conv(4, 6, {3, 2}, {.stride = {2, 1}, .padding = 1, .dilation = {1, 2}, .groups = 2});
  CHECK(conv.weight.shape() == Shape{6, 2, 3, 2});
  conv.to(DType::f64);
  const Tensor x = random_f64({2, 4, 7, 6}, 4);
  const Tensor y = conv(x);
  const Tensor expected = conv2d(x, conv.weight, conv.bias,
                                 vireo::Conv2dOptions{.stride = {2, 1}, .padding = {1, 1}, .dilation = {1, 2}, .groups = 2});
  CHECK(y.shape() == expected.shape());
  check_close(y, expected.to_vector(), 1e-14);
  // Unbatched [C, H, W] inputs, as PyTorch.
  check_close(conv(x.select(0, 1)), expected.select(0, 1).to_vector(), 1e-14);
  CHECK(nn::Conv2d(3, 64, 3, {.stride = 1, .padding = 1, .bias = false})(zeros({1, 3, 8, 8})).shape() == Shape{1, 64, 8, 8});
  check_error([&] { conv(random_f64({2, 3, 7, 6}, 5)); }, {"Conv2d", "[N, 4, H, W]", "[2, 3, 7, 6]"});
  check_error([] { nn::Conv2d(3, 4, 3, {.groups = 2}); }, {"Conv2d", "groups 2", "in_channels 3"});
}

TEST_CASE("ConvTranspose2d matches the functional op and has PyTorch's weight layout") {
  nn::ConvTranspose2d deconv(4, 6, 3, {.stride = 2, .padding = 1, .output_padding = 1, .groups = 2});
  CHECK(deconv.weight.shape() == Shape{4, 3, 3, 3});
  deconv.to(DType::f64);
  const Tensor x = random_f64({2, 4, 5, 5}, 6);
  const Tensor y = deconv(x);
  CHECK(y.shape() == Shape{2, 6, 10, 10});  // (5 − 1)·2 − 2·1 + 3 + 1
  const Tensor expected = conv_transpose2d(
      x, deconv.weight, deconv.bias,
      vireo::ConvTranspose2dOptions{.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}, .groups = 2});
  check_close(y, expected.to_vector(), 1e-14);
  CHECK(deconv.str() ==
        "ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1), groups=2)");
  check_error([] { nn::ConvTranspose2d(4, 6, 3, {.stride = 2, .output_padding = 2}); },
              {"ConvTranspose2d", "output_padding (2, 2)", "stride (2, 2)"});
}

// ---------------------------------------------------------------------------------------------------------
// BatchNorm

TEST_CASE("BatchNorm2d in training normalizes with batch statistics and updates running ones with momentum") {
  const int64_t n = 3, c = 2, m = 6;
  nn::BatchNorm2d bn(c, {.momentum = 0.3});
  bn.to(DType::f64);
  {
    NoGrad no_grad;
    bn.weight.copy_(tensor({1.5, -0.5}, {.dtype = DType::f64}));
    bn.bias.copy_(tensor({0.25, 2.0}, {.dtype = DType::f64}));
  }
  std::vector<double> running_mean{0, 0}, running_var{1, 1};
  for (int step = 0; step < 2; ++step) {
    const Tensor x = random_f64({n, c, 2, 3}, 10 + step, -2.0, 3.0);
    const Tensor y = bn(x);
    std::vector<double> mean, biased, unbiased;
    channel_moments(x.to_vector(), n, c, m, mean, biased, unbiased);
    check_close(y, normalize_channels(x.to_vector(), n, c, m, mean, biased, {1.5, -0.5}, {0.25, 2.0}, 1e-5), 1e-10);
    for (int64_t ch = 0; ch < c; ++ch) {
      running_mean[ch] = 0.7 * running_mean[ch] + 0.3 * mean[ch];
      running_var[ch] = 0.7 * running_var[ch] + 0.3 * unbiased[ch];  // the unbiased variance, as torch
    }
    check_close(bn.running_mean, running_mean, 1e-12);
    check_close(bn.running_var, running_var, 1e-12);
    CHECK(bn.num_batches_tracked.item() == step + 1);
  }

  // Evaluation uses the running statistics and leaves them unchanged.
  bn.eval();
  const Tensor x = random_f64({n, c, 2, 3}, 20);
  check_close(bn(x), normalize_channels(x.to_vector(), n, c, m, running_mean, running_var, {1.5, -0.5}, {0.25, 2.0}, 1e-5),
              1e-10);
  check_close(bn.running_mean, running_mean, 1e-12);
  CHECK(bn.num_batches_tracked.item() == 2);
}

TEST_CASE("BatchNorm1d with momentum None keeps the cumulative average of batch statistics") {
  const int64_t n = 5, c = 3;
  nn::BatchNorm1d bn(c, {.momentum = std::nullopt, .affine = false});
  bn.to(DType::f64);
  CHECK(bn.parameters().empty());
  std::vector<double> mean_sum(c, 0.0), var_sum(c, 0.0);
  const int batches = 3;
  for (int step = 0; step < batches; ++step) {
    const Tensor x = random_f64({n, c}, 30 + step, -1.0, 2.0);
    bn(x);
    std::vector<double> mean, biased, unbiased;
    channel_moments(x.to_vector(), n, c, 1, mean, biased, unbiased);
    for (int64_t ch = 0; ch < c; ++ch) {
      mean_sum[ch] += mean[ch];
      var_sum[ch] += unbiased[ch];
    }
  }
  // Weights 1, 1/2, 1/3 make the running values the plain averages over the batches seen.
  std::vector<double> mean_average(c), var_average(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    mean_average[ch] = mean_sum[ch] / batches;
    var_average[ch] = var_sum[ch] / batches;
  }
  check_close(bn.running_mean, mean_average, 1e-12);
  check_close(bn.running_var, var_average, 1e-12);
  CHECK(bn.num_batches_tracked.item() == batches);
  // [N, C, L] inputs are accepted too; [N, C, H, W] are not.
  CHECK(bn(random_f64({4, c, 2}, 40)).shape() == Shape{4, c, 2});
  check_error([&] { bn(random_f64({2, c, 2, 2}, 41)); }, {"BatchNorm1d", "[2, 3, 2, 2]"});
}

TEST_CASE("BatchNorm without running statistics uses batch statistics in evaluation too") {
  const int64_t n = 4, c = 2;
  nn::BatchNorm2d bn(c, {.track_running_stats = false});
  CHECK(bn.buffers().empty());
  CHECK(bn.state_dict().size() == 2);
  bn.to(DType::f64);
  bn.eval();
  const Tensor x = random_f64({n, c, 1, 3}, 50);
  std::vector<double> mean, biased, unbiased;
  channel_moments(x.to_vector(), n, c, 3, mean, biased, unbiased);
  check_close(bn(x), normalize_channels(x.to_vector(), n, c, 3, mean, biased, {1, 1}, {0, 0}, 1e-5), 1e-10);
}

// ---------------------------------------------------------------------------------------------------------
// LayerNorm, GroupNorm, Dropout, Embedding

TEST_CASE("LayerNorm normalizes over the trailing shape like plain loops") {
  nn::LayerNorm norm(Shape{2, 3}, {.eps = 1e-3});
  norm.to(DType::f64);
  {
    NoGrad no_grad;
    norm.weight.copy_(random_f64({2, 3}, 60));
    norm.bias.copy_(random_f64({2, 3}, 61));
  }
  const Tensor x = random_f64({4, 2, 3}, 62, -2.0, 2.0);
  const std::vector<double> xs = x.to_vector(), w = norm.weight.to_vector(), b = norm.bias.to_vector();
  std::vector<double> expected(xs.size());
  for (int64_t row = 0; row < 4; ++row) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < 6; ++i) mean += xs[row * 6 + i] / 6;
    for (int64_t i = 0; i < 6; ++i) var += std::pow(xs[row * 6 + i] - mean, 2) / 6;
    for (int64_t i = 0; i < 6; ++i) expected[row * 6 + i] = (xs[row * 6 + i] - mean) / std::sqrt(var + 1e-3) * w[i] + b[i];
  }
  check_close(norm(x), expected, 1e-10);
  check_error([&] { norm(random_f64({4, 3, 2}, 63)); }, {"LayerNorm", "[2, 3]", "[4, 3, 2]"});
  CHECK(nn::LayerNorm(8, {.bias = false}).parameters().size() == 1);
  CHECK(nn::LayerNorm(8, {.elementwise_affine = false}).parameters().empty());
}

TEST_CASE("GroupNorm matches the functional group_norm and checks its channels") {
  nn::GroupNorm norm(2, 6);
  norm.to(DType::f64);
  {
    NoGrad no_grad;
    norm.weight.copy_(random_f64({6}, 70));
  }
  const Tensor x = random_f64({3, 6, 2, 2}, 71);
  check_close(norm(x), group_norm(x, 2, norm.weight, norm.bias).to_vector(), 1e-14);
  check_error([] { nn::GroupNorm(4, 6); }, {"GroupNorm", "6", "4"});
  check_error([&] { norm(random_f64({3, 4, 2}, 72)); }, {"GroupNorm", "[N, 6, ...]"});
}

TEST_CASE("Dropout in training zeroes about p and scales the rest by 1 over 1-p and is the identity in eval") {
  nn::Dropout drop(0.3);
  const int64_t n = 100000;
  const Tensor x = full({n}, 2.0);
  const std::vector<double> y = drop(x).to_vector();
  int64_t zeros_seen = 0;
  bool others_scaled = true;
  for (double v : y) {
    if (v == 0.0) ++zeros_seen;
    else others_scaled &= std::abs(v - 2.0 / 0.7) < 1e-6;
  }
  // The zero fraction is a mean of n Bernoulli(0.3): standard deviation √(0.3·0.7/n) ≈ 0.0014; allow 7σ.
  CHECK(std::abs(static_cast<double>(zeros_seen) / n - 0.3) < 0.01);
  CHECK(others_scaled);
  drop.eval();
  CHECK(drop(x).impl() == x.impl());
  check_error([] { nn::Dropout(1.5); }, {"Dropout", "1.5"});
}

TEST_CASE("Embedding looks up rows and keeps the padding row at zero without gradient") {
  manual_seed(80);
  nn::Embedding table(5, 3, {.padding_idx = 1});
  check_close(table.weight.select(0, 1), {0, 0, 0});
  const Tensor indices = vireo::testing::indices({0, 1, 4, 1, 3, 0}, {2, 3});
  const Tensor out = table(indices);
  CHECK(out.shape() == Shape{2, 3, 3});
  const std::vector<double> w = table.weight.to_vector(), ys = out.to_vector();
  const std::vector<int> rows{0, 1, 4, 1, 3, 0};
  for (int i = 0; i < 6; ++i)
    for (int d = 0; d < 3; ++d) CHECK(ys[i * 3 + d] == w[rows[i] * 3 + d]);
  sum(out).backward();
  // Row r's gradient is the number of times r was looked up, except the padding row.
  check_close(table.weight.grad(), {2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1});
  check_error([] { nn::Embedding(5, 3, {.padding_idx = 5}); }, {"Embedding", "padding_idx 5"});
}

// ---------------------------------------------------------------------------------------------------------
// containers

TEST_CASE("Sequential chains its children named by index and supports push_back and typed access") {
  auto first = std::make_shared<nn::Linear>(3, 4);
  nn::Sequential seq(first, std::make_shared<nn::ReLU>());
  seq.push_back(std::make_shared<nn::Linear>(4, 2));
  CHECK(seq.size() == 3);
  CHECK(seq[0] == first);
  CHECK(seq[-1]->type_name() == "Linear");
  CHECK(seq.get<nn::Linear>(2)->out_features == 2);
  const Tensor x = randn({5, 3});
  check_close(seq(x), (*seq[2])(relu((*first)(x))).to_vector(), 1e-6);
  check_error([&] { seq[3]; }, {"Sequential", "index 3", "3 modules"});
  check_error([&] { seq.get<nn::Conv2d>(1); }, {"Sequential.get", "ReLU", "Conv2d"});
  const std::vector<std::shared_ptr<nn::Module>> modules{std::make_shared<nn::Tanh>(), std::make_shared<nn::Sigmoid>()};
  nn::Sequential from_vector(modules);
  check_close(from_vector(x), sigmoid(tanh(x)).to_vector(), 1e-6);
}

TEST_CASE("ModuleList and ModuleDict hold modules by index and by key in insertion order") {
  nn::ModuleList list(std::vector<std::shared_ptr<nn::Module>>{std::make_shared<nn::Linear>(2, 2),
                                                               std::make_shared<nn::Linear>(2, 3)});
  list.push_back(std::make_shared<nn::ReLU>());
  CHECK(list.size() == 3);
  CHECK(list.get<nn::Linear>(1)->out_features == 3);
  int count = 0;
  for (const auto& module : list) count += module != nullptr;
  CHECK(count == 3);
  CHECK(list.state_dict().count("1.weight") == 1);

  nn::ModuleDict dict;
  dict.insert("projector", std::make_shared<nn::Linear>(4, 2));
  dict.insert("predictor", std::make_shared<nn::Linear>(2, 2));
  CHECK(dict.keys() == std::vector<std::string>{"projector", "predictor"});
  CHECK(dict.contains("predictor"));
  CHECK(dict["projector"]->parameters()[0].shape() == Shape{2, 4});
  CHECK(dict.state_dict().count("predictor.bias") == 1);
  check_error([&] { dict["head"]; }, {"ModuleDict", "'head'", "projector, predictor"});
}

// ---------------------------------------------------------------------------------------------------------
// MultiheadAttention

namespace {

// softmax(Q_h K_hᵀ/√d + mask) V_h per head, concatenated, through the output projection — written with
// plain matmul and softmax from the module's weights.
Tensor reference_attention(nn::MultiheadAttention& mha, const Tensor& query, const Tensor& key, const Tensor& value,
                           const Tensor& mask = {}) {
  const int64_t e = mha.embed_dim, h = mha.num_heads, d = e / h;
  const Tensor w = mha.in_proj_weight, b = mha.in_proj_bias;
  auto project = [&](const Tensor& x, int64_t part) {
    return add(matmul(x, w.slice(0, part * e, (part + 1) * e).t()), b.slice(0, part * e, (part + 1) * e));
  };
  const Tensor q = project(query, 0), k = project(key, 1), v = project(value, 2);
  std::vector<Tensor> heads;
  for (int64_t head = 0; head < h; ++head) {
    const Tensor qh = q.slice(-1, head * d, (head + 1) * d), kh = k.slice(-1, head * d, (head + 1) * d),
                 vh = v.slice(-1, head * d, (head + 1) * d);
    Tensor scores = mul(matmul(qh, kh.transpose(-1, -2)), 1.0 / std::sqrt(static_cast<double>(d)));
    if (mask.defined()) scores = add(scores, mask);
    heads.push_back(matmul(softmax(scores, -1), vh));
  }
  return add(matmul(cat(heads, -1), mha.out_proj->weight.t()), mha.out_proj->bias);
}

std::shared_ptr<nn::MultiheadAttention> random_attention(int64_t e, int64_t h, uint64_t seed) {
  manual_seed(seed);
  auto mha = std::make_shared<nn::MultiheadAttention>(e, h);
  mha->to(DType::f64);
  // Non-zero biases, so that a bias applied to the wrong rows would show.
  nn::init::uniform_(mha->in_proj_bias, -0.5, 0.5);
  nn::init::uniform_(mha->out_proj->bias, -0.5, 0.5);
  return mha;
}

}  // namespace

TEST_CASE("MultiheadAttention has PyTorch's parameter names and shapes") {
  nn::MultiheadAttention mha(8, 2);
  std::vector<std::string> names;
  for (const auto& [name, p] : mha.named_parameters()) names.push_back(name + " " + to_string(p.shape()));
  CHECK(names == std::vector<std::string>{"in_proj_weight [24, 8]", "in_proj_bias [24]", "out_proj.weight [8, 8]",
                                          "out_proj.bias [8]"});
  CHECK(nn::MultiheadAttention(8, 2, {.bias = false}).parameters().size() == 2);
  check_error([] { nn::MultiheadAttention(10, 3); }, {"MultiheadAttention", "10", "3"});
}

TEST_CASE("MultiheadAttention self-attention matches softmax(QK^T over sqrt d)V with the same weights") {
  auto mha = random_attention(8, 2, 90);
  const Tensor x = random_f64({2, 5, 8}, 91);
  const Tensor y = (*mha)(x);
  CHECK(y.shape() == Shape{2, 5, 8});
  check_close(y, reference_attention(*mha, x, x, x).to_vector(), 1e-10);
  check_close((*mha)(Inputs{x, x, x}), y.to_vector(), 1e-12);
  // Unbatched [L, E].
  check_close((*mha)(x.select(0, 1)), y.select(0, 1).to_vector(), 1e-12);
}

TEST_CASE("MultiheadAttention cross-attention with separate or shared key and value and a mask") {
  auto mha = random_attention(6, 3, 92);
  const Tensor query = random_f64({2, 4, 6}, 93), key = random_f64({2, 7, 6}, 94), value = random_f64({2, 7, 6}, 95);
  check_close((*mha)(Inputs{query, key, value}), reference_attention(*mha, query, key, value).to_vector(), 1e-10);
  check_close((*mha)(Inputs{query, key, key}), reference_attention(*mha, query, key, key).to_vector(), 1e-10);

  // An additive [L, S] mask forbidding the last two keys for every query.
  std::vector<double> mask_values(4 * 7, 0.0);
  for (int64_t i = 0; i < 4; ++i) mask_values[i * 7 + 5] = mask_values[i * 7 + 6] = -INFINITY;
  const Tensor mask = Tensor::from_vector(mask_values, {4, 7}, {.dtype = DType::f64});
  const Tensor masked = (*mha)(Inputs{query, key, value, mask});
  check_close(masked, reference_attention(*mha, query, key, value, mask).to_vector(), 1e-10);
  // Same as dropping those keys altogether.
  check_close(masked, (*mha)(Inputs{query, key.slice(1, 0, 5), value.slice(1, 0, 5)}).to_vector(), 1e-10);
  // The [N·heads, L, S] form of the same mask.
  const Tensor per_head = mask.unsqueeze(0).expand({2 * 3, 4, 7}).contiguous();
  check_close((*mha)(Inputs{query, key, value, per_head}), masked.to_vector(), 1e-12);
  check_error([&] { (*mha)(Inputs{query, key}); }, {"MultiheadAttention", "2 inputs"});
  check_error([&] { (*mha)(random_f64({2, 4, 5}, 96)); }, {"MultiheadAttention", "[2, 4, 5]"});
}

TEST_CASE("MultiheadAttention dropout acts in training only") {
  manual_seed(97);
  nn::MultiheadAttention mha(8, 2, {.dropout = 0.5});
  mha.to(DType::f64);
  const Tensor x = random_f64({2, 6, 8}, 98);
  mha.eval();
  const Tensor evaluated = mha(x);
  check_close(evaluated, reference_attention(mha, x, x, x).to_vector(), 1e-10);
  mha.train();
  const Tensor trained = mha(x);
  CHECK(trained.to_vector() != evaluated.to_vector());
  // Reproducible from the seed.
  manual_seed(5);
  const std::vector<double> first = mha(x).to_vector();
  manual_seed(5);
  CHECK(mha(x).to_vector() == first);
}

TEST_CASE("a forward hook on out_proj fires when MultiheadAttention is called") {
  auto mha = random_attention(4, 2, 99);
  int calls = 0;
  mha->register_forward_hook("out_proj", [&](const Tensor& out) {
    ++calls;
    return zeros_like(out);
  });
  check_close((*mha)(random_f64({1, 3, 4}, 100)), std::vector<double>(12, 0.0));
  CHECK(calls == 1);
}

// ---------------------------------------------------------------------------------------------------------
// MLP

TEST_CASE("MLP builds torchvision's layer sequence and computes it") {
  manual_seed(110);
  nn::MLP mlp(4, {8, 8, 3}, {.norm = nn::MLPNorm::batch});
  std::vector<std::string> types;
  for (const auto& child : mlp.children()) types.push_back(child->type_name());
  CHECK(types == std::vector<std::string>{"Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "BatchNorm1d", "ReLU",
                                          "Dropout", "Linear", "Dropout"});
  const StateDict state = mlp.state_dict();
  CHECK(state.count("0.weight") == 1);
  CHECK(state.count("1.running_mean") == 1);
  CHECK(state.count("8.bias") == 1);
  CHECK(mlp.num_parameters() == (4 * 8 + 8) + 2 * 8 + (8 * 8 + 8) + 2 * 8 + (8 * 3 + 3));

  mlp.eval();
  const Tensor x = randn({5, 4});
  auto linear_at = [&](int64_t i) { return mlp.get<nn::Linear>(i); };
  auto bn_at = [&](int64_t i) { return mlp.get<nn::BatchNorm1d>(i); };
  Tensor expected = relu((*bn_at(1))((*linear_at(0))(x)));
  expected = relu((*bn_at(5))((*linear_at(4))(expected)));
  expected = (*linear_at(8))(expected);
  check_close(mlp(x), expected.to_vector(), 1e-6);

  nn::MLP plain(4, {3}, {.activation = [] { return std::make_shared<nn::GELU>(); }, .bias = false});
  CHECK(plain.size() == 2);
  CHECK(plain.num_parameters() == 12);
  nn::MLP with_gelu(4, {6, 2}, {.norm = nn::MLPNorm::layer, .activation = [] { return std::make_shared<nn::GELU>(); }});
  CHECK(with_gelu[1]->type_name() == "LayerNorm");
  CHECK(with_gelu[2]->type_name() == "GELU");
  check_error([] { nn::MLP(4, {}); }, {"MLP", "hidden_channels"});
}

// ---------------------------------------------------------------------------------------------------------
// gradient checks (f64, with respect to the input and every parameter)

TEST_CASE("gradcheck: nn Linear") {
  manual_seed(120);
  auto layer = std::make_shared<nn::Linear>(4, 3);
  layer->to(DType::f64);
  const Inputs inputs = with_parameters({random_input({2, 3, 4}, 121)}, *layer);
  CHECK(inputs.size() == 3);
  CHECK_GRADCHECK([&](const Inputs& in) { return (*layer)(in[0]); }, inputs);
}

TEST_CASE("gradcheck: nn Conv2d") {
  manual_seed(122);
  auto conv = std::make_shared<nn::Conv2d>(4, 4, 3, nn::Conv2dOptions{.stride = 2, .padding = 1, .groups = 2});
  conv->to(DType::f64);
  const Inputs inputs = with_parameters({random_input({2, 4, 5, 5}, 123)}, *conv);
  CHECK_GRADCHECK([&](const Inputs& in) { return (*conv)(in[0]); }, inputs);
}

TEST_CASE("gradcheck: nn ConvTranspose2d") {
  manual_seed(124);
  auto deconv = std::make_shared<nn::ConvTranspose2d>(2, 3, 3, nn::ConvTranspose2dOptions{.stride = 2, .output_padding = 1});
  deconv->to(DType::f64);
  const Inputs inputs = with_parameters({random_input({2, 2, 3, 3}, 125)}, *deconv);
  CHECK_GRADCHECK([&](const Inputs& in) { return (*deconv)(in[0]); }, inputs);
}

TEST_CASE("gradcheck: nn MultiheadAttention self-attention") {
  auto mha = random_attention(6, 2, 126);
  const Inputs inputs = with_parameters({random_input({2, 4, 6}, 127)}, *mha);
  CHECK(inputs.size() == 5);
  CHECK_GRADCHECK([&](const Inputs& in) { return (*mha)(in[0]); }, inputs);
}

TEST_CASE("gradcheck: nn MultiheadAttention cross-attention with a mask") {
  auto mha = random_attention(4, 2, 128);
  std::vector<double> mask_values(3 * 5, 0.0);
  mask_values[4] = mask_values[8] = -INFINITY;
  const Tensor mask = Tensor::from_vector(mask_values, {3, 5}, {.dtype = DType::f64});
  const Inputs inputs = with_parameters({random_input({2, 3, 4}, 129), random_input({2, 5, 4}, 130),
                                         random_input({2, 5, 4}, 131)},
                                        *mha);
  CHECK_GRADCHECK([&](const Inputs& in) { return (*mha)(Inputs{in[0], in[1], in[2], mask}); }, inputs);
}

TEST_CASE("gradcheck: nn MultiheadAttention with dropout in training") {
  auto mha = std::make_shared<nn::MultiheadAttention>(4, 2, nn::MultiheadAttentionOptions{.dropout = 0.3});
  mha->to(DType::f64);
  const Inputs inputs = with_parameters({random_input({2, 3, 4}, 132)}, *mha);
  // The same dropout mask on every evaluation: reseed before each.
  CHECK_GRADCHECK(
      [&](const Inputs& in) {
        manual_seed(133);
        return (*mha)(in[0]);
      },
      inputs);
}

TEST_CASE("gradcheck: nn MLP with BatchNorm and GELU in training") {
  manual_seed(134);
  auto mlp = std::make_shared<nn::MLP>(
      3, std::vector<int64_t>{5, 2},
      nn::MLPOptions{.norm = nn::MLPNorm::batch, .activation = [] { return std::make_shared<nn::GELU>(); }});
  mlp->to(DType::f64);
  {
    NoGrad no_grad;
    for (const Tensor& p : mlp->parameters())
      if (p.dim() == 1) nn::init::uniform_(p, 0.5, 1.5);  // non-trivial BN affine and biases
  }
  const Inputs inputs = with_parameters({random_input({6, 3}, 135)}, *mlp);
  CHECK(inputs.size() == 7);
  CHECK_GRADCHECK([&](const Inputs& in) { return (*mlp)(in[0]); }, inputs);
}

TEST_CASE("gradcheck: nn LayerNorm GroupNorm and Embedding") {
  auto layer_norm = std::make_shared<nn::LayerNorm>(4);
  auto group_norm = std::make_shared<nn::GroupNorm>(2, 4);
  // The padding row (3) is never looked up here: its lookups would get no analytic gradient by design.
  auto embedding = std::make_shared<nn::Embedding>(5, 4, nn::EmbeddingOptions{.padding_idx = 3});
  for (nn::Module* m : std::vector<nn::Module*>{layer_norm.get(), group_norm.get(), embedding.get()}) m->to(DType::f64);
  const Tensor indices = vireo::testing::indices({0, 2, 4, 2, 0, 1}, {2, 3});
  Inputs inputs = with_parameters(with_parameters({random_input({2, 3, 4}, 136)}, *layer_norm), *group_norm);
  inputs.push_back(embedding->weight);
  CHECK_GRADCHECK(
      [&](const Inputs& in) {
        const Tensor h = add((*layer_norm)(in[0]), (*embedding)(indices));  // [2, 3, 4]
        return (*group_norm)(h.permute({0, 2, 1}));                          // channels = 4
      },
      inputs);
}
