// The pooling modules the models use: MaxPool2d (torchvision's stem pool) and AdaptiveAvgPool2d, against
// hand-computed windows, PyTorch's printed form, and their argument errors.
#include "model_test_helpers.h"
#include "models/pooling.h"

using namespace vireo;
using vireo::testing::check_close;
using vireo::testing::check_error;

namespace {

// x[0, 0] = 0, 1, ..., 15 in row-major order over a 4 × 4 image.
Tensor ramp() {
  std::vector<double> values(16);
  for (int i = 0; i < 16; ++i) values[i] = i;
  return Tensor::from_vector(values, {1, 1, 4, 4});
}

}  // namespace

TEST_CASE("MaxPool2d 3 stride 2 padding 1 takes the max of each padded window") {
  models::MaxPool2d pool(3, {.stride = 2, .padding = 1});
  // Windows centred on rows/columns 0 and 2: rows {0,1} or {1,2,3}, likewise columns; the max is the
  // bottom-right element of each window.
  check_close(pool(ramp()), {5, 7, 13, 15});
  CHECK(pool.str() == "MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)");
  models::MaxPool2d default_stride(2);
  check_close(default_stride(ramp()), {5, 7, 13, 15});
  CHECK(default_stride.stride == nn::IntPair(2));
}

TEST_CASE("AdaptiveAvgPool2d averages the whole image or adaptive cells") {
  models::AdaptiveAvgPool2d global(1);
  check_close(global(ramp()), {7.5});
  CHECK(global(ramp()).shape() == Shape{1, 1, 1, 1});
  models::AdaptiveAvgPool2d quarters(2);
  check_close(quarters(ramp()), {(0 + 1 + 4 + 5) / 4.0, (2 + 3 + 6 + 7) / 4.0, (8 + 9 + 12 + 13) / 4.0,
                                 (10 + 11 + 14 + 15) / 4.0});
  CHECK(quarters.str() == "AdaptiveAvgPool2d(output_size=(2, 2))");
}

TEST_CASE("pooling modules refuse bad arguments naming the values") {
  check_error([] { models::MaxPool2d(0); }, {"MaxPool2d", "kernel_size (0, 0)"});
  check_error([] { models::MaxPool2d(3, {.padding = 2}); }, {"MaxPool2d", "padding (2, 2)", "(3, 3)"});
  models::MaxPool2d pool(2);
  check_error([&] { pool(zeros({4, 4})); }, {"MaxPool2d", "[N, C, H, W]", "[4, 4]"});
  models::AdaptiveAvgPool2d average(1);
  check_error([&] { average(zeros({2, 4, 4})); }, {"AdaptiveAvgPool2d", "[2, 4, 4]"});
}
