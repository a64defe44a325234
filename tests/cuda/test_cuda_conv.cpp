// The CUDA convolutions (engine/cuda/conv.cpp, engine/cuda/conv_geometry.h).
//
// On the CPU (always): the output-size formula and the parameters cuDNN's descriptors get; and the index
// math of the im2col fallback — the column matrix built with im2col_source and multiplied per group, the
// gather form of col2im, and the weight-gradient product — each against the CPU convolution kernels on odd
// geometries (stride 2, padding, dilation, groups, batch 3, non-square).
// On a GPU (skipped without one): the three kernels on CUDA against the CPU, with and without bias, through
// cuDNN and through the forced fallback, in f32, f64, f16 and bf16.
#include <vector>

#include "cuda/parity.h"
#include "engine/cuda/conv_geometry.h"
#include "engine/cuda/dense_kernels.h"
#include "engine/kernels/conv.h"
#include "engine/ops.h"
#include "gradcheck.h"

using namespace vireo;
using kernels::Conv2dGeometry;

namespace {

struct Window {
  int64_t kh, kw, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

Conv2dGeometry geometry(int64_t batch, int64_t in_channels, int64_t height, int64_t width, int64_t out_channels,
                        Window w) {
  Conv2dGeometry g;
  g.batch = batch;
  g.in_channels = in_channels;
  g.in_height = height;
  g.in_width = width;
  g.out_channels = out_channels;
  g.kernel_h = w.kh;
  g.kernel_w = w.kw;
  g.stride_h = w.sh;
  g.stride_w = w.sw;
  g.pad_h = w.ph;
  g.pad_w = w.pw;
  g.dilation_h = w.dh;
  g.dilation_w = w.dw;
  g.groups = w.groups;
  g.out_height = cuda::conv_output_size(height, w.kh, w.sh, w.ph, w.dh);
  g.out_width = cuda::conv_output_size(width, w.kw, w.sw, w.pw, w.dw);
  return g;
}

// Odd geometries: groups, stride 2, asymmetric padding and dilation, batch 3, pointwise, depthwise.
std::vector<Conv2dGeometry> geometries() {
  return {
      geometry(3, 4, 9, 11, 6, {.kh = 3, .kw = 3, .sh = 2, .sw = 1, .ph = 1, .pw = 2, .groups = 2}),
      geometry(3, 3, 10, 7, 5, {.kh = 2, .kw = 3, .ph = 0, .pw = 1, .dh = 2, .dw = 1}),
      geometry(2, 6, 5, 5, 4, {.kh = 1, .kw = 1}),
      geometry(3, 4, 8, 9, 4, {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 4}),
      geometry(1, 2, 6, 13, 3, {.kh = 5, .kw = 1, .sh = 3, .sw = 2, .ph = 2, .pw = 0, .dh = 1, .dw = 3}),
  };
}

Shape image_shape(const Conv2dGeometry& g) { return {g.batch, g.in_channels, g.in_height, g.in_width}; }
Shape response_shape(const Conv2dGeometry& g) { return {g.batch, g.out_channels, g.out_height, g.out_width}; }
Shape weight_shape(const Conv2dGeometry& g) { return {g.out_channels, g.in_channels / g.groups, g.kernel_h, g.kernel_w}; }

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype) {
  Generator generator(seed);
  return randn(shape, {.dtype = DType::f32}, &generator).to(dtype);
}

// One image's column matrix [groups·K × P] built with the fallback's index map.
std::vector<double> column_matrix(const Conv2dGeometry& g, const double* image) {
  const cuda::ColumnShape s = cuda::column_shape(g);
  std::vector<double> col(g.groups * s.rows_per_group * s.columns);
  for (int64_t r = 0; r < g.groups * s.rows_per_group; ++r)
    for (int64_t p = 0; p < s.columns; ++p) {
      const int64_t source = cuda::im2col_source(g, r, p);
      col[r * s.columns + p] = source >= 0 ? image[source] : 0.0;
    }
  return col;
}

void expect_equal_values(const std::vector<double>& got, const Tensor& want, const char* what) {
  const std::vector<double> expected = want.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    REQUIRE_MESSAGE(std::abs(got[i] - expected[i]) <= 1e-10 * (1.0 + std::abs(expected[i])), what, " element ", i,
                    ": ", got[i], " against the CPU's ", expected[i]);
}

}  // namespace

