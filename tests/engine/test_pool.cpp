// Pooling and resampling: forward values against plain loops and hand-computed cases, finite-difference
// gradient checks (also on non-contiguous inputs and of the gradients themselves), argument errors.
#include <cmath>
#include <limits>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype = DType::f64) {
  Generator g(seed);
  return randn(shape, {.dtype = dtype}, &g);
}

// A leaf whose values are a random permutation of 0.1·{0, 1, …}: no ties, so max pooling is
// differentiable there and finite differences with a small step see the same winners.
Tensor distinct_input(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  Tensor t;
  {
    NoGrad no_grad;
    t = mul(randperm(numel(shape), {.dtype = DType::i64}, &g).to(DType::f64), 0.1).reshape(shape).detach();
  }
  t.requires_grad_();
  return t;
}

// Same values, laid out as the H/W transpose of a contiguous tensor.
Tensor distinct_transposed_input(const Shape& shape, uint64_t seed) {
  Shape swapped = shape;
  std::swap(swapped[2], swapped[3]);
  Tensor base = distinct_input(swapped, seed);
  Tensor view = base.detach().transpose(2, 3);
  view.impl()->requires_grad = true;
  return view;
}

// ---- plain references over [N, C, H, W] values ----

std::vector<double> max_pool_reference(const Tensor& x, Pool2dOptions o, Shape* out_shape) {
  const Shape& s = x.shape();
  const int64_t sh = o.stride[0] ? o.stride[0] : o.kernel[0], sw = o.stride[1] ? o.stride[1] : o.kernel[1];
  const int64_t OH = (s[2] + 2 * o.padding[0] - o.dilation[0] * (o.kernel[0] - 1) - 1) / sh + 1;
  const int64_t OW = (s[3] + 2 * o.padding[1] - o.dilation[1] * (o.kernel[1] - 1) - 1) / sw + 1;
  *out_shape = {s[0], s[1], OH, OW};
  const std::vector<double> xv = x.to_vector();
  std::vector<double> y;
  for (int64_t p = 0; p < s[0] * s[1]; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double best = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < o.kernel[0]; ++i)
          for (int64_t j = 0; j < o.kernel[1]; ++j) {
            const int64_t ih = oh * sh - o.padding[0] + i * o.dilation[0], iw = ow * sw - o.padding[1] + j * o.dilation[1];
            if (ih >= 0 && ih < s[2] && iw >= 0 && iw < s[3]) best = std::max(best, xv[(p * s[2] + ih) * s[3] + iw]);
          }
        y.push_back(best);
      }
  return y;
}

// Average over the window; the divisor is the whole window (the padding being zeros) or only the
// positions inside the image.
std::vector<double> avg_pool_reference(const Tensor& x, Pool2dOptions o, Shape* out_shape) {
  const Shape& s = x.shape();
  const int64_t sh = o.stride[0] ? o.stride[0] : o.kernel[0], sw = o.stride[1] ? o.stride[1] : o.kernel[1];
  const int64_t OH = (s[2] + 2 * o.padding[0] - o.kernel[0]) / sh + 1;
  const int64_t OW = (s[3] + 2 * o.padding[1] - o.kernel[1]) / sw + 1;
  *out_shape = {s[0], s[1], OH, OW};
  const std::vector<double> xv = x.to_vector();
  std::vector<double> y;
  for (int64_t p = 0; p < s[0] * s[1]; ++p)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        double sum = 0;
        int64_t inside = 0;
        for (int64_t i = 0; i < o.kernel[0]; ++i)
          for (int64_t j = 0; j < o.kernel[1]; ++j) {
            const int64_t ih = oh * sh - o.padding[0] + i, iw = ow * sw - o.padding[1] + j;
            if (ih >= 0 && ih < s[2] && iw >= 0 && iw < s[3]) {
              sum += xv[(p * s[2] + ih) * s[3] + iw];
              ++inside;
            }
          }
        y.push_back(sum / static_cast<double>(o.count_include_pad ? o.kernel[0] * o.kernel[1] : inside));
      }
  return y;
}

