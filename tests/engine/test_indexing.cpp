// Indexing ops and pad: forward values against hand-computed cases and plain reference loops, gradient
// checks (non-contiguous inputs, duplicate indices, broadcast masks), argument errors.
#include <omp.h>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::indices;
using vireo::testing::with_threads;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;

using Inputs = std::vector<Tensor>;

namespace {

// Row-major coordinates of flat position `flat` in `shape`.
std::vector<int64_t> coordinates(int64_t flat, const Shape& shape) {
  std::vector<int64_t> c(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    c[d] = flat % shape[d];
    flat /= shape[d];
  }
  return c;
}

int64_t flat_of(const std::vector<int64_t>& c, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + c[d];
  return flat;
}

}  // namespace

// ---------------------------------------------------------------------------------------------- index_select

TEST_CASE("index_select picks rows and columns - repeats allowed") {
  Tensor x = arange(12, {.dtype = DType::f32}).reshape({3, 4});
  check_close(index_select(x, 0, indices({2, 0, 2}, {3})), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
  check_close(index_select(x, 1, indices({3, 1}, {2})), {3, 1, 7, 5, 11, 9});
  check_close(index_select(x, -1, indices({0}, {1})), {0, 4, 8});
  CHECK(index_select(x, 1, indices({3, 1}, {2})).shape() == Shape{3, 2});
  // A middle dimension of a non-contiguous 3-D tensor, against a plain loop.
  Tensor y = random_input({4, 3, 5}, 7).detach().transpose(0, 2);  // [5, 3, 4]
  Tensor idx = indices({1, 1, 0, 2}, {4});
  Tensor out = index_select(y, 1, idx);
  REQUIRE(out.shape() == Shape{5, 4, 4});
  const std::vector<double> yv = y.to_vector(), ov = out.to_vector();
  for (int64_t a = 0; a < 5; ++a)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t b = 0; b < 4; ++b) CHECK(ov[(a * 4 + j) * 4 + b] == yv[(a * 3 + idx.to_vector()[j]) * 4 + b]);
}

TEST_CASE("gradcheck: index_select") {
  // Duplicates in the index: their gradients accumulate.
  Tensor idx = indices({2, 0, 2, 3}, {4});
  CHECK_GRADCHECK([idx](const Inputs& in) { return index_select(in[0], 0, idx); }, Inputs({random_input({4, 3}, 1)}));
  CHECK_GRADCHECK([idx](const Inputs& in) { return index_select(in[0], 1, idx); }, Inputs({transposed_input({2, 5}, 2)}));
  CHECK_GRADCHECK([idx](const Inputs& in) { return index_select(in[0], 1, idx); },
                  Inputs({random_input({2, 4, 3}, 3)}));
}

TEST_CASE("index_select gradient adds duplicates") {
  Tensor x = random_input({4}, 5);
  index_select(x, 0, indices({1, 1, 3, 1}, {4})).sum().backward();
  check_close(x.grad(), {0, 3, 0, 1});
}

// ---------------------------------------------------------------------------------------------- gather

TEST_CASE("gather follows torch.gather - index smaller than the input") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  check_close(gather(x, 1, indices({2, 0, 1, 1}, {2, 2})), {3, 1, 5, 5});
  check_close(gather(x, 0, indices({1, 0, 1}, {1, 3})), {4, 2, 6});
  // 3-D, dim 1, index narrower in dimensions 0 and 2, against a plain loop.
  Tensor y = random_input({3, 4, 5}, 11).detach();
  Generator g(3);
  Tensor idx = randint(0, 4, {2, 6, 3}, {.dtype = DType::i64}, &g);
  Tensor out = gather(y, 1, idx);
  REQUIRE(out.shape() == Shape{2, 6, 3});
  const std::vector<double> yv = y.to_vector(), iv = idx.to_vector(), ov = out.to_vector();
  for (int64_t p = 0; p < out.numel(); ++p) {
    std::vector<int64_t> c = coordinates(p, out.shape());
    c[1] = static_cast<int64_t>(iv[p]);
    CHECK(ov[p] == yv[flat_of(c, y.shape())]);
  }
}