TEST_CASE("cuda conv geometry: output sizes and cuDNN descriptor parameters") {
  CHECK(cuda::conv_output_size(9, 3, 2, 1, 1) == 5);   // (9 + 2 − 2 − 1) / 2 + 1
  CHECK(cuda::conv_output_size(10, 2, 1, 0, 2) == 8);  // dilation 2: the kernel spans 3
  CHECK(cuda::conv_output_size(13, 1, 2, 0, 3) == 7);
  CHECK(cuda::conv_output_size(2, 5, 1, 0, 1) == 0);   // does not fit
  const Conv2dGeometry g = geometries()[0];
  const cuda::CudnnConvParams p = cuda::cudnn_conv_params("conv2d_forward", g);
  CHECK(std::vector<int>(p.image, p.image + 4) == std::vector<int>{3, 4, 9, 11});
  CHECK(std::vector<int>(p.filter, p.filter + 4) == std::vector<int>{6, 2, 3, 3});  // C_in / groups
  CHECK(std::vector<int>(p.response, p.response + 4) == std::vector<int>{3, 6, 5, 13});
  CHECK(p.pad[0] == 1);
  CHECK(p.pad[1] == 2);
  CHECK(p.stride[0] == 2);
  CHECK(p.stride[1] == 1);
  CHECK(p.dilation[0] == 1);
  CHECK(p.groups == 2);

  Conv2dGeometry wrong_size = g;
  wrong_size.out_width = 10;
  vireo::testing::check_error([&] { cuda::cudnn_conv_params("conv2d_forward", wrong_size); },
                              {"conv2d_forward", "5×13 response, not 5×10"});
  Conv2dGeometry wrong_groups = g;
  wrong_groups.groups = 3;
  vireo::testing::check_error([&] { cuda::cudnn_conv_params("conv2d_input_grad", wrong_groups); },
                              {"conv2d_input_grad", "do not divide into 3 groups"});
}

TEST_CASE("cuda conv fallback: im2col and one GEMM per group give the CPU's forward") {
  for (const Conv2dGeometry& g : geometries()) {
    const Tensor x = random_tensor(image_shape(g), 1, DType::f64), w = random_tensor(weight_shape(g), 2, DType::f64);
    const Tensor want = Tensor::empty(response_shape(g), {.dtype = DType::f64});
    kernels::conv2d_forward(Device::cpu(), g, x, w, Tensor(), want);

    const cuda::ColumnShape s = cuda::column_shape(g);
    const int64_t cout_g = g.out_channels / g.groups;
    const std::vector<double> xs = x.to_vector(), ws = w.to_vector();
    std::vector<double> y(want.numel());
    for (int64_t n = 0; n < g.batch; ++n) {
      const std::vector<double> col = column_matrix(g, xs.data() + n * g.in_channels * g.in_height * g.in_width);
      for (int64_t grp = 0; grp < g.groups; ++grp)
        for (int64_t o = 0; o < cout_g; ++o)
          for (int64_t p = 0; p < s.columns; ++p) {
            double acc = 0.0;
            for (int64_t r = 0; r < s.rows_per_group; ++r)
              acc += ws[(grp * cout_g + o) * s.rows_per_group + r] * col[(grp * s.rows_per_group + r) * s.columns + p];
            y[(n * g.out_channels + grp * cout_g + o) * s.columns + p] = acc;
          }
    }
    expect_equal_values(y, want, "forward");
  }
}