std::vector<double> adaptive_avg_reference(const Tensor& x, Pair size) {
  const Shape& s = x.shape();
  const std::vector<double> xv = x.to_vector();
  std::vector<double> y;
  for (int64_t p = 0; p < s[0] * s[1]; ++p)
    for (int64_t oh = 0; oh < size[0]; ++oh)
      for (int64_t ow = 0; ow < size[1]; ++ow) {
        const auto h0 = static_cast<int64_t>(std::floor(double(oh) * s[2] / size[0]));
        const auto h1 = static_cast<int64_t>(std::ceil(double(oh + 1) * s[2] / size[0]));
        const auto w0 = static_cast<int64_t>(std::floor(double(ow) * s[3] / size[1]));
        const auto w1 = static_cast<int64_t>(std::ceil(double(ow + 1) * s[3] / size[1]));
        double sum = 0;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) sum += xv[(p * s[2] + ih) * s[3] + iw];
        y.push_back(sum / static_cast<double>((h1 - h0) * (w1 - w0)));
      }
  return y;
}

void check_values(const Tensor& actual, const std::vector<double>& expected, double tolerance = 1e-12) {
  const std::vector<double> values = actual.to_vector();
  REQUIRE(values.size() == expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("element ", i);
    CHECK(values[i] == doctest::Approx(expected[i]).epsilon(tolerance));
  }
}

}  // namespace

// ---- max pooling ----

TEST_CASE("max_pool2d forward matches the plain loop") {
  const std::vector<Pool2dOptions> configurations = {
      {.kernel = {2, 2}},
      {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},
      {.kernel = {3, 2}, .stride = {1, 2}, .padding = {1, 0}},
      {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {2, 2}},
      {.kernel = {2, 3}, .stride = {3, 1}, .dilation = {2, 1}},
  };
  int seed = 10;
  for (const Pool2dOptions& o : configurations) {
    INFO("kernel ", o.kernel[0], "x", o.kernel[1], " stride ", o.stride[0], ",", o.stride[1]);
    Tensor x = random_tensor({2, 3, 7, 8}, ++seed);
    Shape expected_shape;
    const std::vector<double> expected = max_pool_reference(x, o, &expected_shape);
    Tensor y = max_pool2d(x, o);
    CHECK(y.shape() == expected_shape);
    check_values(y, expected);
  }
}

TEST_CASE("max_pool2d hand-computed case with its gradient and NaN propagation") {
  Tensor x = Tensor::from_vector({1, 5, 2, 0,  //
                                  3, 4, 8, 1,  //
                                  0, 2, 6, 7,  //
                                  9, 1, 3, 2},
                                 {1, 1, 4, 4}, {.dtype = DType::f64});
  x.requires_grad_();
  Tensor y = max_pool2d(x, {.kernel = {2, 2}});
  check_close(y, {5, 8, 9, 7});
  sum(mul(y, Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2}, {.dtype = DType::f64}))).backward();
  check_close(x.grad(), {0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 3, 0, 0, 0});

  Tensor with_nan = Tensor::from_vector({1, std::nan(""), 2, 3}, {1, 1, 2, 2});
  CHECK(std::isnan(max_pool2d(with_nan, {.kernel = {2, 2}}).item()));
}

TEST_CASE("gradcheck: max_pool2d 2x2") {
  auto f = [](const Inputs& in) { return max_pool2d(in[0], {.kernel = {2, 2}}); };
  CHECK_GRADCHECK(f, Inputs({distinct_input({2, 3, 6, 5}, 1)}));
  CHECK_GRADCHECK(f, Inputs({distinct_transposed_input({2, 3, 6, 5}, 2)}));
}

TEST_CASE("gradcheck: max_pool2d 3x3 stride 2 padding 1") {
  auto f = [](const Inputs& in) { return max_pool2d(in[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}); };
  CHECK_GRADCHECK(f, Inputs({distinct_input({2, 2, 7, 6}, 3)}));
  CHECK_GRADCHECK(f, Inputs({distinct_transposed_input({2, 2, 7, 6}, 4)}));
}

TEST_CASE("gradcheck: max_pool2d overlapping windows stride 1") {
  // A value that wins several windows collects every one of their gradients.
  CHECK_GRADCHECK([](const Inputs& in) { return max_pool2d(in[0], {.kernel = {3, 2}, .stride = {1, 1}}); },
                  Inputs({distinct_input({1, 2, 5, 5}, 5)}));
}

