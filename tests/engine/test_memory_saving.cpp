// The memory-saving ops (METHODS.md §3): ReGELU2 / ReSiLU2 and their 2-bit codes, MS-LayerNorm /
// MS-RMSNorm and the folding of the affine into the next Linear, and activation checkpointing.
#include <cmath>

#include "engine/nn.h"
#include "engine/storage.h"
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::random_input;
using Inputs = std::vector<Tensor>;

namespace {

size_t bytes_in_use() { return allocator_for(Device::cpu()).stats().bytes_in_use; }

// h′(x) = Σᵢ aᵢ·[x > cᵢ], summed in the order the slopes are (a₀, then + a₁, then + a₂).
double surrogate_derivative(const ApproxBackward& surrogate, double x) {
  double slope = 0.0;
  for (int i = 0; i < 3; ++i)
    if (x > surrogate.thresholds[i]) slope += surrogate.weights[i];
  return slope;
}

// Inputs on both sides of every threshold, exactly at them, and far out.
Tensor probe_points(const ApproxBackward& surrogate, uint64_t seed) {
  Generator generator(seed);
  std::vector<double> values = randn({997}, {.dtype = DType::f64}, &generator).to_vector();
  for (double& v : values) v *= 4.0;
  for (double c : surrogate.thresholds)
    for (double offset : {-1e-9, 0.0, 1e-9}) values.push_back(c + offset);
  values.push_back(-50.0);
  values.push_back(50.0);
  return Tensor::from_vector(values, {static_cast<int64_t>(values.size())}, {.dtype = DType::f64});
}

// The backward of `op` is dy·h′(x) exactly, and its forward is `exact`'s.
void check_approx_backward(Tensor (*op)(const Tensor&), Tensor (*exact)(const Tensor&),
                           const ApproxBackward& surrogate) {
  Tensor x = probe_points(surrogate, 3);
  x.requires_grad_();
  Generator generator(4);
  const Tensor dy = randn(x.shape(), {.dtype = DType::f64}, &generator);
  Tensor y = op(x);
  y.backward(dy);
  const std::vector<double> xs = x.to_vector(), dys = dy.to_vector(), dxs = x.grad().to_vector();
  int mismatches = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    if (dxs[i] != dys[i] * surrogate_derivative(surrogate, xs[i])) ++mismatches;
  CHECK(mismatches == 0);
  NoGrad no_grad;
  CHECK(amax(abs(sub(y, exact(x.detach())))).item() == 0.0);
}

Tensor exact_gelu(const Tensor& x) { return gelu(x); }

// Mean and largest |h′(x) − f′(x)| over x ~ N(0, 1), f′ from the exact op's own backward.
std::pair<double, double> derivative_error(Tensor (*exact)(const Tensor&), const ApproxBackward& surrogate) {
  Generator generator(7);
  Tensor x = randn({20000}, {.dtype = DType::f64}, &generator);
  x.requires_grad_();
  sum(exact(x)).backward();
  const std::vector<double> xs = x.to_vector(), true_derivative = x.grad().to_vector();
  double total = 0.0, largest = 0.0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double error = std::abs(surrogate_derivative(surrogate, xs[i]) - true_derivative[i]);
    total += error;
    largest = std::max(largest, error);
  }
  return {total / static_cast<double>(xs.size()), largest};
}

}  // namespace

TEST_CASE("ReGELU2 backward equals the derivative of the piecewise-linear surrogate exactly") {
  check_approx_backward(regelu2, exact_gelu, kReGELU2);
}

TEST_CASE("ReSiLU2 backward equals the derivative of the piecewise-linear surrogate exactly") {
  check_approx_backward(resilu2, silu, kReSiLU2);
}

TEST_CASE("the surrogate slopes are the cumulative sums of the weights in METHODS.md") {
  const auto gelu_slopes = kReGELU2.slopes();
  CHECK(gelu_slopes[0] == 0.0);
  CHECK(gelu_slopes[1] == -0.04922261145617846);
  CHECK(gelu_slopes[2] == doctest::Approx(1.0487406).epsilon(1e-7));
  CHECK(gelu_slopes[3] == doctest::Approx(1.0).epsilon(1e-12));
  CHECK(kReSiLU2.slopes()[3] == doctest::Approx(1.0).epsilon(1e-12));
}