TEST_CASE("cuda conv fallback: the col2im gather of Wᵀ·dY gives the CPU's input gradient") {
  for (const Conv2dGeometry& g : geometries()) {
    const Tensor dy = random_tensor(response_shape(g), 3, DType::f64), w = random_tensor(weight_shape(g), 4, DType::f64);
    const Tensor want = Tensor::empty(image_shape(g), {.dtype = DType::f64});
    kernels::conv2d_input_grad(Device::cpu(), g, dy, w, Tensor(), want);

    const cuda::ColumnShape s = cuda::column_shape(g);
    const int64_t cout_g = g.out_channels / g.groups;
    const std::vector<double> dys = dy.to_vector(), ws = w.to_vector();
    std::vector<double> dx(want.numel());
    for (int64_t n = 0; n < g.batch; ++n) {
      // col[grp] = W[grp]ᵀ · dY[grp]
      std::vector<double> col(g.groups * s.rows_per_group * s.columns, 0.0);
      for (int64_t grp = 0; grp < g.groups; ++grp)
        for (int64_t r = 0; r < s.rows_per_group; ++r)
          for (int64_t p = 0; p < s.columns; ++p) {
            double acc = 0.0;
            for (int64_t o = 0; o < cout_g; ++o)
              acc += ws[(grp * cout_g + o) * s.rows_per_group + r] *
                     dys[(n * g.out_channels + grp * cout_g + o) * s.columns + p];
            col[(grp * s.rows_per_group + r) * s.columns + p] = acc;
          }
      for (int64_t c = 0; c < g.in_channels; ++c)
        for (int64_t ih = 0; ih < g.in_height; ++ih)
          for (int64_t iw = 0; iw < g.in_width; ++iw) {
            double sum = 0.0;
            cuda::for_each_column_entry(g, c, ih, iw,
                                        [&](int64_t row, int64_t column) { sum += col[row * s.columns + column]; });
            dx[((n * g.in_channels + c) * g.in_height + ih) * g.in_width + iw] = sum;
          }
    }
    expect_equal_values(dx, want, "input grad");
  }
}

TEST_CASE("cuda conv fallback: col2im visits exactly the entries im2col took from each element") {
  for (const Conv2dGeometry& g : geometries()) {
    const cuda::ColumnShape s = cuda::column_shape(g);
    std::vector<int> taken(g.in_channels * g.in_height * g.in_width, 0), visited(taken.size(), 0);
    for (int64_t r = 0; r < g.groups * s.rows_per_group; ++r)
      for (int64_t p = 0; p < s.columns; ++p)
        if (const int64_t source = cuda::im2col_source(g, r, p); source >= 0) ++taken[source];
    for (int64_t c = 0; c < g.in_channels; ++c)
      for (int64_t ih = 0; ih < g.in_height; ++ih)
        for (int64_t iw = 0; iw < g.in_width; ++iw)
          cuda::for_each_column_entry(g, c, ih, iw, [&](int64_t row, int64_t column) {
            CHECK(cuda::im2col_source(g, row, column) == (c * g.in_height + ih) * g.in_width + iw);
            ++visited[(c * g.in_height + ih) * g.in_width + iw];
          });
    CHECK(visited == taken);
  }
}

TEST_CASE("cuda conv fallback: dY·colᵀ summed over the images gives the CPU's weight gradient") {
  for (const Conv2dGeometry& g : geometries()) {
    const Tensor x = random_tensor(image_shape(g), 5, DType::f64), dy = random_tensor(response_shape(g), 6, DType::f64);
    const Tensor want = Tensor::empty(weight_shape(g), {.dtype = DType::f64});
    kernels::conv2d_weight_grad(Device::cpu(), g, x, dy, want);

    const cuda::ColumnShape s = cuda::column_shape(g);
    const int64_t cout_g = g.out_channels / g.groups;
    const std::vector<double> xs = x.to_vector(), dys = dy.to_vector();
    std::vector<double> dw(want.numel(), 0.0);
    for (int64_t n = 0; n < g.batch; ++n) {
      const std::vector<double> col = column_matrix(g, xs.data() + n * g.in_channels * g.in_height * g.in_width);
      for (int64_t grp = 0; grp < g.groups; ++grp)
        for (int64_t o = 0; o < cout_g; ++o)
          for (int64_t r = 0; r < s.rows_per_group; ++r) {
            double acc = 0.0;
            for (int64_t p = 0; p < s.columns; ++p)
              acc += dys[(n * g.out_channels + grp * cout_g + o) * s.columns + p] *
                     col[(grp * s.rows_per_group + r) * s.columns + p];
            dw[(grp * cout_g + o) * s.rows_per_group + r] += acc;
          }
    }
    expect_equal_values(dw, want, "weight grad");
  }
}

