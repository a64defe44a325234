// The CUDA pooling and resampling kernels (engine/cuda/pool.cu, engine/cuda/pool_math.h).
//
// On the CPU (always): the index inversions the backward gathers rely on, against brute force; and every
// kernel's per-element body (the very functions the CUDA kernels call) run over whole tensors and compared
// with the CPU kernels — bit for bit where the CPU adds in the same order, which is everywhere but the
// bilinear backward.
// On a GPU (skipped without one): every kernel forward and backward on CUDA against the CPU, in f32, f64,
// f16 and bf16 (the 16-bit ones against the CPU's f32 on the same values).
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "cuda/parity.h"
#include "engine/cuda/pool_math.h"
#include "engine/kernels/conv.h"
#include "engine/ops.h"

using namespace vireo;
using kernels::Pool2dGeometry;

namespace {

struct PoolWindow {
  int64_t kh, kw, sh, sw, ph = 0, pw = 0, dh = 1, dw = 1;
  bool count_include_pad = true;
  int64_t extra_h = 0, extra_w = 0;  // output rows/columns beyond the floor formula (ceil mode)
};

Pool2dGeometry pool_geometry(int64_t planes, int64_t height, int64_t width, PoolWindow w) {
  Pool2dGeometry g;
  g.planes = planes;
  g.in_height = height;
  g.in_width = width;
  g.kernel_h = w.kh;
  g.kernel_w = w.kw;
  g.stride_h = w.sh;
  g.stride_w = w.sw;
  g.pad_h = w.ph;
  g.pad_w = w.pw;
  g.dilation_h = w.dh;
  g.dilation_w = w.dw;
  g.count_include_pad = w.count_include_pad;
  g.out_height = (height + 2 * w.ph - w.dh * (w.kh - 1) - 1) / w.sh + 1 + w.extra_h;
  g.out_width = (width + 2 * w.pw - w.dw * (w.kw - 1) - 1) / w.sw + 1 + w.extra_w;
  return g;
}

// Max-pooling windows: 2×2 and 3×3 (the CPU's fixed-size paths), stride ≠ kernel, padding, dilation, and a
// dilation wider than the plane (windows with no position inside).
std::vector<Pool2dGeometry> max_geometries() {
  return {
      pool_geometry(6, 8, 10, {.kh = 2, .kw = 2, .sh = 2, .sw = 2}),
      pool_geometry(6, 9, 7, {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1}),
      pool_geometry(4, 11, 9, {.kh = 3, .kw = 2, .sh = 1, .sw = 2, .ph = 1, .pw = 0, .dh = 2, .dw = 3}),
      pool_geometry(3, 3, 3, {.kh = 2, .kw = 2, .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 4, .dw = 4}),
      pool_geometry(6, 7, 7, {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .extra_h = 1, .extra_w = 1}),
  };
}

// Average-pooling windows: with and without padding in the divisor, and a ceil-mode extra row and column.
std::vector<Pool2dGeometry> avg_geometries() {
  return {
      pool_geometry(6, 8, 10, {.kh = 2, .kw = 2, .sh = 2, .sw = 2}),
      pool_geometry(6, 9, 7, {.kh = 3, .kw = 3, .sh = 2, .sw = 1, .ph = 1, .pw = 1, .count_include_pad = true}),
      pool_geometry(6, 9, 7, {.kh = 3, .kw = 3, .sh = 2, .sw = 1, .ph = 1, .pw = 1, .count_include_pad = false}),
      pool_geometry(4, 7, 8, {.kh = 3, .kw = 2, .sh = 2, .sw = 3, .ph = 1, .pw = 1, .count_include_pad = false,
                              .extra_h = 1, .extra_w = 1}),
      pool_geometry(4, 7, 8, {.kh = 3, .kw = 2, .sh = 2, .sw = 3, .ph = 1, .pw = 1, .count_include_pad = true,
                              .extra_h = 1, .extra_w = 1}),
  };
}

// (in, out) sizes for the shape-driven kernels: shrinking, growing, equal, doubling, one.
const std::vector<std::pair<int64_t, int64_t>> kResizes = {{7, 3}, {5, 8}, {1, 4}, {6, 6}, {4, 8}, {14, 6}, {4, 1}};

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype) {
  Generator generator(seed);
  return randn(shape, {.dtype = DType::f32}, &generator).to(dtype);
}