TEST_CASE("ReGELU2 and ReSiLU2 backward stay close to the true derivative") {
  // Four slopes cannot follow f′ through its rise near 0 (f′(0) = 0.5 against the steps −0.049 and 1.049):
  // |h′ − f′| is at most 0.55 anywhere, and on average over x ~ N(0, 1) 0.18 for GELU, 0.24 for SiLU
  // (measured here); the training curves, not the pointwise slope, are what the method keeps equal.
  const auto [gelu_mean, gelu_largest] = derivative_error(exact_gelu, kReGELU2);
  CHECK(gelu_largest <= 0.55);
  CHECK(gelu_mean <= 0.19);
  const auto [silu_mean, silu_largest] = derivative_error(silu, kReSiLU2);
  CHECK(silu_largest <= 0.55);
  CHECK(silu_mean <= 0.25);
}

TEST_CASE("ReGELU2 on f32 matches the f32 surrogate derivative") {
  Tensor x64 = probe_points(kReGELU2, 5);
  Tensor x = x64.to(DType::f32).detach();
  x.requires_grad_();
  regelu2(x).backward(ones(x.shape()));
  const std::vector<double> xs = x.to_vector(), dxs = x.grad().to_vector();
  const auto slopes = kReGELU2.slopes();
  int mismatches = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float v = static_cast<float>(xs[i]);
    const int code = (v > static_cast<float>(kReGELU2.thresholds[0])) + (v > static_cast<float>(kReGELU2.thresholds[1])) +
                     (v > static_cast<float>(kReGELU2.thresholds[2]));
    if (static_cast<float>(dxs[i]) != static_cast<float>(slopes[code])) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("2-bit codes pack four to a byte and unpack to the same codes") {
  // One value in each interval: codes 0, 1, 2, 3 -> 0b11'10'01'00 in one byte.
  const Tensor four = Tensor::from_vector({-5.0, -1.0, 1.0, 5.0}, {4}, {.dtype = DType::f64});
  const Tensor packed_four = pack_activation_codes(four, kReGELU2);
  CHECK(packed_four.dtype() == DType::u8);
  CHECK(packed_four.to_vector() == std::vector<double>{static_cast<double>(0b11100100)});
  for (int64_t count : {0, 1, 3, 4, 5, 1023}) {
    CAPTURE(count);
    Generator generator(static_cast<uint64_t>(count) + 11);
    const Tensor x = mul(randn({count}, {.dtype = DType::f64}, &generator), 4.0);
    const Tensor packed = pack_activation_codes(x, kReSiLU2);
    CHECK(packed.numel() == (count + 3) / 4);
    const std::vector<double> codes = unpack_activation_codes(packed, count).to_vector();
    const std::vector<double> xs = x.to_vector();
    int mismatches = 0;
    for (int64_t i = 0; i < count; ++i) {
      const double expected = (xs[i] > kReSiLU2.thresholds[0]) + (xs[i] > kReSiLU2.thresholds[1]) +
                              (xs[i] > kReSiLU2.thresholds[2]);
      if (codes[static_cast<size_t>(i)] != expected) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
  CHECK_THROWS_WITH_AS(unpack_activation_codes(packed_four, 9), doctest::Contains("unpack_activation_codes"), Error);
}

TEST_CASE("ReGELU2 keeps 2 bits per element where GELU keeps the input") {
  // The activation's input is an intermediate (a leaf would stay alive through its gradient edge anyway).
  const int64_t count = 1 << 16;
  const Tensor leaf = randn({count}).requires_grad_();
  auto kept_after_forward = [&](Tensor (*op)(const Tensor&)) {
    const size_t before = bytes_in_use();
    Tensor y;
    {
      const Tensor x = mul(leaf, 2.0);
      y = op(x);
    }  // the input handle is gone: only what the graph keeps of it stays allocated
    return bytes_in_use() - before;
  };
  const size_t output_bytes = count * sizeof(float);
  CHECK(kept_after_forward(exact_gelu) >= output_bytes + count * sizeof(float));  // y and x
  CHECK(kept_after_forward(regelu2) <= output_bytes + count / 4 + 64);             // y and the codes
}

TEST_CASE("MS-LayerNorm forward is LayerNorm without affine and its backward matches finite differences") {
  const Tensor x = random_input({3, 4, 7}, 21, -2.0, 2.0);
  check_close(ms_layer_norm(x, 1e-5), layer_norm(x, {7}, {}, {}, 1e-5).to_vector(), 1e-12);
  CHECK_GRADCHECK([](const Inputs& in) { return ms_layer_norm(in[0], 1e-5); }, Inputs{x});
  // A non-contiguous input.
  const Tensor transposed = random_input({7, 5}, 22, -2.0, 2.0);
  CHECK_GRADCHECK([](const Inputs& in) { return ms_layer_norm(in[0].t(), 1e-5); }, Inputs{transposed});
}

TEST_CASE("MS-RMSNorm forward is x over its root mean square and its backward matches finite differences") {
  const Tensor x = random_input({5, 6}, 23, -2.0, 2.0);
  {
    NoGrad no_grad;
    const Tensor expected = div(x, sqrt(add(mean(mul(x, x), {-1}, true), 1e-6)));
    check_close(ms_rms_norm(x, 1e-6), expected.to_vector(), 1e-12);
  }
  CHECK_GRADCHECK([](const Inputs& in) { return ms_rms_norm(in[0], 1e-6); }, Inputs{x});
}

TEST_CASE("MS-LayerNorm shares its saved output with the next Linear's saved input") {
  // LayerNorm then Linear keeps both x (for the norm) and y (for the Linear); the memory-sharing pair keeps
  // y once, so dropping the handle to x (an intermediate, as the residual stream is) frees it.
  const int64_t rows = 512, width = 256;
  const Tensor weight = randn({width, width}).requires_grad_();
  const Tensor leaf = randn({rows, width}).requires_grad_();
  auto kept = [&](bool memory_sharing) {
    const size_t before = bytes_in_use();
    Tensor out;
    {
      const Tensor x = mul(leaf, 2.0);
      const Tensor normed = memory_sharing ? ms_layer_norm(x) : layer_norm(x, {width});
      out = linear(normed, weight);
    }
    return bytes_in_use() - before;
  };
  const size_t plain = kept(false), shared = kept(true);
  CHECK(plain - shared >= rows * width * sizeof(float));
  // What the shared pair keeps: the output, the one normalized tensor and a per-row rstd (block rounding aside).
  CHECK(shared <= 2 * rows * width * sizeof(float) + rows * sizeof(float) + 4096);
}

TEST_CASE("folding gamma and beta into the next Linear leaves the outputs unchanged") {
  auto make_pair = [](uint64_t seed) {
    manual_seed(seed);
    auto norm = std::make_shared<nn::LayerNorm>(6);
    auto next = std::make_shared<nn::Linear>(6, 4);
    NoGrad no_grad;
    norm->weight.copy_(add(randn({6}), 1.0));
    norm->bias.copy_(randn({6}));
    norm->to(DType::f64);
    next->to(DType::f64);
    return std::pair{norm, next};
  };
  auto [norm, next] = make_pair(31);
  const Tensor x = random_input({5, 6}, 32, -3.0, 3.0);
  const Tensor plain = (*next)((*norm)(x)).detach();
  norm->share_memory_with(next);
  CHECK(norm->shares_memory());
  CHECK_FALSE(norm->weight.requires_grad());
  check_close((*next)((*norm)(x)), plain.to_vector(), 1e-12);
  check_close(norm->weight, std::vector<double>(6, 1.0), 1e-15);

  // A plain checkpoint loaded into the memory-sharing pair (unfolded W, b, γ, β) is folded at the next call.
  auto [other_norm, other_next] = make_pair(33);
  const Tensor other_plain = (*other_next)((*other_norm)(x)).detach();
  norm->load_state_dict(other_norm->state_dict());
  next->load_state_dict(other_next->state_dict());
  check_close((*next)((*norm)(x)), other_plain.to_vector(), 1e-12);

  // Gradients through the shared pair match finite differences with respect to x and the folded weight.
  CHECK_GRADCHECK([&](const Inputs& in) { return (*next)((*norm)(in[0])); }, Inputs{x});
  auto linear_without_bias = std::make_shared<nn::Linear>(6, 4, nn::LinearOptions{.bias = false});
  CHECK_THROWS_WITH_AS(make_pair(34).first->share_memory_with(linear_without_bias),
                       doctest::Contains("Linear without bias"), Error);
}

TEST_CASE("a checkpointed block gives identical gradients to the plain one") {
  auto make_block = [] {
    manual_seed(41);
    auto block = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(8, 16), std::make_shared<nn::GELU>(),
                                                  std::make_shared<nn::Dropout>(0.25), std::make_shared<nn::Linear>(16, 8));
    block->to(DType::f64);
    return block;
  };
  auto plain = make_block(), checkpointed = make_block();
  checkpointed->set_checkpointed();
  const Tensor x = random_input({4, 8}, 42);
  auto run = [&](nn::Module& block) {
    manual_seed(43);  // the same dropout mask in both, replayed by the recomputation
    Tensor input = x.detach().clone().requires_grad_();
    const Tensor y = block(input);
    sum(mul(y, y)).backward();
    std::vector<Tensor> grads{input.grad()};
    for (const Tensor& p : block.parameters()) grads.push_back(p.grad());
    return grads;
  };
  const auto expected = run(*plain), actual = run(*checkpointed);
  REQUIRE(expected.size() == actual.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    REQUIRE(actual[i].defined());
    CHECK(amax(abs(sub(actual[i], expected[i]))).item() == 0.0);
  }
  // Without dropout the checkpointed block passes the finite-difference check too.
  manual_seed(44);
  auto deterministic = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 5), std::make_shared<nn::SiLU>(),
                                                        std::make_shared<nn::Linear>(5, 2));
  deterministic->to(DType::f64);
  deterministic->set_checkpointed();
  CHECK_GRADCHECK([&](const Inputs& in) { return (*deterministic)(in[0]); }, Inputs{random_input({3, 3}, 45)});
}

