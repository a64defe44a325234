// Views and layout ops: values, aliasing (views share storage), gradient checks, errors.
#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::random_input;
using vireo::testing::transposed_input;
using Inputs = std::vector<Tensor>;

namespace {
Tensor iota(const Shape& shape, DType dtype = DType::f32) { return arange(numel(shape), {.dtype = dtype}).reshape(shape); }
}  // namespace

TEST_CASE("views share storage and address the right elements") {
  Tensor x = iota({2, 3, 4});
  Tensor t = x.transpose(0, 2);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK_FALSE(t.is_contiguous());
  CHECK(t.storage() == x.storage());
  check_close(t.select(0, 1).select(0, 2), {9, 21});  // x[:, 2, 1]
  check_close(x.slice(2, 1, 4, 2), {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23});
  check_close(x.slice(1, -2, 100).select(0, 0), {4, 5, 6, 7, 8, 9, 10, 11});
  check_close(x.permute({2, 0, 1}).contiguous().reshape({-1}).slice(0, 0, 6), {0, 4, 8, 12, 16, 20});
  Tensor e = tensor({1, 2, 3}).unsqueeze(0).expand({2, 3});
  CHECK(e.strides() == Shape{0, 1});
  check_close(e, {1, 2, 3, 1, 2, 3});
  // Writing through a view changes the base.
  {
    Tensor base = zeros({2, 3});
    base.select(1, 1).fill_(7);
    check_close(base, {0, 7, 0, 0, 7, 0});
  }
}

TEST_CASE("reshape views when it can and copies when it must") {
  Tensor x = iota({2, 6});
  Tensor r = x.reshape({3, 4});
  CHECK(r.storage() == x.storage());
  Tensor t = x.t();
  Tensor copied = t.reshape({12});
  CHECK(copied.storage() != x.storage());
  check_close(copied.slice(0, 0, 4), {0, 6, 1, 7});
  check_error([&] { t.view({12}); }, {"view", "[6, 2]", "reshape"});
  check_error([&] { x.reshape({5, -1}); }, {"reshape", "12"});
  CHECK(x.flatten().shape() == Shape{12});
  CHECK(iota({2, 3, 4}).flatten(1).shape() == Shape{2, 12});
  CHECK(squeeze(iota({2, 1, 3})).shape() == Shape{2, 3});
}

TEST_CASE("cat stack split chunk") {
  Tensor a = iota({2, 2}), b = add(iota({2, 1}), 10.0);
  check_close(cat({a, b}, 1), {0, 1, 10, 2, 3, 11});
  check_close(stack({a, a}, 1).select(1, 1), {0, 1, 2, 3});
  CHECK(stack({a, a}, 2).shape() == Shape{2, 2, 2});
  auto parts = split(iota({7}), 3);
  REQUIRE(parts.size() == 3);
  check_close(parts[2], {6});
  auto chunks = chunk(iota({6, 2}), 3);
  REQUIRE(chunks.size() == 3);
  check_close(chunks[1], {4, 5, 6, 7});
  check_error([&] { cat({a, iota({3, 3})}, 1); }, {"cat", "[2, 2]", "[3, 3]"});
  check_error([&] { split(iota({5}), std::vector<int64_t>{2, 2}); }, {"split", "4", "5"});
}

TEST_CASE("shape errors name the op") {
  check_error([] { iota({2, 3}).permute({0, 0}); }, {"permute", "repeated"});
  check_error([] { iota({2, 3}).expand({4, 3}); }, {"expand", "[2, 3]", "[4, 3]"});
  check_error([] { iota({2, 3}).select(1, 5); }, {"select", "5"});
  check_error([] { iota({2, 3}).transpose(0, 4); }, {"transpose", "4"});
}

TEST_CASE("gradcheck: reshape view flatten") {
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].reshape({6, 2}); }, Inputs({random_input({3, 4}, 1)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].reshape({4, 3}); }, Inputs({transposed_input({3, 4}, 2)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].flatten(1); }, Inputs({random_input({2, 3, 2}, 3)}));
}

TEST_CASE("gradcheck: permute transpose") {
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].permute({2, 0, 1}); }, Inputs({random_input({2, 3, 4}, 4)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].transpose(0, 1); }, Inputs({transposed_input({3, 4}, 5)}));
}

TEST_CASE("gradcheck: expand") {
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].expand({3, 2, 4}); }, Inputs({random_input({2, 1}, 6)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].unsqueeze(0).expand({2, 3, 4}); }, Inputs({random_input({3, 4}, 7)}));
}

TEST_CASE("gradcheck: slice with steps and select") {
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].slice(1, 1, 7, 2); }, Inputs({random_input({3, 8}, 8)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].slice(0, -2, 100); }, Inputs({random_input({4, 3}, 9)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].select(1, -1); }, Inputs({transposed_input({3, 4}, 10)}));
}

TEST_CASE("gradcheck: squeeze unsqueeze contiguous clone") {
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].unsqueeze(1).squeeze(1); }, Inputs({random_input({3, 4}, 11)}));
  CHECK_GRADCHECK([](const Inputs& in) { return in[0].contiguous(); }, Inputs({transposed_input({3, 4}, 12)}));
  CHECK_GRADCHECK([](const Inputs& in) { return clone(in[0]); }, Inputs({random_input({3}, 13)}));
}

TEST_CASE("gradcheck: cat stack split chunk") {
  CHECK_GRADCHECK([](const Inputs& in) { return cat({in[0], in[1]}, 0); },
                  Inputs({random_input({2, 3}, 14), transposed_input({1, 3}, 15)}));
  CHECK_GRADCHECK([](const Inputs& in) { return stack({in[0], in[1]}, 1); },
                  Inputs({random_input({2, 3}, 16), random_input({2, 3}, 17)}));
  CHECK_GRADCHECK([](const Inputs& in) {
    auto parts = split(in[0], 2, 1);
    return add(mul(parts[0], 2.0), parts[1]);
  }, Inputs({random_input({3, 4}, 18)}));
  CHECK_GRADCHECK([](const Inputs& in) { return chunk(in[0], 3, 0)[2]; }, Inputs({random_input({6, 2}, 19)}));
}

TEST_CASE("gradcheck: to dtype") {
  // f64 -> f32 -> f64 keeps the gradient path (values rounded to f32 precision, hence the tolerance).
  CHECK_GRADCHECK([](const Inputs& in) { return mul(in[0].to(DType::f32), 2.0).to(DType::f64); },
                  Inputs({random_input({3}, 20)}), vireo::testing::GradcheckOptions{.eps = 1e-3, .atol = 1e-3, .rtol = 1e-3});
}