// Values on a coarse grid (many ties) with a few NaNs: the max-pooling tie and NaN rules.
Tensor tied_tensor(const Shape& shape, uint64_t seed, DType dtype) {
  std::vector<double> values = random_tensor(shape, seed, DType::f64).to_vector();
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = std::round(values[i] * 2.0) / 2.0;
    if (i % 37 == 5) values[i] = std::numeric_limits<double>::quiet_NaN();
  }
  return Tensor::from_vector(values, shape, {.dtype = dtype});
}

// Runs element(plane, row, column) → value over a [planes, height, width] result.
template <class Element>
std::vector<double> over_planes(int64_t planes, int64_t height, int64_t width, Element&& element) {
  std::vector<double> result;
  result.reserve(planes * height * width);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = 0; r < height; ++r)
      for (int64_t c = 0; c < width; ++c) result.push_back(element(p, r, c));
  return result;
}

// Bitwise equality (NaN equal to NaN) or, with a tolerance, closeness.
void expect_values(const std::vector<double>& got, const Tensor& want, const std::string& what, double tol = 0.0) {
  const std::vector<double> expected = want.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    const bool same = got[i] == expected[i] || (std::isnan(got[i]) && std::isnan(expected[i])) ||
                      std::abs(got[i] - expected[i]) <= tol * (1.0 + std::abs(expected[i]));
    REQUIRE_MESSAGE(same, what, " element ", i, ": ", got[i], " against the CPU's ", expected[i]);
  }
}

cuda::PlaneSizes plane_sizes(int64_t planes, int64_t in_h, int64_t in_w, int64_t out_h, int64_t out_w) {
  return {planes, in_h, in_w, out_h, out_w};
}

}  // namespace

