// CUDA normalization kernels (engine/cuda/normalization.cu). On the host: the Welford statistics and their
// merge (engine/cuda/welford.h) as the kernels combine them — per thread, butterfly within a warp, warps in
// order, chunks in order — against the CPU batch norm's two-pass statistics. On a GPU: batch norm (train and
// eval), layer norm, group norm, dropout and embedding, forward and backward, against the CPU kernels.
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "engine/cuda/welford.h"
#include "engine/kernels/normalization.h"
#include "parity.h"
#include "parity_inputs.h"

using namespace vireo;
using namespace vireo::cuda;

namespace {

// The statistics of `values` as a block of kNormThreads threads computes them: thread t folds elements
// t, t + kNormThreads, …; warps merge by butterfly (lane ^ 16, ^ 8, …); then the warps in order.
WelfordStats emulate_block(const std::vector<double>& values) {
  constexpr int kWarp = 32;
  std::vector<WelfordStats> lanes(kNormThreads);
  for (size_t i = 0; i < values.size(); ++i) lanes[i % kNormThreads].add(values[i]);
  WelfordStats total;
  for (int w = 0; w < kNormThreads / kWarp; ++w) {
    std::vector<WelfordStats> warp(lanes.begin() + w * kWarp, lanes.begin() + (w + 1) * kWarp);
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
      std::vector<WelfordStats> next(kWarp);
      for (int lane = 0; lane < kWarp; ++lane) next[lane] = welford_merge(warp[lane], warp[lane ^ offset]);
      warp = next;
    }
    total = welford_merge(total, warp[0]);
  }
  return total;
}

}  // namespace

TEST_CASE("cuda normalization statistics: Welford merges equal the two-pass mean and variance") {
  // Values with a large common offset: Σx² − n·mean² would lose most digits here.
  const std::vector<double> values = test::random_tensor({5000}, DType::f64, 3, 0.01).to_vector();
  std::vector<double> shifted(values);
  for (double& x : shifted) x += 1000.0;
  double mean = 0.0, var = 0.0;
  for (double x : shifted) mean += x;
  mean /= static_cast<double>(shifted.size());
  for (double x : shifted) var += (x - mean) * (x - mean);
  var /= static_cast<double>(shifted.size());

  WelfordStats sequential;
  for (double x : shifted) sequential.add(x);
  CHECK(sequential.mean == doctest::Approx(mean).epsilon(1e-14));
  CHECK(sequential.variance() == doctest::Approx(var).epsilon(1e-9));
  const WelfordStats block = emulate_block(shifted);
  CHECK(block.count == 5000.0);
  CHECK(block.mean == doctest::Approx(mean).epsilon(1e-14));
  CHECK(block.variance() == doctest::Approx(var).epsilon(1e-9));
  // Merging with empty partials (threads with no elements) changes nothing.
  const WelfordStats empty;
  CHECK(welford_merge(empty, block).m2 == block.m2);
  CHECK(welford_merge(block, empty).mean == block.mean);
  CHECK(empty.variance() == 0.0);
}

