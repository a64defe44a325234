// The CUDA backend's runtime and data movement. Host-side (run everywhere the backend is built): the strided
// offset calculator's dimension merging against a direct computation, the start-up refusal when no GPU is
// usable, and what `vireo info` prints. On a GPU: round trips of every dtype, strided copies with every dtype
// conversion and fill against the CPU, the caching allocator serving a steady loop without new segments, and
// host batches arriving intact through the pinned staging ring while the host reuses its buffer.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "engine/cuda/common.h"
#include "engine/cuda/runtime.h"
#include "engine/ops.h"
#include "engine/storage.h"
#include "parity.h"

namespace vireo {
namespace {

// The offsets of every element, walked directly from the shape and strides.
template <int N>
void check_offsets_against_direct_walk(const Shape& shape, const std::array<Shape, N>& strides) {
  std::array<const Shape*, N> pointers;
  for (int k = 0; k < N; ++k) pointers[k] = &strides[k];
  const auto calc = cuda::make_offset_calculator<N>(shape, pointers);
  int64_t numel = 1;
  for (int64_t extent : shape) numel *= extent;
  for (int64_t linear = 0; linear < numel; ++linear) {
    int64_t got[N];
    calc.offsets(linear, got);
    int64_t rest = linear;
    std::array<int64_t, N> want{};
    for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
      const int64_t index = rest % shape[d];
      rest /= shape[d];
      for (int k = 0; k < N; ++k) want[k] += index * strides[k][d];
    }
    for (int k = 0; k < N; ++k) REQUIRE_MESSAGE(got[k] == want[k], "element ", linear, " operand ", k);
  }
}

TEST_CASE("cuda offsets: contiguous tensors collapse to one dimension and strided views give every offset") {
  const Shape shape = {3, 4, 5}, row_major = {20, 5, 1};
  const auto contiguous = cuda::make_offset_calculator<1>(shape, {&row_major});
  CHECK(contiguous.dims == 1);
  CHECK(contiguous.sizes[0] == 60);
  // A transposed operand, a broadcast operand (stride 0) and a sliced one.
  check_offsets_against_direct_walk<3>(shape, {Shape{20, 5, 1}, Shape{1, 3, 12}, Shape{0, 1, 0}});
  check_offsets_against_direct_walk<2>({2, 1, 7, 3}, {Shape{42, 42, 6, 2}, Shape{21, 99, 3, 1}});
  check_offsets_against_direct_walk<1>({}, {Shape{}});
  // Size-1 dimensions are dropped whatever their stride.
  const Shape odd_strides = {999, 1, 777};
  const auto single = cuda::make_offset_calculator<1>({1, 6, 1}, {&odd_strides});
  CHECK(single.dims == 1);
}

TEST_CASE("cuda offsets: more non-mergeable dimensions than the kernels take is refused with the shape") {
  Shape shape(cuda::kMaxDims + 1, 2), strides(cuda::kMaxDims + 1, 0);
  int64_t stride = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d, stride *= 4) strides[d] = stride;  // gaps
  CHECK_THROWS_WITH_AS(cuda::make_offset_calculator<1>(shape, {&strides}), doctest::Contains("at most"), Error);
}

TEST_CASE("cuda runtime: vireo info's lines name the toolkit and cuDNN and either a GPU or why there is none") {
  REQUIRE(cuda::built_with_cuda());
  const auto lines = cuda::cuda_summary();
  REQUIRE(lines.size() >= 3);
  CHECK(lines[0].find("CUDA toolkit 13.") != std::string::npos);
  CHECK(lines[0].find("sm_90") != std::string::npos);
  CHECK(lines[1].find("cuDNN 9.") != std::string::npos);
  if (cuda_available()) {
    CHECK(lines[2].find("cuda:0 ") == 0);
  } else {
    CHECK(lines[2].find("no usable GPU: ") == 0);
    CHECK(cuda::cuda_devices().empty());
  }
}

TEST_CASE("cuda runtime: without a usable GPU a CUDA tensor is refused at allocation with the reason") {
  if (cuda_available()) return;  // the refusal is what this machine shows; a GPU machine runs the parity tests
  CHECK_THROWS_WITH_AS(Tensor::empty({4}, {DType::f32, Device::cuda()}), doctest::Contains("CUDA is not usable for cuda:0: "),
                       Error);
  CHECK_THROWS_WITH_AS(ones({2, 2}).to(Device::cuda()), doctest::Contains("CUDA is not usable for cuda:0: "), Error);
}

// ---- on a GPU ----

