// The storage dtypes f16, bf16, i32, u8 and bool as tensors: creation, conversion between every pair of
// dtypes, views and copies, values and printing — and every CPU compute op refusing them by name.
#include <cmath>
#include <string>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_error;

namespace {

constexpr DType kStorageOnly[] = {DType::f16, DType::bf16, DType::i32, DType::u8, DType::boolean};

// What converting `value` (exact in every dtype involved) to `dtype` gives: bool keeps only "nonzero".
double as_dtype(double value, DType dtype) { return dtype == DType::boolean ? (value != 0.0) : value; }

}  // namespace

TEST_CASE("dtype sizes names and kinds") {
  CHECK(element_size(DType::f16) == 2);
  CHECK(element_size(DType::bf16) == 2);
  CHECK(element_size(DType::i32) == 4);
  CHECK(element_size(DType::u8) == 1);
  CHECK(element_size(DType::boolean) == 1);
  CHECK(element_size(DType::i64) == 8);
  CHECK(name(DType::boolean) == "bool");
  CHECK(name(DType::bf16) == "bf16");
  CHECK(is_floating(DType::f16));
  CHECK(is_floating(DType::bf16));
  CHECK(!is_floating(DType::i32));
  CHECK(!is_floating(DType::u8));
  CHECK(!is_floating(DType::boolean));
  CHECK(dtype_of<Half>() == DType::f16);
  CHECK(dtype_of<bool>() == DType::boolean);
  CHECK(describe(zeros({2}, {.dtype = DType::u8})) == "[2] u8 cpu");
}

TEST_CASE("creation of every storage dtype") {
  for (DType dtype : kAllDTypes) {
    INFO("dtype ", dtype);
    const TensorOptions options{.dtype = dtype};
    CHECK(zeros({2, 3}, options).to_vector() == std::vector<double>(6, 0.0));
    CHECK(ones({4}, options).to_vector() == std::vector<double>(4, 1.0));
    CHECK(full({3}, 5.0, options).to_vector() == std::vector<double>(3, as_dtype(5.0, dtype)));
    CHECK(empty({2, 2}, options).dtype() == dtype);
    CHECK(empty({2, 2}, options).storage()->bytes() == 4 * element_size(dtype));
    const Tensor values = Tensor::from_vector({0, 1, 2, 7}, {2, 2}, options);
    CHECK(values.to_vector() == std::vector<double>{0, 1, as_dtype(2, dtype), as_dtype(7, dtype)});
    CHECK(arange(4, options).to_vector() == std::vector<double>{0, 1, as_dtype(2, dtype), as_dtype(3, dtype)});
    const Tensor scalar = scalar_tensor(3.0, options);
    CHECK(scalar.dim() == 0);
    CHECK(scalar.item() == as_dtype(3.0, dtype));
    CHECK(zeros({0, 3}, options).numel() == 0);
    CHECK(zeros({0, 3}, options).to_vector().empty());
    Tensor filled = zeros({3}, options);
    filled.fill_(1.0);
    CHECK(filled.to_vector() == std::vector<double>(3, 1.0));
  }
  // Rounding and range show through the values.
  CHECK(full({1}, 0.1, {.dtype = DType::f16}).item() == std::ldexp(0x666, -14));  // 0x2E66 = 1638·2^-14
  CHECK(full({1}, 1e6, {.dtype = DType::f16}).item() == INFINITY);
  CHECK(full({1}, 1e6, {.dtype = DType::bf16}).item() == 999424.0);  // 2^19 · (1 + 116/128)
  CHECK(full({1}, 2.5, {.dtype = DType::boolean}).item() == 1.0);
}

TEST_CASE("conversion between every pair of dtypes") {
  const std::vector<double> values{0, 1, 2, 3, 100, 7};
  for (DType from : kAllDTypes) {
    // The source is a transposed view, so every pair also goes through the strided copy.
    const Tensor source = Tensor::from_vector(values, {3, 2}, {.dtype = from}).t();
    REQUIRE(!source.is_contiguous());
    for (DType to : kAllDTypes) {
      INFO("from ", from, " to ", to);
      std::vector<double> expected;
      for (int64_t j = 0; j < 2; ++j)
        for (int64_t i = 0; i < 3; ++i) expected.push_back(as_dtype(as_dtype(values[i * 2 + j], from), to));
      const Tensor converted = source.to(to);
      CHECK(converted.dtype() == to);
      CHECK(converted.to_vector() == expected);
      Tensor target = zeros({2, 3}, {.dtype = to});
      target.copy_(source);
      CHECK(target.to_vector() == expected);
    }
  }
}

TEST_CASE("conversion rules for values one dtype cannot hold") {
  // Floating to integer truncates toward zero; narrower integers wrap; bool is "nonzero" (NaN too).
  CHECK(tensor({2.7, -2.7}).to(DType::i32).to_vector() == std::vector<double>{2, -2});
  CHECK(tensor({2.7, 255.9}).to(DType::u8).to_vector() == std::vector<double>{2, 255});
  CHECK(Tensor::from_vector({300, -1}, {2}, {.dtype = DType::i64}).to(DType::u8).to_vector() ==
        std::vector<double>{44, 255});
  CHECK(Tensor::from_vector({4294967297.0}, {1}, {.dtype = DType::i64}).to(DType::i32).item() == 1);
  CHECK(tensor({0.0, -0.0, 0.5, NAN, -3}).to(DType::boolean).to_vector() == std::vector<double>{0, 0, 1, 1, 1});
  CHECK(Tensor::from_vector({1, 0}, {2}, {.dtype = DType::boolean}).to(DType::f16).to_vector() ==
        std::vector<double>{1, 0});
  // f16 and bf16 keep infinities and NaN through every floating conversion.
  const Tensor specials = tensor({INFINITY, -INFINITY, NAN}, {.dtype = DType::f64});
  for (DType dtype : {DType::f16, DType::bf16}) {
    const std::vector<double> back = specials.to(dtype).to(DType::f32).to_vector();
    CHECK(back[0] == INFINITY);
    CHECK(back[1] == -INFINITY);
    CHECK(std::isnan(back[2]));
  }
}