// ---- GPU parity ----

namespace {

DType cpu_dtype(DType dtype) { return dtype == DType::f16 || dtype == DType::bf16 ? DType::f32 : dtype; }

// The three kernels on both devices from the same (dtype-rounded) inputs, compared.
void check_conv_parity(const Conv2dGeometry& g, DType dtype, bool with_bias, const std::string& path) {
  const Tensor x = random_tensor(image_shape(g), 11, dtype), w = random_tensor(weight_shape(g), 12, dtype);
  const Tensor dy = random_tensor(response_shape(g), 13, dtype);
  const Tensor out_bias = random_tensor({g.out_channels}, 14, dtype), in_bias = random_tensor({g.in_channels}, 15, dtype);
  const DType reference = cpu_dtype(dtype);
  const Device gpu = Device::cuda();
  const std::string what = path + " " + std::string(name(dtype)) + (with_bias ? " bias" : "") + " image " +
                           to_string(image_shape(g)) + " weight " + to_string(weight_shape(g)) + " groups " +
                           std::to_string(g.groups);
  auto bias_on = [&](const Tensor& b, DType t, Device d) { return with_bias ? b.to(t).to(d) : Tensor(); };

  const Tensor y_cpu = Tensor::empty(response_shape(g), {.dtype = reference});
  const Tensor y_gpu = Tensor::empty(response_shape(g), {.dtype = dtype, .device = gpu});
  kernels::conv2d_forward(Device::cpu(), g, x.to(reference), w.to(reference), bias_on(out_bias, reference, Device::cpu()),
                          y_cpu);
  kernels::conv2d_forward(gpu, g, x.to(gpu), w.to(gpu), bias_on(out_bias, dtype, gpu), y_gpu);
  test::expect_close(y_gpu.to(Device::cpu()).to(reference), y_cpu, test::tolerance_for(dtype), "forward " + what);

  const Tensor dx_cpu = Tensor::empty(image_shape(g), {.dtype = reference});
  const Tensor dx_gpu = Tensor::empty(image_shape(g), {.dtype = dtype, .device = gpu});
  kernels::conv2d_input_grad(Device::cpu(), g, dy.to(reference), w.to(reference),
                             bias_on(in_bias, reference, Device::cpu()), dx_cpu);
  kernels::conv2d_input_grad(gpu, g, dy.to(gpu), w.to(gpu), bias_on(in_bias, dtype, gpu), dx_gpu);
  test::expect_close(dx_gpu.to(Device::cpu()).to(reference), dx_cpu, test::tolerance_for(dtype), "input grad " + what);

  const Tensor dw_cpu = Tensor::empty(weight_shape(g), {.dtype = reference});
  const Tensor dw_gpu = Tensor::empty(weight_shape(g), {.dtype = dtype, .device = gpu});
  kernels::conv2d_weight_grad(Device::cpu(), g, x.to(reference), dy.to(reference), dw_cpu);
  kernels::conv2d_weight_grad(gpu, g, x.to(gpu), dy.to(gpu), dw_gpu);
  test::expect_close(dw_gpu.to(Device::cpu()).to(reference), dw_cpu, test::tolerance_for(dtype), "weight grad " + what);
}

// Restores cuDNN after a test that forced the fallback, whatever happens inside.
struct ForcedFallback {
  ForcedFallback() { cuda::set_force_conv_fallback(true); }
  ~ForcedFallback() { cuda::set_force_conv_fallback(false); }
};

}  // namespace