TEST_CASE("gradcheck: max_pool2d dilation 2") {
  CHECK_GRADCHECK(
      [](const Inputs& in) { return max_pool2d(in[0], {.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 1}, .dilation = {2, 2}}); },
      Inputs({distinct_input({2, 2, 6, 7}, 6)}));
}

TEST_CASE("avg_pool2d forward matches the plain loop with and without count_include_pad") {
  const std::vector<Pool2dOptions> configurations = {
      {.kernel = {2, 2}},
      {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}},
      {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false},
      {.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 1}, .count_include_pad = false},
      {.kernel = {4, 4}, .stride = {3, 3}, .padding = {2, 2}},
  };
  int seed = 20;
  for (const Pool2dOptions& o : configurations) {
    INFO("kernel ", o.kernel[0], "x", o.kernel[1], " padding ", o.padding[0], " count_include_pad ", o.count_include_pad);
    Tensor x = random_tensor({2, 3, 7, 6}, ++seed);
    Shape expected_shape;
    const std::vector<double> expected = avg_pool_reference(x, o, &expected_shape);
    Tensor y = avg_pool2d(x, o);
    CHECK(y.shape() == expected_shape);
    check_values(y, expected);
  }
}

TEST_CASE("avg_pool2d hand-computed corner with padding") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  // kernel 2, stride 1, padding 1: the top-left window holds only x[0, 0] = 1.
  check_close(avg_pool2d(x, {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}}),
              {0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1});
  check_close(avg_pool2d(x, {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .count_include_pad = false}),
              {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
}

TEST_CASE("gradcheck: avg_pool2d 2x2") {
  auto f = [](const Inputs& in) { return avg_pool2d(in[0], {.kernel = {2, 2}}); };
  CHECK_GRADCHECK(f, Inputs({random_input({2, 3, 5, 6}, 1)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({2, 3, 5, 6}, 2)}));
}

TEST_CASE("gradcheck: avg_pool2d count_include_pad true") {
  CHECK_GRADCHECK([](const Inputs& in) { return avg_pool2d(in[0], {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}); },
                  Inputs({random_input({2, 2, 5, 6}, 3)}));
}

TEST_CASE("gradcheck: avg_pool2d count_include_pad false") {
  auto f = [](const Inputs& in) {
    return avg_pool2d(in[0], {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .count_include_pad = false});
  };
  CHECK_GRADCHECK(f, Inputs({random_input({2, 2, 5, 6}, 4)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({2, 2, 5, 6}, 5)}));
}

TEST_CASE("adaptive_avg_pool2d forward matches PyTorch's windows") {
  const std::vector<std::pair<Shape, Pair>> cases = {
      {{2, 3, 6, 6}, {3, 3}}, {{2, 2, 7, 5}, {3, 2}}, {{1, 2, 5, 7}, {4, 3}},
      {{1, 1, 3, 2}, {5, 4}},  // more outputs than inputs: overlapping windows
      {{2, 3, 4, 5}, {1, 1}},  // global average pooling
  };
  int seed = 30;
  for (const auto& [shape, size] : cases) {
    INFO("input ", shape, " output ", size[0], "x", size[1]);
    Tensor x = random_tensor(shape, ++seed);
    Tensor y = adaptive_avg_pool2d(x, size);
    CHECK(y.shape() == Shape{shape[0], shape[1], size[0], size[1]});
    check_values(y, adaptive_avg_reference(x, size));
  }
  // 5 → 3: windows [0, 2), [1, 4), [3, 5).
  check_close(adaptive_avg_pool2d(Tensor::from_vector({1, 2, 3, 4, 5}, {1, 1, 1, 5}), {1, 3}), {1.5, 3, 4.5});
}

TEST_CASE("gradcheck: adaptive_avg_pool2d") {
  auto f = [](const Inputs& in) { return adaptive_avg_pool2d(in[0], {3, 2}); };
  CHECK_GRADCHECK(f, Inputs({random_input({2, 2, 7, 5}, 1)}));
  CHECK_GRADCHECK(f, Inputs({transposed_input({2, 2, 7, 5}, 2)}));
  CHECK_GRADCHECK([](const Inputs& in) { return adaptive_avg_pool2d(in[0], {4, 5}); }, Inputs({random_input({1, 2, 3, 3}, 3)}));
}

// ---- nearest upsampling ----

TEST_CASE("upsample_nearest2d hand-computed cases") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  check_close(upsample_nearest2d(x, {4, 4}), {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  check_close(upsample_nearest2d(x, {3, 2}), {1, 2, 1, 2, 3, 4});  // rows floor(d·2/3) = 0, 0, 1
  Tensor row = Tensor::from_vector({10, 20, 30}, {1, 1, 1, 3});
  check_close(upsample_nearest2d(row, {1, 5}), {10, 10, 20, 20, 30});  // floor(d·0.6) = 0, 0, 1, 1, 2
  Tensor wide = Tensor::from_vector({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  check_close(upsample_nearest2d(wide, {1, 2}), {1, 3});  // floor(d·2.5) = 0, 2
  // The scale is computed in f32 as PyTorch does: 2/82 = 0.024390243f, and 41·that rounds just below 1.
  Tensor pair = Tensor::from_vector({7, 9}, {1, 1, 1, 2});
  const std::vector<double> stretched = upsample_nearest2d(pair, {1, 82}).to_vector();
  CHECK(stretched[40] == 7);
  CHECK(stretched[41] == 7);
  CHECK(stretched[42] == 9);
}

TEST_CASE("gradcheck: upsample_nearest2d") {
  auto up = [](const Inputs& in) { return upsample_nearest2d(in[0], {7, 5}); };
  CHECK_GRADCHECK(up, Inputs({random_input({2, 2, 3, 4}, 1)}));
  CHECK_GRADCHECK(up, Inputs({transposed_input({2, 2, 3, 4}, 2)}));
  CHECK_GRADCHECK([](const Inputs& in) { return upsample_nearest2d(in[0], {2, 3}); }, Inputs({random_input({1, 2, 5, 7}, 3)}));
}

// ---- bilinear upsampling ----

TEST_CASE("upsample_bilinear2d hand-computed cases for both align_corners") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  // align_corners: src = dst·(in − 1)/(out − 1) = 0, 0.5, 1.
  check_close(upsample_bilinear2d(x, {3, 3}, true), {1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4});
  // half-pixel: src = (dst + ½)·½ − ½ = −¼ → 0, ¼, ¾, 1¼ → the last position.
  check_close(upsample_bilinear2d(x, {4, 4}, false),
              {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4});
  // Downsampling 4 → 2 without align_corners: src = 0.5, 2.5, the means of neighbouring pairs.
  Tensor row = Tensor::from_vector({1, 3, 5, 9}, {1, 1, 1, 4});
  check_close(upsample_bilinear2d(row, {1, 2}, false), {2, 7});
  // With align_corners, 4 → 3: src = 0, 1.5, 3.
  check_close(upsample_bilinear2d(row, {1, 3}, true), {1, 4, 9});
  // One output position with align_corners reads the first input.
  check_close(upsample_bilinear2d(row, {1, 1}, true), {1});
}

TEST_CASE("gradcheck: upsample_bilinear2d align_corners false") {
  auto up = [](const Inputs& in) { return upsample_bilinear2d(in[0], {7, 5}, false); };
  CHECK_GRADCHECK(up, Inputs({random_input({2, 2, 3, 4}, 1)}));
  CHECK_GRADCHECK(up, Inputs({transposed_input({2, 2, 3, 4}, 2)}));
  CHECK_GRADCHECK([](const Inputs& in) { return upsample_bilinear2d(in[0], {3, 2}, false); },
                  Inputs({random_input({1, 2, 5, 7}, 3)}));
}

TEST_CASE("gradcheck: upsample_bilinear2d align_corners true") {
  auto up = [](const Inputs& in) { return upsample_bilinear2d(in[0], {7, 5}, true); };
  CHECK_GRADCHECK(up, Inputs({random_input({2, 2, 3, 4}, 4)}));
  CHECK_GRADCHECK(up, Inputs({transposed_input({2, 2, 3, 4}, 5)}));
  CHECK_GRADCHECK([](const Inputs& in) { return upsample_bilinear2d(in[0], {3, 1}, true); },
                  Inputs({random_input({1, 2, 5, 7}, 6)}));
}

TEST_CASE("pooling and resampling accept a 3-D [C H W] input") {
  Tensor x = random_tensor({3, 6, 5}, 40);
  Tensor batched = x.unsqueeze(0);
  CHECK(max_pool2d(x, {.kernel = {2, 2}}).shape() == Shape{3, 3, 2});
  CHECK(max_pool2d(x, {.kernel = {2, 2}}).to_vector() == max_pool2d(batched, {.kernel = {2, 2}}).to_vector());
  CHECK(avg_pool2d(x, {.kernel = {3, 3}, .padding = {1, 1}}).to_vector() ==
        avg_pool2d(batched, {.kernel = {3, 3}, .padding = {1, 1}}).to_vector());
  CHECK(adaptive_avg_pool2d(x, {1, 1}).shape() == Shape{3, 1, 1});
  CHECK(upsample_nearest2d(x, {12, 10}).shape() == Shape{3, 12, 10});
  CHECK(upsample_bilinear2d(x, {12, 10}).to_vector() == upsample_bilinear2d(batched, {12, 10}).to_vector());
}

TEST_CASE("pooling and resampling in f32 agree with f64") {
  Tensor x64 = random_tensor({2, 4, 9, 8}, 41);
  Tensor x32 = x64.to(DType::f32);
  auto agree = [](const Tensor& a, const Tensor& b) {
    CHECK(a.dtype() == DType::f32);
    check_values(a, b.to_vector(), 1e-5);
  };
  agree(max_pool2d(x32, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}),
        max_pool2d(x64, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}}));
  agree(avg_pool2d(x32, {.kernel = {2, 2}}), avg_pool2d(x64, {.kernel = {2, 2}}));
  agree(adaptive_avg_pool2d(x32, {4, 3}), adaptive_avg_pool2d(x64, {4, 3}));
  agree(upsample_nearest2d(x32, {13, 17}), upsample_nearest2d(x64, {13, 17}));
  agree(upsample_bilinear2d(x32, {13, 17}, true), upsample_bilinear2d(x64, {13, 17}, true));
}

