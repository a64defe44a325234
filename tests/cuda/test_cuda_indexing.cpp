// CUDA indexing kernels (engine/cuda/indexing.cu). On the host: the lines along an axis of strided views
// (engine/cuda/axis_lines.h) against coordinates computed directly, and scatter_add emulated one line at a
// time against the CPU kernel (duplicates in order). On a GPU: index_select, index_add, gather, scatter_add
// and one_hot against the CPU, on strided views, with repeated indices, and bad indices refused.
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine/cuda/axis_lines.h"
#include "engine/kernels/indexing.h"
#include "parity.h"
#include "parity_inputs.h"

using namespace vireo;
using namespace vireo::cuda;

namespace {

// The element offset of coordinate `coord` in a view with `strides`.
int64_t offset_of(const std::vector<int64_t>& coord, const Shape& strides) {
  int64_t offset = 0;
  for (size_t d = 0; d < coord.size(); ++d) offset += coord[d] * strides[d];
  return offset;
}

// Every coordinate of `shape`, row-major.
std::vector<std::vector<int64_t>> coordinates(const Shape& shape) {
  std::vector<std::vector<int64_t>> all{{}};
  for (int64_t extent : shape) {
    std::vector<std::vector<int64_t>> next;
    for (const auto& prefix : all)
      for (int64_t k = 0; k < extent; ++k) {
        next.push_back(prefix);
        next.back().push_back(k);
      }
    all = next;
  }
  return all;
}

Tensor random_index(const Shape& shape, int64_t extent, uint64_t seed) {
  const std::vector<double> u = test::random_tensor(shape, DType::f64, seed).to_vector();
  std::vector<double> k(u.size());
  for (size_t i = 0; i < u.size(); ++i) k[i] = static_cast<double>(static_cast<int64_t>(std::abs(u[i]) * 1000) % extent);
  return Tensor::from_vector(k, shape, {DType::i64});
}

}  // namespace

TEST_CASE("cuda axis lines: offsets of strided views along an axis equal the direct coordinates") {
  // A [4, 5, 6] view of permuted storage, and a narrowed one: strides that do not merge.
  const Tensor base = test::random_tensor({6, 4, 9}, DType::f64, 1).permute({1, 2, 0}).narrow(1, 2, 5);
  const Tensor other = test::random_tensor({4, 5, 6}, DType::f64, 2);
  for (int64_t dim = 0; dim < 3; ++dim) {
    CAPTURE(dim);
    const AxisLines<2> axis = make_axis_lines<2>(base.shape(), {&base.strides(), &other.strides()}, dim);
    CHECK(axis.length == base.shape()[dim]);
    CHECK(axis.count == base.numel() / base.shape()[dim]);
    Shape line_shape = base.shape();
    line_shape[dim] = 1;
    const auto lines = coordinates(line_shape);
    REQUIRE(static_cast<int64_t>(lines.size()) == axis.count);
    for (int64_t line = 0; line < axis.count; ++line)
      for (int64_t j = 0; j < axis.length; ++j) {
        int64_t base_offsets[2];
        axis.line_offsets(line, base_offsets);
        std::vector<int64_t> coord = lines[line];
        coord[dim] = j;
        CHECK(base_offsets[0] + j * axis.dim_strides[0] == offset_of(coord, base.strides()));
        CHECK(base_offsets[1] + j * axis.dim_strides[1] == offset_of(coord, other.strides()));
      }
  }
}

TEST_CASE("cuda axis lines: scatter_add with one line per thread in order equals the CPU kernel") {
  for (int64_t dim = 0; dim < 3; ++dim) {
    CAPTURE(dim);
    const Shape index_shape{3, 4, 5};
    Shape out_shape = index_shape;
    out_shape[dim] = 2;  // few targets: many duplicates
    const Tensor index = random_index(index_shape, 2, 10 + dim);
    const Tensor src = test::random_tensor({5, 4, 3}, DType::f64, 20).permute({2, 1, 0});  // strided source
    const Tensor out = test::random_tensor(out_shape, DType::f64, 30);
    std::vector<double> emulated = out.to_vector();
    const std::vector<double> index_values = index.to_vector();
    const auto axis = make_axis_lines<3>(index_shape, {&index.strides(), &src.strides(), &out.strides()}, dim);
    // The source's storage order differs from its view: read it through the view's own offsets.
    const double* src_data = src.data<double>();
    for (int64_t line = 0; line < axis.count; ++line) {
      int64_t b[3];
      axis.line_offsets(line, b);
      for (int64_t j = 0; j < axis.length; ++j) {
        const int64_t k = static_cast<int64_t>(index_values[b[0] + j * axis.dim_strides[0]]);
        emulated[b[2] + k * axis.dim_strides[2]] += src_data[b[1] + j * axis.dim_strides[1]];
      }
    }
    kernels::scatter_add(Device::cpu(), out, dim, index, src);
    const std::vector<double> cpu = out.to_vector();
    for (size_t i = 0; i < cpu.size(); ++i) CHECK(emulated[i] == cpu[i]);  // the same additions in the same order
  }
}

// ---- GPU parity ----

namespace {

const Device kGpu = Device::cuda();

void expect_refused(const std::function<void()>& run, const std::string& fragment) {
  try {
    run();
    FAIL("a bad index was accepted");
  } catch (const Error& e) {
    CHECK_MESSAGE(std::string(e.what()).find(fragment) != std::string::npos, e.what());
  }
}

}  // namespace

