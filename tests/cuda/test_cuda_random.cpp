// The CUDA random_fill kernel reproduces the CPU's stream. Host tests: the Philox block behind
// Generator::block is the same function the GPU calls (philox_block), and the per-element draws the kernel
// makes (engine/cuda/random_math.h) equal the CPU kernel's output element for element, uniform and normal,
// f32 and f64, from any first block. GPU parity tests: random_fill and the seeded rand/randn ops give the
// same tensors on both devices.
#include <cstring>
#include <string>
#include <vector>

#include "cuda/parity_pairs.h"
#include "engine/cuda/random_math.h"
#include "engine/kernels/random.h"
#include "engine/ops/creation.h"

using namespace vireo;
using namespace vireo::test;
using kernels::Distribution;

TEST_CASE("philox_block is Generator::block for any seed and block index") {
  for (uint64_t seed : {uint64_t{0}, uint64_t{42}, uint64_t{0xDEADBEEFCAFEF00Dull}}) {
    const Generator generator(seed);
    for (uint64_t block : {uint64_t{0}, uint64_t{1}, uint64_t{12345}, uint64_t{1} << 33, ~uint64_t{0}}) {
      const auto want = generator.block(block);
      const PhiloxWords got = philox_block(seed, block);
      for (int k = 0; k < 4; ++k) CHECK(got.word[k] == want[k]);
    }
  }
}

TEST_CASE("the kernel's per-element draws equal the CPU's random_fill bit for bit") {
  const int64_t n = 1001;  // odd, and not a multiple of four
  for (uint64_t seed : {uint64_t{0}, uint64_t{7}}) {
    const Generator generator(seed);
    for (uint64_t first : {uint64_t{0}, uint64_t{5}, uint64_t{1} << 40}) {
      for (Distribution distribution : {Distribution::uniform, Distribution::normal}) {
        for (DType dtype : {DType::f32, DType::f64}) {
          Tensor out = Tensor::empty({n}, {.dtype = dtype});
          kernels::random_fill(Device::cpu(), out, distribution, generator, first);
          for (int64_t i = 0; i < n; ++i) {
            double got;
            if (distribution == Distribution::normal) got = cuda::normal_element(seed, first, i);
            else if (dtype == DType::f32) got = cuda::uniform_f32_element(seed, first, i);
            else got = cuda::uniform_f64_element(seed, first, i);
            if (dtype == DType::f32) got = static_cast<float>(got);
            const double want = dtype == DType::f32 ? out.data<float>()[i] : out.data<double>()[i];
            CAPTURE(i);
            REQUIRE(got == want);
          }
        }
      }
    }
  }
}

// ---- GPU parity ----

TEST_CASE("CUDA random_fill gives the CPU's numbers: uniform exactly and normal to the last bits of libm") {
  VIREO_REQUIRE_GPU();
  const int64_t n = 100003;
  const Generator generator(1234);
  for (Distribution distribution : {Distribution::uniform, Distribution::normal}) {
    for (DType dtype : {DType::f32, DType::f64}) {
      for (uint64_t first : {uint64_t{0}, uint64_t{77}}) {
        Tensor cpu = Tensor::empty({n}, {.dtype = dtype});
        Tensor gpu = Tensor::empty({n}, {.dtype = dtype, .device = Device::cuda()});
        kernels::random_fill(Device::cpu(), cpu, distribution, generator, first);
        kernels::random_fill(Device::cuda(), gpu, distribution, generator, first);
        const std::string what = std::string(distribution == Distribution::uniform ? "uniform " : "normal ") +
                                 dtype_name(dtype);
        // Uniform draws are integer arithmetic: exact. Normal draws go through log, cos and sin, whose CUDA
        // versions may differ from glibc's in the last bit or two of a double.
        const Tolerance tol = distribution == Distribution::uniform ? Tolerance{0.0, 0.0}
                              : dtype == DType::f64                 ? Tolerance{1e-14, 1e-15}
                                                                    : Tolerance{1.2e-7, 1e-7};
        expect_close(gpu, cpu, tol, what);
      }
    }
  }
}

TEST_CASE("a seeded rand or randn gives the same tensor on both devices and 16-bit uniform draws stay below 1") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::f64}) {
    Generator cpu_generator(99), gpu_generator(99);
    const Tensor a = rand({37, 41}, {.dtype = dtype}, &cpu_generator);
    const Tensor b = rand({37, 41}, {.dtype = dtype, .device = Device::cuda()}, &gpu_generator);
    expect_close(b, a, Tolerance{0.0, 0.0}, "rand " + dtype_name(dtype));
    const Tensor c = randn({37, 41}, {.dtype = dtype}, &cpu_generator);
    const Tensor d = randn({37, 41}, {.dtype = dtype, .device = Device::cuda()}, &gpu_generator);
    const Tolerance normal_tol = dtype == DType::f64 ? Tolerance{1e-14, 1e-15} : Tolerance{1.2e-7, 1e-7};
    expect_close(d, c, normal_tol, "randn " + dtype_name(dtype));
    CHECK(cpu_generator.offset() == gpu_generator.offset());
  }
  for (DType dtype : {DType::f16, DType::bf16}) {
    const Generator generator(5);
    const int64_t n = 1 << 16;
    Tensor gpu = Tensor::empty({n}, {.dtype = dtype, .device = Device::cuda()});
    kernels::random_fill(Device::cuda(), gpu, Distribution::uniform, generator, 0);
    Tensor reference = Tensor::empty({n}, {.dtype = DType::f64});
    kernels::random_fill(Device::cpu(), reference, Distribution::uniform, generator, 0);
    const auto got = gpu.to_vector(), want = reference.to_vector();
    const double ulp = dtype == DType::f16 ? 0x1p-11 : 0x1p-8;
    for (int64_t i = 0; i < n; ++i) {
      REQUIRE(got[i] >= 0.0);
      REQUIRE(got[i] < 1.0);
      REQUIRE(std::abs(got[i] - want[i]) <= ulp);
    }
  }
}