TEST_CASE("cuda runtime: a tensor on a second GPU index after the first is refused naming both") {
  VIREO_REQUIRE_GPU();
  const Tensor first = ones({2}).to(Device::cuda(0));
  CHECK_THROWS_WITH_AS(Tensor::empty({2}, {DType::f32, Device::cuda(1)}), doctest::Contains("uses cuda:0; cuda:1"),
                       Error);
}

TEST_CASE("cuda parity: every dtype goes to the GPU and back unchanged") {
  VIREO_REQUIRE_GPU();
  Generator generator(3);
  const Tensor values = randn({5, 7}, {}, &generator).mul_(10.0);
  for (DType dtype : kAllDTypes) {
    const Tensor host = values.to(dtype);
    const Tensor device = host.to(Device::cuda());
    CHECK(device.device() == Device::cuda());
    const Tensor back = device.to(Device::cpu());
    CHECK_MESSAGE(back.dtype() == dtype, name(dtype));
    vireo::test::expect_close(back, host, {0.0, 0.0}, std::string("round trip ") + std::string(name(dtype)));
  }
}

TEST_CASE("cuda parity: strided copies convert between every pair of dtypes as the CPU does") {
  VIREO_REQUIRE_GPU();
  Generator generator(4);
  // Values that exercise truncation toward zero, rounding to 16 bits, and nonzero → true.
  const Tensor values = randn({6, 9}, {}, &generator).mul_(50.0);
  for (DType from : kAllDTypes)
    for (DType to : kAllDTypes) {
      const Tensor source = values.to(from).transpose(0, 1);  // a non-contiguous source
      const Tensor on_cpu = source.to(to);
      const Tensor on_gpu = source.to(Device::cuda()).to(to);
      vireo::test::expect_close(on_gpu, on_cpu, {0.0, 0.0},
                                std::string(name(from)) + " → " + std::string(name(to)));
    }
}

TEST_CASE("cuda parity: fill and copy_ into a strided view touch exactly the view's elements") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::i64, DType::boolean}) {
    Tensor cpu = zeros({4, 6}).to(dtype);
    Tensor gpu = cpu.to(Device::cuda());
    cpu.slice(1, 1, 6, 2).fill_(2.75);
    gpu.slice(1, 1, 6, 2).fill_(2.75);
    vireo::test::expect_close(gpu, cpu, {0.0, 0.0}, std::string("fill ") + std::string(name(dtype)));
    const Tensor source = arange(0.0, 4.0).to(dtype).reshape({4, 1});  // broadcast along the columns
    cpu.slice(1, 0, 3).copy_(source);
    gpu.slice(1, 0, 3).copy_(source);  // from the host into a GPU view
    vireo::test::expect_close(gpu, cpu, {0.0, 0.0}, std::string("copy_ ") + std::string(name(dtype)));
  }
}

TEST_CASE("cuda allocator: a loop of the same tensors allocates no new segment after its first step") {
  VIREO_REQUIRE_GPU();
  Allocator& allocator = allocator_for(Device::cuda());
  auto step = [] {
    Tensor a = Tensor::empty({256, 1024}, {DType::f32, Device::cuda()});
    Tensor b = Tensor::empty({3, 5000}, {DType::f32, Device::cuda()});
    Tensor c = Tensor::empty({17}, {DType::i64, Device::cuda()});
    a.fill_(1.0);
    b.fill_(2.0);
    c.fill_(3.0);
  };
  step();
  const size_t segments = allocator.stats().system_allocations;
  for (int i = 0; i < 10; ++i) step();
  CHECK(allocator.stats().system_allocations == segments);
  CHECK(allocator.stats().bytes_cached > 0);
}

TEST_CASE("cuda transfer: host batches sent through the pinned staging ring arrive intact after the host reuses them") {
  VIREO_REQUIRE_GPU();
  // One host buffer reused for every batch, as a loader does: each transfer must have taken its own copy
  // before returning. Batches of 3 MiB (staged), 48 KiB (direct: under the 64 KiB threshold) and 40 MiB.
  for (const int64_t elements : {int64_t{786432}, int64_t{12288}, int64_t{10485760}}) {
    CAPTURE(elements);
    Tensor host = Tensor::empty({elements}, {DType::f32});
    std::vector<Tensor> sent;
    for (int batch = 0; batch < 12; ++batch) {
      host.fill_(static_cast<double>(batch));
      sent.push_back(host.to(Device::cuda()));
      host.fill_(-1.0);  // overwritten before the GPU has necessarily run the copy
    }
    for (int batch = 0; batch < 12; ++batch) {
      const Tensor back = sent[batch].to(Device::cpu());
      CHECK_MESSAGE(amin(back).item() == batch, "batch ", batch);
      CHECK_MESSAGE(amax(back).item() == batch, "batch ", batch);
    }
  }
}

}  // namespace
}  // namespace vireo