TEST_CASE("cuda pool math: the index inversions match brute force") {
  // Pooling taps: pool_output_of_tap inverts out·stride − pad + tap·dilation; valid_taps bounds them.
  for (int64_t stride : {1, 2, 3})
    for (int64_t pad : {0, 1, 2})
      for (int64_t dilation : {1, 2, 4})
        for (int64_t kernel : {1, 2, 3}) {
          const int64_t in = 9, out = (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
          for (int64_t o = 0; o < out; ++o) {
            const cuda::TapRange taps = cuda::valid_taps(o * stride - pad, dilation, kernel, in);
            for (int64_t t = 0; t < kernel; ++t) {
              const int64_t position = o * stride - pad + t * dilation;
              const bool inside = position >= 0 && position < in;
              CHECK(inside == (t >= taps.lo && t < taps.hi));
              if (inside) CHECK(cuda::pool_output_of_tap(position, t, stride, pad, dilation, out) == o);
            }
          }
          for (int64_t i = 0; i < in; ++i)
            for (int64_t t = 0; t < kernel; ++t) {
              const int64_t o = cuda::pool_output_of_tap(i, t, stride, pad, dilation, out);
              if (o >= 0) CHECK(o * stride - pad + t * dilation == i);
            }
          // Average windows (no dilation): the outputs covering i are exactly those whose window holds it.
          for (int64_t i = 0; i < in; ++i) {
            const cuda::IndexRange range = cuda::avg_outputs_covering(i, kernel, stride, pad, out + 1);
            for (int64_t o = 0; o < out + 1; ++o) {
              const bool holds = o * stride - pad <= i && i < o * stride - pad + kernel;
              CHECK(holds == (o >= range.lo && o < range.hi));
            }
          }
        }
  for (const auto& [in, out] : kResizes) {
    for (int64_t i = 0; i < in; ++i) {
      const cuda::IndexRange adaptive = cuda::adaptive_outputs_covering(i, in, out);
      const cuda::IndexRange nearest = cuda::nearest_outputs_of(i, in, out);
      for (int64_t o = 0; o < out; ++o) {
        const bool holds = cuda::adaptive_start(o, in, out) <= i && i < cuda::adaptive_end(o, in, out);
        CHECK(holds == (o >= adaptive.lo && o < adaptive.hi));
        CHECK((cuda::nearest_source(o, in, out) == i) == (o >= nearest.lo && o < nearest.hi));
      }
      for (bool align : {false, true}) {
        const cuda::IndexRange linear = cuda::linear_outputs_of<float>(i, in, out, align);
        for (int64_t o = 0; o < out; ++o) {
          const cuda::LinearTap<float> tap = cuda::linear_tap<float>(o, in, out, align);
          if (tap.i0 == i || tap.i1 == i) {
            const bool in_range = o >= linear.lo && o < linear.hi;
            CHECK_MESSAGE(in_range, "in ", in, " out ", out, " o ", o);
          }
        }
      }
    }
  }
}

TEST_CASE("cuda pool math: max pooling elements give the CPU's values and indices and gradients") {
  for (const Pool2dGeometry& g : max_geometries()) {
    const Shape in_shape{g.planes, g.in_height, g.in_width}, out_shape{g.planes, g.out_height, g.out_width};
    const Tensor x = tied_tensor(in_shape, 1, DType::f32);
    const Tensor out = Tensor::empty(out_shape), indices = Tensor::empty(out_shape, {.dtype = DType::i64});
    kernels::max_pool2d(Device::cpu(), g, x, out, indices);
    const float* xp = x.data<float>();
    std::vector<double> values, index_values;
    over_planes(g.planes, g.out_height, g.out_width, [&](int64_t p, int64_t oh, int64_t ow) {
      const float* plane = xp + p * g.in_height * g.in_width;
      const auto best = cuda::max_pool_element<float>(g, oh, ow, [plane](int64_t at) { return plane[at]; });
      values.push_back(best.value);
      index_values.push_back(static_cast<double>(best.index));
      return 0.0;
    });
    expect_values(values, out, "max_pool2d values");
    expect_values(index_values, indices, "max_pool2d indices");

    const Tensor grad_out = random_tensor(out_shape, 2, DType::f32), grad_x = Tensor::empty(in_shape);
    kernels::max_pool2d_backward(Device::cpu(), g, grad_out, indices, grad_x);
    const float* gp = grad_out.data<float>();
    const int64_t* ip = indices.data<int64_t>();
    const auto grads = over_planes(g.planes, g.in_height, g.in_width, [&](int64_t p, int64_t ih, int64_t iw) {
      const int64_t start = p * g.out_height * g.out_width;
      return static_cast<double>(cuda::max_pool_backward_element<float>(
          g, ih, iw, [&](int64_t o) { return gp[start + o]; }, [&](int64_t o) { return ip[start + o]; }));
    });
    expect_values(grads, grad_x, "max_pool2d_backward");
  }
}

TEST_CASE("cuda pool math: average pooling elements give the CPU's values and gradients") {
  for (const Pool2dGeometry& g : avg_geometries()) {
    const Shape in_shape{g.planes, g.in_height, g.in_width}, out_shape{g.planes, g.out_height, g.out_width};
    for (DType dtype : {DType::f32, DType::f64}) {
      const Tensor x = random_tensor(in_shape, 3, DType::f64).to(dtype);
      const Tensor out = Tensor::empty(out_shape, {.dtype = dtype});
      kernels::avg_pool2d(Device::cpu(), g, x, out);
      const std::vector<double> xs = x.to_vector();
      auto forward = [&](auto tag) {
        using C = decltype(tag);
        return over_planes(g.planes, g.out_height, g.out_width, [&](int64_t p, int64_t oh, int64_t ow) {
          const double* plane = xs.data() + p * g.in_height * g.in_width;
          return static_cast<double>(
              cuda::avg_pool_element<C>(g, oh, ow, [plane](int64_t at) { return static_cast<C>(plane[at]); }));
        });
      };
      expect_values(dtype == DType::f32 ? forward(float{}) : forward(double{}), out, "avg_pool2d");

      const Tensor grad_out = random_tensor(out_shape, 4, DType::f64).to(dtype);
      const Tensor grad_x = Tensor::empty(in_shape, {.dtype = dtype});
      kernels::avg_pool2d_backward(Device::cpu(), g, grad_out, grad_x);
      const std::vector<double> gs = grad_out.to_vector();
      auto backward = [&](auto tag) {
        using C = decltype(tag);
        return over_planes(g.planes, g.in_height, g.in_width, [&](int64_t p, int64_t ih, int64_t iw) {
          const double* plane = gs.data() + p * g.out_height * g.out_width;
          return static_cast<double>(
              cuda::avg_pool_backward_element<C>(g, ih, iw, [plane](int64_t at) { return static_cast<C>(plane[at]); }));
        });
      };
      expect_values(dtype == DType::f32 ? backward(float{}) : backward(double{}), grad_x, "avg_pool2d_backward");
    }
  }
}

TEST_CASE("cuda pool math: adaptive pooling and upsampling elements give the CPU's values and gradients") {
  const int64_t planes = 3;
  for (const auto& [in_h, out_h] : kResizes)
    for (const auto& [in_w, out_w] : std::vector<std::pair<int64_t, int64_t>>{{5, 8}, {9, 4}}) {
      const cuda::PlaneSizes s = plane_sizes(planes, in_h, in_w, out_h, out_w);
      const Shape in_shape{1, planes, in_h, in_w}, out_shape{1, planes, out_h, out_w};
      const Tensor x = random_tensor(in_shape, 5, DType::f32), grad_out = random_tensor(out_shape, 6, DType::f32);
      const float* xp = x.data<float>();
      const float* gp = grad_out.data<float>();
      auto x_plane = [&](int64_t p) { return [plane = xp + p * in_h * in_w](int64_t at) { return plane[at]; }; };
      auto g_plane = [&](int64_t p) { return [plane = gp + p * out_h * out_w](int64_t at) { return plane[at]; }; };
      const std::string sizes = std::to_string(in_h) + "×" + std::to_string(in_w) + " → " + std::to_string(out_h) +
                                "×" + std::to_string(out_w);

      Tensor want = Tensor::empty(out_shape), want_grad = Tensor::empty(in_shape);
      kernels::adaptive_avg_pool2d(Device::cpu(), x, want);
      kernels::adaptive_avg_pool2d_backward(Device::cpu(), grad_out, want_grad);
      expect_values(over_planes(planes, out_h, out_w, [&](int64_t p, int64_t oh, int64_t ow) {
                      return static_cast<double>(cuda::adaptive_avg_element<float>(s, oh, ow, x_plane(p)));
                    }),
                    want, "adaptive_avg_pool2d " + sizes);
      expect_values(over_planes(planes, in_h, in_w, [&](int64_t p, int64_t ih, int64_t iw) {
                      return static_cast<double>(cuda::adaptive_avg_backward_element<float>(s, ih, iw, g_plane(p)));
                    }),
                    want_grad, "adaptive_avg_pool2d_backward " + sizes);

      kernels::upsample_nearest2d(Device::cpu(), x, want);
      kernels::upsample_nearest2d_backward(Device::cpu(), grad_out, want_grad);
      expect_values(over_planes(planes, out_h, out_w, [&](int64_t p, int64_t oh, int64_t ow) {
                      return static_cast<double>(x_plane(p)(cuda::nearest_source(oh, in_h, out_h) * in_w +
                                                            cuda::nearest_source(ow, in_w, out_w)));
                    }),
                    want, "upsample_nearest2d " + sizes);
      expect_values(over_planes(planes, in_h, in_w, [&](int64_t p, int64_t ih, int64_t iw) {
                      return static_cast<double>(cuda::nearest_backward_element<float>(s, ih, iw, g_plane(p)));
                    }),
                    want_grad, "upsample_nearest2d_backward " + sizes);

      for (bool align : {false, true}) {
        kernels::upsample_bilinear2d(Device::cpu(), x, want, align);
        kernels::upsample_bilinear2d_backward(Device::cpu(), grad_out, want_grad, align);
        const std::string what = sizes + (align ? " align_corners" : "");
        expect_values(over_planes(planes, out_h, out_w, [&](int64_t p, int64_t oh, int64_t ow) {
                        return static_cast<double>(cuda::bilinear_element<float>(s, oh, ow, align, x_plane(p)));
                      }),
                      want, "upsample_bilinear2d " + what);
        // The gather sums each input's weights in another order than the CPU's scatter.
        expect_values(over_planes(planes, in_h, in_w, [&](int64_t p, int64_t ih, int64_t iw) {
                        return static_cast<double>(cuda::bilinear_backward_element<float>(s, ih, iw, align, g_plane(p)));
                      }),
                      want_grad, "upsample_bilinear2d_backward " + what, 1e-5);
      }
    }
}

// ---- GPU parity ----

namespace {

DType cpu_dtype(DType dtype) { return dtype == DType::f16 || dtype == DType::bf16 ? DType::f32 : dtype; }
const std::vector<DType> kDtypes = {DType::f32, DType::f64, DType::f16, DType::bf16};

// Runs `kernel(device, input, output)` on the CPU (in cpu_dtype) and on CUDA from the same values, compares.
template <class Kernel>
void compare(const Tensor& input, const Shape& out_shape, DType dtype, const std::string& what, Kernel&& kernel) {
  const Tensor cpu_out = Tensor::empty(out_shape, {.dtype = cpu_dtype(dtype)});
  const Tensor gpu_out = Tensor::empty(out_shape, {.dtype = dtype, .device = Device::cuda()});
  kernel(Device::cpu(), input.to(cpu_dtype(dtype)), cpu_out);
  kernel(Device::cuda(), input.to(Device::cuda()), gpu_out);
  test::expect_close(gpu_out.to(Device::cpu()).to(cpu_dtype(dtype)), cpu_out, test::tolerance_for(dtype),
                     what + " " + std::string(name(dtype)));
}

// expect_close for results that may hold infinities (max pooling's empty windows give −inf): the infinities
// must sit at the same elements with the same sign; the rest is compared with the dtype's tolerance.
void expect_close_with_infinities(const Tensor& gpu_result, const Tensor& cpu_result, DType dtype,
                                  const std::string& what) {
  std::vector<double> got = gpu_result.to_vector(), want = cpu_result.to_vector();
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i)
    if (std::isinf(want[i]) || std::isinf(got[i])) {
      CHECK_MESSAGE(got[i] == want[i], what, ": element ", i, " is ", got[i], " on CUDA and ", want[i], " on the CPU");
      got[i] = want[i] = 0.0;
    }
  test::expect_close(Tensor::from_vector(got, cpu_result.shape(), {.dtype = DType::f64}),
                     Tensor::from_vector(want, cpu_result.shape(), {.dtype = DType::f64}), test::tolerance_for(dtype), what);
}

}  // namespace