TEST_CASE("cuda normalization statistics: chunks cover every value once and merge to the CPU batch norm statistics") {
  for (int64_t count : {int64_t{1}, int64_t{4095}, int64_t{4097}, int64_t{70000}, int64_t{300001}}) {
    const int64_t chunks = chunks_for(count);
    CHECK(chunks >= 1);
    CHECK(chunks <= kMaxChunks);
    int64_t next = 0;
    for (int64_t k = 0; k < chunks; ++k) {
      const ChunkRange r = chunk_range(count, chunks, k);
      CHECK(r.begin == next);
      CHECK(r.end >= r.begin);
      next = r.end;
    }
    CHECK(next == count);
  }
  // Batch norm statistics of x [N, C, M] as the kernels form them (chunks of each channel's N·M values,
  // merged in order) against the CPU kernel's.
  const int64_t n = 7, channels = 3, spatial = 1500;  // N·M = 10500: three chunks per channel
  const Tensor x = test::random_tensor({n, channels, spatial}, DType::f64, 5, 2.0);
  const std::vector<double> xs = x.to_vector();
  const TensorOptions f64{DType::f64};
  const Tensor mean = Tensor::empty({channels}, f64), var = Tensor::empty({channels}, f64),
               rstd = Tensor::empty({channels}, f64), out = Tensor::empty(x.shape(), f64);
  kernels::batch_norm_forward(Device::cpu(), x, Tensor(), Tensor(), mean, var, rstd, out, true, 1e-5);
  const int64_t count = n * spatial, chunks = chunks_for(count);
  CHECK(chunks == 3);
  for (int64_t c = 0; c < channels; ++c) {
    WelfordStats total;
    for (int64_t k = 0; k < chunks; ++k) {
      const ChunkRange r = chunk_range(count, chunks, k);
      std::vector<double> chunk;
      for (int64_t j = r.begin; j < r.end; ++j) chunk.push_back(xs[((j / spatial) * channels + c) * spatial + j % spatial]);
      total = welford_merge(total, emulate_block(chunk));
    }
    CHECK(total.mean == doctest::Approx(mean.to_vector()[c]).epsilon(1e-12));
    CHECK(total.variance() == doctest::Approx(var.to_vector()[c]).epsilon(1e-12));
    CHECK(inverse_std(total.variance(), 1e-5) == doctest::Approx(rstd.to_vector()[c]).epsilon(1e-12));
  }
}

// ---- GPU parity ----