// ---- argument errors ----

TEST_CASE("pooling argument errors name the op and the shapes") {
  check_error([] { max_pool2d(zeros({1, 1, 5, 5}), {.kernel = {3, 3}, .padding = {2, 2}}); },
              {"max_pool2d", "padding (2, 2)", "half the kernel (3, 3)"});
  check_error([] { avg_pool2d(zeros({1, 1, 5, 5}), {.kernel = {2, 2}, .padding = {0, 2}}); },
              {"avg_pool2d", "padding (0, 2)"});
  check_error([] { max_pool2d(zeros({1, 1, 5, 5}), {.kernel = {2, 2}, .stride = {-1, 1}}); },
              {"max_pool2d", "stride (-1, 1)"});
  check_error([] { max_pool2d(zeros({1, 1, 5, 5}), {.kernel = {0, 2}}); }, {"max_pool2d", "kernel (0, 2)"});
  check_error([] { max_pool2d(zeros({1, 1, 5, 5}), {.kernel = {2, 2}, .dilation = {0, 1}}); },
              {"max_pool2d", "dilation (0, 1)"});
  check_error([] { max_pool2d(zeros({1, 1, 2, 5}), {.kernel = {3, 3}}); },
              {"max_pool2d", "[1, 1, 2, 5]", "kernel (3, 3)", "output size (0, 1)"});
  check_error([] { avg_pool2d(zeros({5, 5}), {.kernel = {2, 2}}); }, {"avg_pool2d", "4-D", "[5, 5]"});
  check_error([] { adaptive_avg_pool2d(zeros({1, 1, 5, 5}), {0, 2}); },
              {"adaptive_avg_pool2d", "output size (0, 2)", "[1, 1, 5, 5]"});
  check_error([] { upsample_nearest2d(zeros({1, 1, 5, 5}), {4, -1}); },
              {"upsample_nearest2d", "output size (4, -1)", "[1, 1, 5, 5]"});
  check_error([] { upsample_bilinear2d(zeros({2, 1, 2, 3, 3}), {4, 4}); }, {"upsample_bilinear2d", "[2, 1, 2, 3, 3]"});
  check_error([] { upsample_bilinear2d(zeros({1, 1, 0, 3}), {4, 4}); }, {"upsample_bilinear2d", "[1, 1, 0, 3]"});
  check_error([] { max_pool2d(zeros({1, 1, 4, 4}, {.dtype = DType::i64}), {.kernel = {2, 2}}); },
              {"max_pool2d", "i64"});
}