TEST_CASE("a checkpointed block keeps none of its inner activations") {
  manual_seed(51);
  auto make = [] {
    return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(64, 256), std::make_shared<nn::GELU>(),
                                            std::make_shared<nn::Linear>(256, 64));
  };
  auto kept = [&](bool checkpointed) {
    auto block = make();
    block->set_checkpointed(checkpointed);
    const Tensor x = randn({128, 64}).requires_grad_();
    const size_t before = bytes_in_use();
    Tensor y = (*block)(x);
    return bytes_in_use() - before;
  };
  const size_t plain = kept(false), checkpointed = kept(true);
  CHECK(checkpointed <= 128 * 64 * sizeof(float) + 4096);  // the output only
  CHECK(plain >= checkpointed + 2 * 128 * 256 * sizeof(float));  // fc1's output and GELU's input kept
}

TEST_CASE("a checkpointed BatchNorm updates its running statistics once per step") {
  manual_seed(61);
  auto plain = std::make_shared<nn::BatchNorm1d>(3), checkpointed = std::make_shared<nn::BatchNorm1d>(3);
  checkpointed->set_checkpointed();
  const Tensor x = randn({8, 3}).requires_grad_();
  for (nn::BatchNorm1d* norm : {plain.get(), checkpointed.get()}) {
    const Tensor y = (*norm)(x);
    sum(mul(y, y)).backward();
  }
  check_close(checkpointed->running_mean, plain->running_mean.to_vector(), 1e-15);
  check_close(checkpointed->running_var, plain->running_var.to_vector(), 1e-15);
  CHECK(checkpointed->num_batches_tracked.item() == plain->num_batches_tracked.item());
}