namespace {

const Device kGpu = Device::cuda();

Tensor empty_like_on(const Shape& shape, DType dtype, Device device) { return Tensor::empty(shape, {dtype, device}); }

// The lookup moves values: out[k, :] must equal weight[index[k], :] exactly.
bool on_cpu_equal(const Tensor& out, const Tensor& weight, const Tensor& indices) {
  const std::vector<double> got = out.to_vector(), table = weight.to_vector(), index = indices.to_vector();
  const int64_t dim = weight.size(1);
  for (size_t k = 0; k < index.size(); ++k)
    for (int64_t d = 0; d < dim; ++d)
      if (got[k * dim + d] != table[static_cast<int64_t>(index[k]) * dim + d]) return false;
  return true;
}

void batch_norm_parity(DType dtype, int64_t n, int64_t channels, int64_t spatial, bool training, bool affine) {
  CAPTURE(dtype);
  CAPTURE(training);
  CAPTURE(affine);
  CAPTURE(spatial);
  const DType rd = test::reference_dtype(dtype);
  const Tensor x = test::random_tensor({n, channels, spatial}, dtype, 21, 3.0);
  const Tensor weight = affine ? test::random_tensor({channels}, dtype, 22) : Tensor();
  const Tensor bias = affine ? test::random_tensor({channels}, dtype, 23) : Tensor();
  // Evaluation reads running statistics: positive variances.
  const Tensor running_mean = test::random_tensor({channels}, dtype, 24);
  const Tensor running_var = Tensor::from_vector(std::vector<double>(channels, 0.7), {channels}, {dtype});
  auto opt = [](const Tensor& t, bool cuda) { return !t.defined() ? Tensor() : cuda ? test::on_cuda(t) : test::reference(t); };

  const Tensor mean = training ? empty_like_on({channels}, dtype, kGpu) : test::on_cuda(running_mean);
  const Tensor var = training ? empty_like_on({channels}, dtype, kGpu) : test::on_cuda(running_var);
  const Tensor rstd = empty_like_on({channels}, dtype, kGpu), out = empty_like_on(x.shape(), dtype, kGpu);
  kernels::batch_norm_forward(kGpu, test::on_cuda(x), opt(weight, true), opt(bias, true), mean, var, rstd, out, training, 1e-5);
  const Tensor rmean = training ? empty_like_on({channels}, rd, Device::cpu()) : test::reference(running_mean);
  const Tensor rvar = training ? empty_like_on({channels}, rd, Device::cpu()) : test::reference(running_var);
  const Tensor rrstd = empty_like_on({channels}, rd, Device::cpu()), rout = empty_like_on(x.shape(), rd, Device::cpu());
  kernels::batch_norm_forward(Device::cpu(), test::reference(x), opt(weight, false), opt(bias, false), rmean, rvar, rrstd,
                              rout, training, 1e-5);
  test::expect_close(out, rout, "batch_norm out");
  test::expect_close(mean, rmean, "batch_norm mean");
  test::expect_close(var, rvar, "batch_norm var");
  test::expect_close(rstd, rrstd, "batch_norm rstd");

  const Tensor dy = test::random_tensor(x.shape(), dtype, 25);
  const Tensor dx = empty_like_on(x.shape(), dtype, kGpu);
  const Tensor dw = affine ? empty_like_on({channels}, dtype, kGpu) : Tensor();
  const Tensor db = affine ? empty_like_on({channels}, dtype, kGpu) : Tensor();
  kernels::batch_norm_backward(kGpu, test::on_cuda(x), test::on_cuda(dy), opt(weight, true), mean, rstd, training, dx, dw, db);
  const Tensor rdx = empty_like_on(x.shape(), rd, Device::cpu());
  const Tensor rdw = affine ? empty_like_on({channels}, rd, Device::cpu()) : Tensor();
  const Tensor rdb = affine ? empty_like_on({channels}, rd, Device::cpu()) : Tensor();
  kernels::batch_norm_backward(Device::cpu(), test::reference(x), test::reference(dy), opt(weight, false), test::reference(mean),
                               test::reference(rstd), training, rdx, rdw, rdb);
  test::expect_close(dx, rdx, "batch_norm grad_x");
  if (affine) {
    test::expect_close(dw, rdw, "batch_norm grad_weight");
    test::expect_close(db, rdb, "batch_norm grad_bias");
  }
}

void layer_norm_parity(DType dtype, int64_t rows, int64_t width, bool affine) {
  CAPTURE(dtype);
  CAPTURE(width);
  const DType rd = test::reference_dtype(dtype);
  const Tensor x = test::random_tensor({rows, width}, dtype, 31, 2.0);
  const Tensor weight = affine ? test::random_tensor({width}, dtype, 32) : Tensor();
  const Tensor bias = affine ? test::random_tensor({width}, dtype, 33) : Tensor();
  auto opt = [](const Tensor& t, bool cuda) { return !t.defined() ? Tensor() : cuda ? test::on_cuda(t) : test::reference(t); };
  const Tensor out = empty_like_on({rows, width}, dtype, kGpu), mean = empty_like_on({rows}, dtype, kGpu),
               rstd = empty_like_on({rows}, dtype, kGpu);
  kernels::layer_norm_forward(kGpu, test::on_cuda(x), opt(weight, true), opt(bias, true), out, mean, rstd, 1e-5);
  const Tensor rout = empty_like_on({rows, width}, rd, Device::cpu()), rmean = empty_like_on({rows}, rd, Device::cpu()),
               rrstd = empty_like_on({rows}, rd, Device::cpu());
  kernels::layer_norm_forward(Device::cpu(), test::reference(x), opt(weight, false), opt(bias, false), rout, rmean, rrstd, 1e-5);
  test::expect_close(out, rout, test::tolerance_for(dtype), "layer_norm out");
  test::expect_close(mean, rmean, test::tolerance_for(dtype), "layer_norm mean");
  test::expect_close(rstd, rrstd, test::tolerance_for(dtype), "layer_norm rstd");

  const Tensor dy = test::random_tensor({rows, width}, dtype, 34);
  const Tensor dx = empty_like_on({rows, width}, dtype, kGpu);
  const Tensor dw = affine ? empty_like_on({width}, dtype, kGpu) : Tensor(), db = affine ? empty_like_on({width}, dtype, kGpu) : Tensor();
  kernels::layer_norm_backward(kGpu, test::on_cuda(x), test::on_cuda(dy), opt(weight, true), mean, rstd, dx, dw, db);
  const Tensor rdx = empty_like_on({rows, width}, rd, Device::cpu());
  const Tensor rdw = affine ? empty_like_on({width}, rd, Device::cpu()) : Tensor();
  const Tensor rdb = affine ? empty_like_on({width}, rd, Device::cpu()) : Tensor();
  // From the GPU's saved statistics (rounded to the dtype), as the GPU's backward starts.
  kernels::layer_norm_backward(Device::cpu(), test::reference(x), test::reference(dy), opt(weight, false), test::reference(mean),
                               test::reference(rstd), rdx, rdw, rdb);
  // A 16-bit dx subtracts nearly equal terms: compare it against the scale of the gradient.
  const test::Tolerance grad_tolerance = test::is_16bit(dtype) ? test::Tolerance{0.05, 0.05} : test::tolerance_for(dtype);
  test::expect_close(dx, rdx, grad_tolerance, "layer_norm grad_x");
  if (affine) {
    test::expect_close(dw, rdw, grad_tolerance, "layer_norm grad_weight");
    test::expect_close(db, rdb, grad_tolerance, "layer_norm grad_bias");
  }
}

void group_norm_parity(DType dtype, int64_t n, int64_t channels, int64_t spatial, int64_t groups, bool affine) {
  CAPTURE(dtype);
  CAPTURE(groups);
  const Tensor x = test::random_tensor({n, channels, spatial}, dtype, 41, 2.0);
  const Tensor weight = affine ? test::random_tensor({channels}, dtype, 42) : Tensor();
  const Tensor bias = affine ? test::random_tensor({channels}, dtype, 43) : Tensor();
  auto opt = [](const Tensor& t, bool cuda) { return !t.defined() ? Tensor() : cuda ? test::on_cuda(t) : t; };
  const Tensor out = empty_like_on(x.shape(), dtype, kGpu), mean = empty_like_on({n, groups}, dtype, kGpu),
               rstd = empty_like_on({n, groups}, dtype, kGpu);
  kernels::group_norm_forward(kGpu, test::on_cuda(x), opt(weight, true), opt(bias, true), groups, out, mean, rstd, 1e-5);
  const Tensor rout = empty_like_on(x.shape(), dtype, Device::cpu()), rmean = empty_like_on({n, groups}, dtype, Device::cpu()),
               rrstd = empty_like_on({n, groups}, dtype, Device::cpu());
  kernels::group_norm_forward(Device::cpu(), x, opt(weight, false), opt(bias, false), groups, rout, rmean, rrstd, 1e-5);
  test::expect_close(out, rout, "group_norm out");
  test::expect_close(mean, rmean, "group_norm mean");
  test::expect_close(rstd, rrstd, "group_norm rstd");

  const Tensor dy = test::random_tensor(x.shape(), dtype, 44);
  const Tensor dx = empty_like_on(x.shape(), dtype, kGpu);
  const Tensor dw = affine ? empty_like_on({channels}, dtype, kGpu) : Tensor(), db = affine ? empty_like_on({channels}, dtype, kGpu) : Tensor();
  kernels::group_norm_backward(kGpu, test::on_cuda(x), test::on_cuda(dy), opt(weight, true), groups, mean, rstd, dx, dw, db);
  const Tensor rdx = empty_like_on(x.shape(), dtype, Device::cpu());
  const Tensor rdw = affine ? empty_like_on({channels}, dtype, Device::cpu()) : Tensor();
  const Tensor rdb = affine ? empty_like_on({channels}, dtype, Device::cpu()) : Tensor();
  kernels::group_norm_backward(Device::cpu(), x, dy, opt(weight, false), groups, rmean, rrstd, rdx, rdw, rdb);
  test::expect_close(dx, rdx, "group_norm grad_x");
  if (affine) {
    test::expect_close(dw, rdw, "group_norm grad_weight");
    test::expect_close(db, rdb, "group_norm grad_bias");
  }
}

}  // namespace