TEST_CASE("cuda conv parity: cuDNN matches the CPU forward and backward in f32 and f64") {
  VIREO_REQUIRE_GPU();
  REQUIRE_FALSE(cuda::allow_tf32());
  for (const Conv2dGeometry& g : geometries())
    for (DType dtype : {DType::f32, DType::f64})
      for (bool with_bias : {false, true}) check_conv_parity(g, dtype, with_bias, "cuDNN");
}

TEST_CASE("cuda conv parity: cuDNN in f16 and bf16 matches the CPU's f32 on the same values") {
  VIREO_REQUIRE_GPU();
  for (const Conv2dGeometry& g : geometries())
    for (DType dtype : {DType::f16, DType::bf16}) check_conv_parity(g, dtype, true, "cuDNN");
}

TEST_CASE("cuda conv parity: the im2col + cuBLAS fallback matches the CPU in every dtype") {
  VIREO_REQUIRE_GPU();
  ForcedFallback forced;
  for (const Conv2dGeometry& g : geometries())
    for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16})
      for (bool with_bias : {false, true}) check_conv_parity(g, dtype, with_bias, "fallback");
}

TEST_CASE("cuda conv parity: an empty batch writes nothing and a zero weight gradient") {
  VIREO_REQUIRE_GPU();
  Conv2dGeometry g = geometries()[0];
  g.batch = 0;
  const Device gpu = Device::cuda();
  const Tensor x = Tensor::empty(image_shape(g), {.device = gpu}), dy = Tensor::empty(response_shape(g), {.device = gpu});
  Tensor dw = Tensor::empty(weight_shape(g), {.device = gpu});
  dw.fill_(1.0);
  kernels::conv2d_weight_grad(gpu, g, x, dy, dw);
  for (double v : dw.to_vector()) CHECK(v == 0.0);
}

TEST_CASE("cuda conv parity: conv2d and conv_transpose2d ops on a transposed input forward and backward") {
  VIREO_REQUIRE_GPU();
  // Through the ops (which make the transposed view contiguous with the CUDA copy kernel): the forward
  // kernel and both gradient kernels, as training runs them. No bias: its gradient is a CUDA reduction.
  for (DType dtype : {DType::f32, DType::f64}) {
    const Tensor x = random_tensor({3, 4, 11, 9}, 21, dtype);       // used as [3, 4, 9, 11] after the transpose
    const Tensor w = random_tensor({6, 2, 3, 2}, 22, dtype);        // groups 2
    const Tensor wt = random_tensor({4, 3, 3, 3}, 23, dtype);       // conv_transpose2d: [C_in, C_out / groups, kH, kW]
    auto run = [&](Device device) {
      // One leaf per op: a gradient summed from both would need the CUDA elementwise add.
      Tensor x1 = x.clone().to(device).requires_grad_(), x2 = x.clone().to(device).requires_grad_();
      Tensor wd = w.clone().to(device).requires_grad_(), wtd = wt.clone().to(device).requires_grad_();
      Tensor y = conv2d(x1.transpose(2, 3), wd, {},
                        {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2}, .groups = 2});
      Tensor z = conv_transpose2d(x2.transpose(2, 3), wtd, {},
                                  {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 0}});
      Generator generator(24);
      y.backward(randn(y.shape(), {.dtype = dtype}, &generator).to(device));
      z.backward(randn(z.shape(), {.dtype = dtype}, &generator).to(device));
      return std::vector<Tensor>{y.detach(), z.detach(), x1.grad(), wd.grad(), x2.grad(), wtd.grad()};
    };
    const auto cpu = run(Device::cpu()), gpu = run(Device::cuda());
    const char* names[] = {"conv2d", "conv_transpose2d", "conv2d input grad", "conv2d weight grad",
                           "conv_transpose2d input grad", "conv_transpose2d weight grad"};
    for (int i = 0; i < 6; ++i)
      test::expect_close(gpu[i].to(Device::cpu()), cpu[i], std::string(names[i]) + " " + std::string(name(dtype)));
  }
}