TEST_CASE("cuda pool parity: max pooling forward and gather and backward match the CPU") {
  VIREO_REQUIRE_GPU();
  for (const Pool2dGeometry& g : max_geometries())
    for (DType dtype : kDtypes) {
      const Shape in_shape{g.planes, 1, g.in_height, g.in_width}, out_shape{g.planes, 1, g.out_height, g.out_width};
      const Tensor x = tied_tensor(in_shape, 7, dtype);
      const Tensor cpu_out = Tensor::empty(out_shape, {.dtype = cpu_dtype(dtype)});
      const Tensor cpu_indices = Tensor::empty(out_shape, {.dtype = DType::i64});
      const Tensor gpu_out = Tensor::empty(out_shape, {.dtype = dtype, .device = Device::cuda()});
      const Tensor gpu_indices = Tensor::empty(out_shape, {.dtype = DType::i64, .device = Device::cuda()});
      kernels::max_pool2d(Device::cpu(), g, x.to(cpu_dtype(dtype)), cpu_out, cpu_indices);
      kernels::max_pool2d(Device::cuda(), g, x.to(Device::cuda()), gpu_out, gpu_indices);
      const std::string what = "max_pool2d " + std::string(name(dtype)) + " " + to_string(in_shape);
      expect_close_with_infinities(gpu_out.to(Device::cpu()), cpu_out, dtype, what);
      test::expect_close(gpu_indices.to(Device::cpu()), cpu_indices, what + " indices");

      const Tensor grad_out = random_tensor(out_shape, 8, dtype);
      compare(grad_out, in_shape, dtype, "max_pool2d_backward", [&](Device d, const Tensor& in, const Tensor& out) {
        kernels::max_pool2d_backward(d, g, in, cpu_indices.to(d), out);
      });
      compare(x, out_shape, dtype, "max_pool2d_gather", [&](Device d, const Tensor& in, const Tensor& out) {
        kernels::max_pool2d_gather(d, g, in, cpu_indices.to(d), out);
      });
    }
}