TEST_CASE("cuda normalization parity: batch norm forward and backward in training and evaluation") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f64, DType::f32})
    for (bool training : {true, false}) {
      batch_norm_parity(dtype, 5, 7, 33, training, true);        // BatchNorm2d-like, odd sizes
      batch_norm_parity(dtype, 37, 13, 1, training, false);      // BatchNorm1d: M = 1, no affine
      batch_norm_parity(dtype, 9, 3, 2000, training, true);      // several chunks per channel
    }
}

TEST_CASE("cuda normalization parity: layer norm forward and backward in f64 and f32 and f16 and bf16") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f64, DType::f32, DType::f16, DType::bf16}) {
    layer_norm_parity(dtype, 67, 192, true);
    layer_norm_parity(dtype, 5, 1001, false);
    layer_norm_parity(dtype, 40, 7, true);
  }
}

TEST_CASE("cuda normalization parity: group norm forward and backward") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f64, DType::f32}) {
    group_norm_parity(dtype, 3, 12, 49, 4, true);
    group_norm_parity(dtype, 2, 6, 5, 6, false);   // one channel per group
    group_norm_parity(dtype, 4, 8, 300, 1, true);  // one group (layer norm over C·M)
  }
}

TEST_CASE("cuda normalization parity: dropout turns the same draws into the same mask") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f64, DType::f32}) {
    const Tensor x = test::random_tensor({1000, 3}, dtype, 51);
    Generator generator(52);
    const Tensor uniform = rand({1000, 3}, {dtype}, &generator);
    const Tensor mask = test::on_cuda(uniform), out = empty_like_on(x.shape(), dtype, kGpu);
    kernels::dropout_forward(kGpu, test::on_cuda(x), mask, out, 0.3);
    const Tensor rmask = uniform.clone(), rout = empty_like_on(x.shape(), dtype, Device::cpu());
    kernels::dropout_forward(Device::cpu(), x, rmask, rout, 0.3);
    test::expect_close(mask, rmask, "dropout mask");
    test::expect_close(out, rout, "dropout out");
  }
}