TEST_CASE("cuda indexing parity: index_select and index_add with repeated indices") {
  VIREO_REQUIRE_GPU();
  const int64_t outer = 3, extent = 11, inner = 7, n = 19;
  const Tensor index = random_index({n}, extent, 41);
  for (DType dtype : {DType::f64, DType::f32, DType::i64}) {
    CAPTURE(dtype);
    const Tensor x = dtype == DType::i64 ? random_index({outer, extent, inner}, 100, 42) : test::random_tensor({outer, extent, inner}, dtype, 42);
    const Tensor out = Tensor::empty({outer, n, inner}, {dtype, kGpu}), rout = Tensor::empty({outer, n, inner}, {dtype});
    kernels::index_select(kGpu, test::on_cuda(x), 1, outer, extent, inner, test::on_cuda(index), out);
    kernels::index_select(Device::cpu(), x, 1, outer, extent, inner, index, rout);
    test::expect_close(out, rout, test::Tolerance{0.0, 0.0}, "index_select");  // moved values: exact

    const Tensor src = dtype == DType::i64 ? random_index({outer, n, inner}, 100, 43) : test::random_tensor({outer, n, inner}, dtype, 43);
    const Tensor acc = x.clone(), gacc = test::on_cuda(x);
    kernels::index_add(kGpu, gacc, 1, outer, extent, inner, test::on_cuda(index), test::on_cuda(src));
    kernels::index_add(Device::cpu(), acc, 1, outer, extent, inner, index, src);
    test::expect_close(gacc, acc, "index_add");
  }
  const Tensor bad = test::on_cuda(Tensor::from_vector({1, 2, -1}, {3}, {DType::i64}));
  const Tensor x = test::on_cuda(test::random_tensor({outer, extent, inner}, DType::f32, 44));
  expect_refused([&] { kernels::index_select(kGpu, x, 1, outer, extent, inner, bad, Tensor::empty({outer, 3, inner}, {DType::f32, kGpu})); },
                 "index_select: index -1 is out of range for dimension 1 of extent 11");
  expect_refused([&] { kernels::index_add(kGpu, x, 1, outer, extent, inner, bad, test::on_cuda(test::random_tensor({outer, 3, inner}, DType::f32, 45))); },
                 "index_add: index -1 is out of range for dimension 1 of extent 11");
}

TEST_CASE("cuda indexing parity: gather and scatter_add along every axis of strided views") {
  VIREO_REQUIRE_GPU();
  for (DType dtype : {DType::f64, DType::f32})
    for (int64_t dim = 0; dim < 3; ++dim) {
      CAPTURE(dtype);
      CAPTURE(dim);
      const Shape index_shape{4, 5, 6};
      Shape x_shape = index_shape;
      x_shape[dim] = 9;
      // x: a permuted view (any strides); the device copy is the same view of the same storage order.
      const Shape storage{x_shape[2], x_shape[0], x_shape[1]};
      const Tensor storage_values = test::random_tensor(storage, dtype, 50 + dim);
      const Tensor x = storage_values.permute({1, 2, 0});
      const Tensor gx = test::on_cuda(storage_values).permute({1, 2, 0});
      const Tensor index = random_index(index_shape, x_shape[dim], 60 + dim);
      const Tensor out = Tensor::empty(index_shape, {dtype, kGpu}), rout = Tensor::empty(index_shape, {dtype});
      kernels::gather(kGpu, gx, dim, test::on_cuda(index), out);
      kernels::gather(Device::cpu(), x, dim, index, rout);
      test::expect_close(out, rout, test::Tolerance{0.0, 0.0}, "gather");

      const Tensor src_storage = test::random_tensor({6, 5, 4}, dtype, 70 + dim);
      const Tensor src = src_storage.permute({2, 1, 0}), gsrc = test::on_cuda(src_storage).permute({2, 1, 0});
      const Tensor acc = storage_values.clone().permute({1, 2, 0});
      const Tensor gacc = test::on_cuda(storage_values).permute({1, 2, 0});
      kernels::scatter_add(kGpu, gacc, dim, test::on_cuda(index), gsrc);
      kernels::scatter_add(Device::cpu(), acc, dim, index, src);
      test::expect_close(gacc, acc, "scatter_add");
    }
  const Tensor x = test::on_cuda(test::random_tensor({3, 4}, DType::f32, 80));
  const Tensor bad = test::on_cuda(Tensor::from_vector({0, 1, 2, 3, 0, 1, 2, 4}, {2, 4}, {DType::i64}));
  expect_refused([&] { kernels::gather(kGpu, x, 0, bad, Tensor::empty({2, 4}, {DType::f32, kGpu})); },
                 "gather: index 3 is out of range for dimension 0 of extent 3");
  expect_refused([&] { kernels::scatter_add(kGpu, x, 0, bad, test::on_cuda(test::random_tensor({2, 4}, DType::f32, 81))); },
                 "scatter_add: index 3 is out of range for dimension 0 of extent 3");
}

TEST_CASE("cuda indexing parity: one_hot and a label out of range") {
  VIREO_REQUIRE_GPU();
  const Tensor labels = random_index({37}, 10, 90);
  for (DType dtype : {DType::f32, DType::f64, DType::i64}) {
    const Tensor out = Tensor::empty({37, 10}, {dtype, kGpu}), rout = Tensor::empty({37, 10}, {dtype});
    kernels::one_hot(kGpu, test::on_cuda(labels), out);
    kernels::one_hot(Device::cpu(), labels, rout);
    test::expect_close(out, rout, test::Tolerance{0.0, 0.0}, "one_hot");
  }
  const Tensor bad = test::on_cuda(Tensor::from_vector({1, 10, 2}, {3}, {DType::i64}));
  expect_refused([&] { kernels::one_hot(kGpu, bad, Tensor::empty({3, 10}, {DType::f32, kGpu})); },
                 "one_hot: class index 10 is out of range for 10 classes");
}