TEST_CASE("in a checkpointed block an observing hook sees one forward and a replacing hook fires in both passes") {
  auto make_block = [] {
    manual_seed(71);
    auto block = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(4, 6), std::make_shared<nn::SiLU>(),
                                                  std::make_shared<nn::Linear>(6, 3));
    block->to(DType::f64);
    return block;
  };
  auto plain = make_block(), checkpointed = make_block();
  checkpointed->set_checkpointed();
  const Tensor x = random_input({5, 4}, 72);
  auto run = [&](nn::Module& block, int& observed, int& replaced) {
    // Inside the block: observe the SiLU's output, and double the first Linear's output (a steering-like edit).
    nn::HookHandle observe = block.register_forward_hook("1", [&observed](const Tensor&) { ++observed; });
    nn::HookHandle edit = block.register_forward_hook("0", [&replaced](const Tensor& out) {
      ++replaced;
      return mul(out, 2.0);
    });
    Tensor input = x.detach().clone().requires_grad_();
    const Tensor y = block(input);
    sum(mul(y, y)).backward();
    observe.remove();
    edit.remove();
    return std::vector<Tensor>{y, input.grad()};
  };
  int plain_observed = 0, plain_replaced = 0, observed = 0, replaced = 0;
  const auto expected = run(*plain, plain_observed, plain_replaced);
  const auto actual = run(*checkpointed, observed, replaced);
  CHECK(plain_observed == 1);
  CHECK(plain_replaced == 1);
  CHECK(observed == 1);   // not again in the recomputation
  CHECK(replaced == 2);   // forward and recomputation: the recomputed graph includes the edit
  CHECK(!nn::in_checkpoint_recomputation());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(i);
    CHECK(amax(abs(sub(actual[i], expected[i]))).item() == 0.0);
  }
}