TEST_CASE("cuda normalization parity: embedding lookup and its gradient with repeated indices and a bad index") {
  VIREO_REQUIRE_GPU();
  const int64_t num = 50, dim = 37, count = 300;
  std::vector<double> index_values(count);
  for (int64_t k = 0; k < count; ++k) index_values[k] = static_cast<double>((k * 7 + k / 3) % 11 == 0 ? 3 : (k * 13) % num);
  const Tensor indices = Tensor::from_vector(index_values, {count}, {DType::i64});
  for (DType dtype : {DType::f64, DType::f32, DType::bf16}) {
    CAPTURE(dtype);
    const Tensor weight = test::random_tensor({num, dim}, dtype, 61);
    const Tensor out = empty_like_on({count, dim}, dtype, kGpu);
    kernels::embedding_forward(kGpu, test::on_cuda(indices), test::on_cuda(weight), out);
    CHECK(on_cpu_equal(out, weight, indices));
    const Tensor grad_out = test::random_tensor({count, dim}, dtype, 62);
    const Tensor grad_weight = empty_like_on({num, dim}, dtype, kGpu);
    kernels::embedding_backward(kGpu, test::on_cuda(indices), test::on_cuda(grad_out), grad_weight);
    const Tensor rgrad = empty_like_on({num, dim}, test::reference_dtype(dtype), Device::cpu());
    kernels::embedding_backward(Device::cpu(), indices, test::reference(grad_out), rgrad);
    test::expect_close(grad_weight, rgrad, test::tolerance_for(dtype), "embedding grad_weight");
  }
  const Tensor bad = test::on_cuda(Tensor::from_vector({1, 2, 50, 4}, {4}, {DType::i64}));
  const Tensor weight = test::on_cuda(test::random_tensor({num, dim}, DType::f32, 63));
  const Tensor out = empty_like_on({4, dim}, DType::f32, kGpu);
  try {
    kernels::embedding_forward(kGpu, bad, weight, out);
    FAIL("a bad index was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("index 50 (at position 2)") != std::string::npos);
  }
}