TEST_CASE("cuda pool parity: average pooling forward and backward match the CPU") {
  VIREO_REQUIRE_GPU();
  for (const Pool2dGeometry& g : avg_geometries())
    for (DType dtype : kDtypes) {
      const Shape in_shape{g.planes, 1, g.in_height, g.in_width}, out_shape{g.planes, 1, g.out_height, g.out_width};
      compare(random_tensor(in_shape, 9, dtype), out_shape, dtype, "avg_pool2d",
              [&](Device d, const Tensor& in, const Tensor& out) { kernels::avg_pool2d(d, g, in, out); });
      compare(random_tensor(out_shape, 10, dtype), in_shape, dtype, "avg_pool2d_backward",
              [&](Device d, const Tensor& in, const Tensor& out) { kernels::avg_pool2d_backward(d, g, in, out); });
    }
}

TEST_CASE("cuda pool parity: adaptive pooling and upsampling forward and backward match the CPU") {
  VIREO_REQUIRE_GPU();
  for (const auto& [in_h, out_h] : kResizes)
    for (DType dtype : kDtypes) {
      const Shape in_shape{3, 2, in_h, 9}, out_shape{3, 2, out_h, 4};  // batch 3, non-square, width shrinking
      const Tensor x = random_tensor(in_shape, 11, dtype), grad_out = random_tensor(out_shape, 12, dtype);
      const Shape up_shape{3, 2, out_h, 13};  // width growing
      const Tensor up_grad = random_tensor(up_shape, 13, dtype);
      compare(x, out_shape, dtype, "adaptive_avg_pool2d",
              [](Device d, const Tensor& in, const Tensor& out) { kernels::adaptive_avg_pool2d(d, in, out); });
      compare(grad_out, in_shape, dtype, "adaptive_avg_pool2d_backward", [](Device d, const Tensor& in, const Tensor& out) {
        kernels::adaptive_avg_pool2d_backward(d, in, out);
      });
      compare(x, up_shape, dtype, "upsample_nearest2d",
              [](Device d, const Tensor& in, const Tensor& out) { kernels::upsample_nearest2d(d, in, out); });
      compare(up_grad, in_shape, dtype, "upsample_nearest2d_backward", [](Device d, const Tensor& in, const Tensor& out) {
        kernels::upsample_nearest2d_backward(d, in, out);
      });
      for (bool align : {false, true}) {
        compare(x, up_shape, dtype, "upsample_bilinear2d", [align](Device d, const Tensor& in, const Tensor& out) {
          kernels::upsample_bilinear2d(d, in, out, align);
        });
        compare(up_grad, in_shape, dtype, "upsample_bilinear2d_backward",
                [align](Device d, const Tensor& in, const Tensor& out) {
                  kernels::upsample_bilinear2d_backward(d, in, out, align);
                });
      }
    }
}