TEST_CASE("views and copies of storage dtypes") {
  for (DType dtype : kStorageOnly) {
    INFO("dtype ", dtype);
    std::vector<double> values(12);
    for (int i = 0; i < 12; ++i) values[i] = as_dtype(i % 5, dtype);
    const Tensor x = Tensor::from_vector(values, {3, 4}, {.dtype = dtype});
    // transpose → contiguous: element (j, i) of the result is x[i][j]
    const std::vector<double> transposed = x.t().contiguous().to_vector();
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j) CHECK(transposed[j * 3 + i] == values[i * 4 + j]);
    // a strided slice, cloned
    const Tensor columns = x.slice(1, 0, 4, 2).clone();
    CHECK(columns.is_contiguous());
    CHECK(columns.to_vector() == std::vector<double>{values[0], values[2], values[4], values[6], values[8], values[10]});
    // reshape, select, expand
    CHECK(x.reshape({2, 6}).select(0, 1).to_vector() == std::vector<double>(values.begin() + 6, values.end()));
    CHECK(x.select(1, 3).unsqueeze(1).expand({3, 2}).contiguous().to_vector() ==
          std::vector<double>{values[3], values[3], values[7], values[7], values[11], values[11]});
    // copy_ into a non-contiguous view of a storage-dtype tensor leaves the rest alone
    Tensor target = zeros({3, 4}, {.dtype = dtype});
    target.slice(1, 1, 2).copy_(ones({3, 1}));
    CHECK(target.to_vector() == std::vector<double>{0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0});
    CHECK(cat({x, x}, 0).to_vector().size() == 24);
  }
}

TEST_CASE("printing storage dtypes") {
  const std::string flags = Tensor::from_vector({1, 0}, {2}, {.dtype = DType::boolean}).str();
  CHECK(flags.find("[True, False]") != std::string::npos);
  CHECK(flags.find("dtype=bool") != std::string::npos);
  const std::string counts = Tensor::from_vector({3, 250}, {2}, {.dtype = DType::u8}).str();
  CHECK(counts.find("[3, 250]") != std::string::npos);
  const std::string halves = Tensor::from_vector({0.5, -1.5}, {2}, {.dtype = DType::bf16}).str();
  CHECK(halves.find("[0.5, -1.5]") != std::string::npos);
  CHECK(halves.find("dtype=bf16") != std::string::npos);
}

TEST_CASE("gradients flow through a round trip in bf16") {
  Tensor x = tensor({1.0, 2.0, 3.0});
  x.requires_grad_();
  Tensor y = mul(x.to(DType::bf16).to(DType::f32), 2.0);
  sum(y).backward();
  CHECK(x.grad().dtype() == DType::f32);
  CHECK(x.grad().to_vector() == std::vector<double>{2, 2, 2});
}

TEST_CASE("compute ops refuse storage dtypes by name") {
  for (DType dtype : kStorageOnly) {
    INFO("dtype ", dtype);
    const std::string type(name(dtype));
    const TensorOptions options{.dtype = dtype};
    const Tensor a = ones({2, 2}, options), image = ones({1, 1, 4, 4}, options);
    auto refused = [&](auto&& body, const char* op) {
      check_error(body, {op, type.c_str(), "storage type"});
    };
    refused([&] { add(a, a); }, "add");
    refused([&] { mul(a, a); }, "mul");
    refused([&] { gt(a, a); }, "gt");
    refused([&] { mul(a, 2.0); }, "mul");
    refused([&] { exp(a); }, "exp");
    refused([&] { neg(a); }, "neg");
    refused([&] { where(a, a, a); }, "where");
    refused([&] { sum(a); }, "sum");
    refused([&] { amax(a); }, "max");
    refused([&] { cumsum(a, 0); }, "cumsum");
    refused([&] { sort(a, 0); }, "sort");
    refused([&] { index_select(a, 0, vireo::testing::indices({1, 0}, {2})); }, "index_select");
    refused([&] { pad(a, {1, 1}); }, "pad");
    if (is_floating(dtype)) {  // integer dtypes are stopped earlier by the ops' own "needs floating" checks
      refused([&] { matmul(a, a); }, "batched_gemm");
      refused([&] { relu(a); }, "relu");
      refused([&] { softmax(a, 1); }, "softmax");
      refused([&] { layer_norm(a, {2}); }, "layer_norm");
      refused([&] { conv2d(image, ones({1, 1, 3, 3}, options)); }, "conv2d");
      refused([&] { max_pool2d(image, {}); }, "max_pool2d");
      refused([&] { avg_pool2d(image, {}); }, "avg_pool2d");
      refused([&] { upsample_bilinear2d(image, {8, 8}); }, "upsample_bilinear2d");
      refused([&] { scaled_dot_product_attention(image, image, image); }, "attention");
    }
    check_error([&] { rand({2}, options); }, {"rand", type.c_str(), "not supported"});
    check_error([&] { randn({2}, options); }, {"randn", type.c_str(), "not supported"});
  }
}