TEST_CASE("gradcheck: gather") {
  Tensor idx = indices({0, 2, 2, 1, 0, 0}, {2, 3});
  CHECK_GRADCHECK([idx](const Inputs& in) { return gather(in[0], 1, idx); }, Inputs({random_input({2, 4}, 1)}));
  CHECK_GRADCHECK([idx](const Inputs& in) { return gather(in[0], 1, idx); }, Inputs({transposed_input({3, 3}, 2)}));
  Tensor rows = indices({1, 0, 1, 1, 2, 0}, {2, 3});
  CHECK_GRADCHECK([rows](const Inputs& in) { return gather(in[0], 0, rows); }, Inputs({transposed_input({3, 4}, 3)}));
}

// ---------------------------------------------------------------------------------------------- scatter_add

TEST_CASE("scatter_add accumulates duplicates - out of place") {
  Tensor x = zeros({2, 4});
  Tensor src = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor out = scatter_add(x, 1, indices({0, 0, 3, 2, 2, 2}, {2, 3}), src);
  check_close(out, {3, 0, 0, 3, 0, 0, 15, 0});
  check_close(x, {0, 0, 0, 0, 0, 0, 0, 0});  // the input is untouched
  // 3-D along dim 0, src larger than the index, against a plain loop.
  Tensor base = random_input({3, 4, 2}, 4).detach();
  Tensor values = random_input({5, 4, 3}, 5).detach();
  Generator g(9);
  Tensor idx = randint(0, 3, {5, 3, 2}, {.dtype = DType::i64}, &g);
  Tensor result = scatter_add(base, 0, idx, values);
  std::vector<double> expected = base.to_vector();
  const std::vector<double> vv = values.to_vector(), iv = idx.to_vector();
  for (int64_t p = 0; p < idx.numel(); ++p) {
    std::vector<int64_t> c = coordinates(p, idx.shape());
    const double v = vv[flat_of(c, values.shape())];
    c[0] = static_cast<int64_t>(iv[p]);
    expected[flat_of(c, base.shape())] += v;
  }
  check_close(result, expected, 1e-12);
}

TEST_CASE("gradcheck: scatter_add") {
  Tensor idx = indices({0, 0, 3, 2, 1, 2}, {2, 3});
  CHECK_GRADCHECK([idx](const Inputs& in) { return scatter_add(in[0], 1, idx, in[1]); },
                  Inputs({random_input({2, 4}, 1), random_input({2, 3}, 2)}));
  // Non-contiguous input, src larger than the index in both dimensions.
  CHECK_GRADCHECK([idx](const Inputs& in) { return scatter_add(in[0], 1, idx, in[1]); },
                  Inputs({transposed_input({3, 4}, 3), transposed_input({3, 5}, 4)}));
}

// ---------------------------------------------------------------------------------------------- one_hot, masked_fill