TEST_CASE("cuda pool parity: the pooling and resampling ops on a transposed input forward and backward") {
  VIREO_REQUIRE_GPU();
  using Op = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<const char*, Op>> ops = {
      {"max_pool2d",
       [](const Tensor& x) { return max_pool2d(x, {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}}); }},
      {"avg_pool2d", [](const Tensor& x) {
         return avg_pool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .count_include_pad = false});
       }},
      {"adaptive_avg_pool2d", [](const Tensor& x) { return adaptive_avg_pool2d(x, {4, 3}); }},
      {"upsample_nearest2d", [](const Tensor& x) { return upsample_nearest2d(x, {13, 10}); }},
      {"upsample_bilinear2d", [](const Tensor& x) { return upsample_bilinear2d(x, {13, 10}, false); }},
      {"upsample_bilinear2d align_corners", [](const Tensor& x) { return upsample_bilinear2d(x, {13, 10}, true); }},
  };
  for (DType dtype : {DType::f32, DType::f64})
    for (const auto& [op_name, op] : ops) {
      const Tensor x = random_tensor({3, 2, 7, 9}, 31, dtype);  // used as [3, 2, 9, 7] after the transpose
      auto run = [&](Device device) {
        Tensor xd = x.clone().to(device).requires_grad_();
        Tensor y = op(xd.transpose(2, 3));
        Generator generator(32);
        y.backward(randn(y.shape(), {.dtype = dtype}, &generator).to(device));
        return std::vector<Tensor>{y.detach(), xd.grad()};
      };
      const auto cpu = run(Device::cpu()), gpu = run(Device::cuda());
      const std::string what = std::string(op_name) + " " + std::string(name(dtype));
      test::expect_close(gpu[0].to(Device::cpu()), cpu[0], what);
      test::expect_close(gpu[1].to(Device::cpu()), cpu[1], what + " grad");
    }
}
