// Tensor basics: creation, dtypes, printing, the counter-based generator, the memory pool.
#include <omp.h>

#include "gradcheck.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;

TEST_CASE("creation ops") {
  check_close(zeros({2, 2}), {0, 0, 0, 0});
  check_close(full({3}, 2.5), {2.5, 2.5, 2.5});
  check_close(arange(0.0, 1.0, 0.25), {0, 0.25, 0.5, 0.75});
  check_close(arange(4, {.dtype = DType::i64}), {0, 1, 2, 3});
  check_close(linspace(-1.0, 1.0, 5), {-1, -0.5, 0, 0.5, 1});
  check_close(eye(3), {1, 0, 0, 0, 1, 0, 0, 0, 1});
  CHECK(scalar_tensor(3.0).dim() == 0);
  CHECK(scalar_tensor(3.0).item() == 3.0);
  CHECK(ones({2}, {.dtype = DType::f64}).dtype() == DType::f64);
  check_error([] { arange(0.0, 1.0, 0.0); }, {"arange", "step"});
  check_error([] { zeros({2, 3}).item(); }, {"item", "[2, 3]"});
  check_error([] { zeros({2}, {.dtype = DType::i64}).data<float>(); }, {"i64", "f32"});
}

TEST_CASE("dtype conversion") {
  Tensor x = tensor({1.5, -2.7});
  check_close(x.to(DType::i64), {1, -2});
  check_close(x.to(DType::f64), {1.5, -2.7}, 1e-6);
  CHECK(x.to(DType::f64).dtype() == DType::f64);
}

TEST_CASE("printing shows values and shape and dtype") {
  const std::string text = Tensor::from_vector({1, 2, 3, 4}, {2, 2}).str();
  CHECK(text.find("[[1, 2],") != std::string::npos);
  CHECK(text.find("shape=[2, 2]") != std::string::npos);
  CHECK(text.find("f32") != std::string::npos);
  const std::string long_text = arange(100).str();
  CHECK(long_text.find("...") != std::string::npos);
}

TEST_CASE("Philox-4x32-10 matches the published known-answer vectors") {
  // Random123's kat_vectors for philox4x32_10.
  auto zero = philox4x32({0, 0, 0, 0}, {0, 0});
  CHECK(zero == std::array<uint32_t, 4>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  auto ones = philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff});
  CHECK(ones == std::array<uint32_t, 4>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  auto pi = philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0});
  CHECK(pi == std::array<uint32_t, 4>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("random tensors do not depend on the thread count") {
  const int threads = omp_get_max_threads();
  auto draw = [] {
    Generator g(42);
    return std::make_tuple(rand({1000, 37}, {}, &g).to_vector(), randn({999}, {.dtype = DType::f64}, &g).to_vector(),
                           randperm(50, {.dtype = DType::i64}, &g).to_vector());
  };
  omp_set_num_threads(1);
  auto one = draw();
  omp_set_num_threads(2);
  auto two = draw();
  omp_set_num_threads(threads);
  CHECK(std::get<0>(one) == std::get<0>(two));
  CHECK(std::get<1>(one) == std::get<1>(two));
  CHECK(std::get<2>(one) == std::get<2>(two));
}

TEST_CASE("random draws have the right distribution and advance the generator") {
  Generator g(7);
  Tensor u = rand({100000}, {.dtype = DType::f64}, &g);
  CHECK(mean(u).item() == doctest::Approx(0.5).epsilon(0.01));
  CHECK(amin(u).item() >= 0.0);
  CHECK(amax(u).item() < 1.0);
  Tensor n = randn({100000}, {.dtype = DType::f64}, &g);
  CHECK(mean(n).item() == doctest::Approx(0.0).scale(1.0).epsilon(0.02));
  CHECK(vireo::std(n).item() == doctest::Approx(1.0).epsilon(0.02));
  Tensor r = randint(3, 7, {10000}, {.dtype = DType::i64}, &g);
  CHECK(amin(r).item() == 3);
  CHECK(amax(r).item() == 6);
  std::vector<double> perm = randperm(20, {.dtype = DType::i64}, &g).to_vector();
  std::sort(perm.begin(), perm.end());
  for (int i = 0; i < 20; ++i) CHECK(perm[i] == i);
  // Two draws from one generator differ; the same seed repeats.
  Generator a(1), b(1);
  CHECK(rand({4}, {}, &a).to_vector() != rand({4}, {}, &a).to_vector());
  Generator c(1);
  CHECK(rand({4}, {}, &b).to_vector() == rand({4}, {}, &c).to_vector());
}

TEST_CASE("the CPU pool reuses freed blocks: a repeated step allocates nothing new") {
  Allocator& pool = allocator_for(Device::cpu());
  auto step = [] {
    Tensor a = randn({256, 256});
    Tensor b = exp(mul(a, 0.5));
    return sum(add(a, b)).item();
  };
  step();
  const size_t before = pool.stats().system_allocations;
  for (int i = 0; i < 5; ++i) step();
  CHECK(pool.stats().system_allocations == before);
}

TEST_CASE("device parsing and errors") {
  CHECK(Device::parse("cpu") == Device::cpu());
  CHECK(Device::parse("cuda:1") == Device::cuda(1));
  check_error([] { Device::parse("tpu"); }, {"unknown device", "tpu"});
  if (!cuda_available()) check_error([] { zeros({2}, {.device = Device::cuda(0)}); }, {"cuda:0"});
}