TEST_CASE("one_hot encodes labels of any shape") {
  Tensor labels = indices({2, 0, 1, 2}, {2, 2});
  Tensor encoded = one_hot(labels, 3);
  CHECK(encoded.shape() == Shape{2, 2, 3});
  CHECK(encoded.dtype() == DType::f32);
  check_close(encoded, {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor inferred = one_hot(indices({1, 3}, {2}), -1, DType::i64);
  CHECK(inferred.shape() == Shape{2, 4});
  CHECK(inferred.dtype() == DType::i64);
  check_close(inferred, {0, 1, 0, 0, 0, 0, 0, 1});
}

TEST_CASE("masked_fill with a broadcast mask - the filled positions get no gradient") {
  Tensor x = random_input({2, 3}, 8);
  Tensor mask = Tensor::from_vector({1, 0, 1}, {3});
  Tensor out = masked_fill(x, mask, -5.0);
  const std::vector<double> xv = x.to_vector();
  check_close(out, {-5, xv[1], -5, -5, xv[4], -5});
  out.sum().backward();
  check_close(x.grad(), {0, 1, 0, 0, 1, 0});
  // An i64 mask works as well.
  check_close(masked_fill(zeros({2}), indices({0, 3}, {2}), 2.0), {0, 2});
}

TEST_CASE("gradcheck: masked_fill") {
  Tensor mask = Tensor::from_vector({1, 0, 0, 1}, {4, 1}, {.dtype = DType::f64});
  CHECK_GRADCHECK([mask](const Inputs& in) { return masked_fill(in[0], mask, 0.5); },
                  Inputs({transposed_input({4, 3}, 1)}));
}

// ---------------------------------------------------------------------------------------------- errors

TEST_CASE("indexing errors name the op - the index and the extent") {
  Tensor x = zeros({2, 5});
  check_error([&] { index_select(x, 1, indices({1, 7}, {2})); }, {"index_select", "index 7", "extent 5"});
  check_error([&] { index_select(x, 0, indices({-1}, {1})); }, {"index_select", "index -1", "extent 2"});
  check_error([&] { gather(x, 1, indices({0, 5}, {1, 2})); }, {"gather", "index 5", "extent 5"});
  check_error([&] { scatter_add(x, 0, indices({0, 2}, {1, 2}), ones({1, 2})); }, {"scatter_add", "index 2", "extent 2"});
  check_error([&] { gather(x, 1, Tensor::from_vector({0}, {1, 1})); }, {"gather", "i64", "[1, 1] f32"});
  check_error([&] { index_select(x, 0, zeros({1})); }, {"index_select", "i64"});
  check_error([&] { gather(x, 0, indices({0, 0, 0}, {3})); }, {"gather", "[3]", "[2, 5]"});
  check_error([&] { gather(x, 0, indices({0, 0, 0, 0, 0, 0}, {1, 6})); }, {"gather", "[1, 6]", "[2, 5]"});
  check_error([&] { scatter_add(x, 1, indices({0, 0}, {1, 2}), ones({1, 1})); }, {"scatter_add", "[1, 2]", "[1, 1]"});
  check_error([&] { one_hot(indices({0, 3}, {2}), 3); }, {"one_hot", "3", "3 classes"});
  check_error([&] { masked_fill(x, ones({3}), 1.0); }, {"masked_fill", "[3]", "[2, 5]"});
}

// ---------------------------------------------------------------------------------------------- pad

TEST_CASE("pad reflect - replicate and constant along one dimension") {
  Tensor x = tensor({1, 2, 3, 4});
  check_close(pad(x, {2, 1}, PadMode::reflect), {3, 2, 1, 2, 3, 4, 3});
  check_close(pad(x, {2, 3}, PadMode::replicate), {1, 1, 1, 2, 3, 4, 4, 4, 4});
  check_close(pad(x, {1, 2}, PadMode::constant, 9.0), {9, 1, 2, 3, 4, 9, 9});
  // Negative pads crop; they mix with positive ones.
  check_close(pad(x, {-1, 2}, PadMode::constant, 0.5), {2, 3, 4, 0.5, 0.5});
  check_close(pad(x, {-1, -2}), {2});
}

TEST_CASE("pad of the last two dimensions of a 2-D tensor - every mode") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  // (left 1, right 2) on columns, (top 1, bottom 0) on rows.
  check_close(pad(x, {1, 2, 1, 0}, PadMode::reflect), {5, 4, 5, 6, 5, 4,  //
                                                        2, 1, 2, 3, 2, 1,  //
                                                        5, 4, 5, 6, 5, 4});
  check_close(pad(x, {1, 2, 1, 0}, PadMode::replicate), {1, 1, 2, 3, 3, 3,  //
                                                          1, 1, 2, 3, 3, 3,  //
                                                          4, 4, 5, 6, 6, 6});
  check_close(pad(x, {1, 0, 0, 1}, PadMode::constant, -1.0), {-1, 1, 2, 3,  //
                                                               -1, 4, 5, 6,  //
                                                               -1, -1, -1, -1});
  // Pads of only the last dimension leave the leading ones alone; rows cropped by a negative pad.
  CHECK(pad(zeros({2, 3, 4}), {1, 1}).shape() == Shape{2, 3, 6});
  check_close(pad(x, {0, 0, -1, 0}), {4, 5, 6});
}

TEST_CASE("pad backward accumulates onto the positions read") {
  Tensor x = random_input({4}, 3);
  pad(x, {2, 3}, PadMode::replicate).sum().backward();
  check_close(x.grad(), {3, 1, 1, 4});
  x.zero_grad();
  pad(x, {2, 1}, PadMode::reflect).sum().backward();  // reads [3 2 1 2 3 4 3] (1-based values)
  check_close(x.grad(), {1, 2, 3, 1});
  x.zero_grad();
  pad(x, {-1, 1}, PadMode::constant, 7.0).sum().backward();
  check_close(x.grad(), {0, 1, 1, 1});
}

TEST_CASE("gradcheck: pad constant") {
  CHECK_GRADCHECK([](const Inputs& in) { return pad(in[0], {1, 2, 2, 0}, PadMode::constant, 0.3); },
                  Inputs({transposed_input({2, 3, 4}, 1)}));
  CHECK_GRADCHECK([](const Inputs& in) { return pad(in[0], {-1, 2, 1, -2}, PadMode::constant); },
                  Inputs({random_input({2, 4, 5}, 2)}));
}

TEST_CASE("gradcheck: pad reflect") {
  CHECK_GRADCHECK([](const Inputs& in) { return pad(in[0], {2, 3, 1, 2}, PadMode::reflect); },
                  Inputs({transposed_input({2, 3, 4}, 3)}));
  CHECK_GRADCHECK([](const Inputs& in) { return pad(in[0], {1, 1, 0, 0, 1, 0}, PadMode::reflect); },
                  Inputs({random_input({2, 3, 3}, 4)}));
}

TEST_CASE("gradcheck: pad replicate") {
  CHECK_GRADCHECK([](const Inputs& in) { return pad(in[0], {3, 1, 2, 2}, PadMode::replicate); },
                  Inputs({transposed_input({2, 3, 4}, 5)}));
}

TEST_CASE("pad errors name the op - the pads and the shape") {
  check_error([] { pad(zeros({2, 3}), {1, 2, 3}); }, {"pad", "3 pad values", "[2, 3]"});
  check_error([] { pad(zeros({4}), {1, 1, 1, 1}); }, {"pad", "4 pad values", "[4]"});
  check_error([] { pad(zeros({2, 3}), {3, 0}, PadMode::reflect); }, {"pad", "reflect", "(3, 0)", "[2, 3]", "3"});
  check_error([] { pad(zeros({2, 3}), {-1, 0}, PadMode::replicate); }, {"pad", "replicate", "[2, 3]"});
  check_error([] { pad(zeros({2, 3}), {-2, -2}); }, {"pad", "(-2, -2)", "[2, 3]"});
}

// ---------------------------------------------------------------------------------------------- threads


TEST_CASE("accumulating kernels give the same bits on one thread and on all of them") {
  // Sizes large enough for the kernels to split their work; many duplicate indices so that sums meet.
  Generator g(21);
  Tensor x = randn({64, 300, 40}, {}, &g);
  Tensor idx = randint(0, 8, {64, 300, 40}, {.dtype = DType::i64}, &g);
  Tensor rows = randint(0, 8, {300}, {.dtype = DType::i64}, &g);
  Tensor base = zeros({64, 8, 40});
  auto run = [&] {
    std::vector<std::vector<double>> results;
    results.push_back(scatter_add(base, 1, idx, x).to_vector());
    results.push_back(gather(x, 1, idx).to_vector());
    results.push_back(gather(x, 2, randint(0, 40, {64, 300, 40}, {.dtype = DType::i64}, &g)).to_vector());
    results.push_back(index_select(x, 1, rows).to_vector());
    results.push_back(pad(x, {3, 2, 1, 4}, PadMode::reflect).to_vector());
    Tensor leaf = x.detach();
    leaf.requires_grad_();
    index_select(leaf, 1, rows).sum().backward();
    results.push_back(leaf.grad().to_vector());
    leaf.zero_grad();
    mul(pad(leaf, {3, 2, 1, 4}, PadMode::replicate), pad(x, {3, 2, 1, 4}, PadMode::replicate)).sum().backward();
    results.push_back(leaf.grad().to_vector());
    return results;
  };
  Generator start = g;
  const auto one = with_threads(1, run);
  g = start;
  const auto all = with_threads(omp_get_max_threads(), run);
  REQUIRE(one.size() == all.size());
  for (size_t k = 0; k < one.size(); ++k) {
    INFO("result ", k);
    CHECK(one[k] == all[k]);
  }
  // And the scatter agrees with a plain loop.
  std::vector<double> expected(64 * 8 * 40, 0.0);
  const std::vector<double> xv = x.to_vector(), iv = idx.to_vector();
  for (int64_t p = 0; p < x.numel(); ++p) {
    const int64_t o = p / (300 * 40), i = p % 40;
    expected[(o * 8 + static_cast<int64_t>(iv[p])) * 40 + i] += xv[p];
  }
  check_close(Tensor::from_vector(one[0], {64, 8, 40}), expected, 1e-5);
}
