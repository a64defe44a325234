// The DDPM training loss (its value against the formula, its draws, its gradient reaching the model
// against finite differences, a tiny UNet learning to denoise a few fixed images) and the PNG grid of
// samples (its size, layout and pixel values read back from the file).
#include <cmath>
#include <vector>

#include "data_helpers.h"
#include "gradcheck.h"
#include "engine/nn/conv.h"
#include "engine/optim/adam.h"
#include "models/unet.h"
#include "training/data/image_io.h"
#include "training/diffusion/image_grid.h"
#include "training/diffusion/training_loss.h"

using namespace vireo;
using namespace vireo::diffusion;
using vireo::testing::check_error;

namespace {

models::UNetOptions tiny_unet_options() {
  return {.in_channels = 1, .base_channels = 8, .channel_multipliers = {1, 2}, .num_res_blocks = 1,
          .attention_levels = {1}, .groups = 4};
}

// A few fixed images in [−1, 1]: a bright square, a bar, a diagonal, a ring — distinct structure to learn.
Tensor fixed_images() {
  std::vector<double> pixels;
  for (int image = 0; image < 4; ++image)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        bool on = false;
        if (image == 0) on = y >= 2 && y < 6 && x >= 2 && x < 6;
        if (image == 1) on = x == 3 || x == 4;
        if (image == 2) on = x == y;
        if (image == 3) on = std::abs(std::hypot(y - 3.5, x - 3.5) - 2.5) < 0.8;
        pixels.push_back(on ? 0.9 : -0.9);
      }
  return Tensor::from_vector(pixels, {4, 1, 8, 8});
}

}  // namespace

TEST_CASE("the diffusion loss is the mean squared error of the predicted noise at q_sample") {
  const NoiseSchedule schedule = NoiseSchedule::linear(50, 1e-3, 0.1);
  Generator generator(1);
  const Tensor x0 = rand({3, 1, 4, 4}, {}, &generator) * 2.0 - 1.0;
  const Tensor noise = randn({3, 1, 4, 4}, {}, &generator);
  const Tensor timesteps = vireo::testing::indices({0, 25, 49}, {3});
  // A predictor that returns something of x_t alone: the loss is then a function of x_t written out here.
  const NoisePredictor predictor = [](const Tensor& x_t, const Tensor&, const Tensor&) { return x_t * 0.5; };
  const double loss = diffusion_loss(predictor, schedule, x0, timesteps, noise).item();
  const std::vector<double> clean = x0.to_vector(), eps = noise.to_vector();
  double expected = 0.0;
  for (size_t i = 0; i < clean.size(); ++i) {
    const int64_t t = i < 16 ? 0 : i < 32 ? 25 : 49;
    const double a = schedule.alpha_bar(t);
    const double x_t = std::sqrt(a) * clean[i] + std::sqrt(1.0 - a) * eps[i];
    expected += (0.5 * x_t - eps[i]) * (0.5 * x_t - eps[i]);
  }
  CHECK(loss == doctest::Approx(expected / static_cast<double>(clean.size())).epsilon(1e-5));
}

TEST_CASE("the diffusion loss draws t uniformly then the noise from the generator") {
  const NoiseSchedule schedule = NoiseSchedule::linear(30, 1e-3, 0.2);
  const Tensor x0 = zeros({64, 1, 2, 2});
  Tensor seen_timesteps, seen_images;
  const NoisePredictor predictor = [&](const Tensor& x_t, const Tensor& t, const Tensor&) {
    seen_timesteps = t;
    seen_images = x_t;
    return zeros_like(x_t);
  };
  Generator generator(9);
  const double loss = diffusion_loss(predictor, schedule, x0, generator).item();
  // The same draws, made here in the documented order: t first, then ε.
  Generator replay(9);
  const Tensor timesteps = randint(0, 30, {64}, {.dtype = DType::i64}, &replay);
  const Tensor noise = randn({64, 1, 2, 2}, {}, &replay);
  CHECK(seen_timesteps.to_vector() == timesteps.to_vector());
  CHECK(generator.offset() == replay.offset());
  // With x_0 = 0, x_t = √(1 − ᾱ_t) ε and the zero predictor's loss is mean(ε²).
  const std::vector<double> t = timesteps.to_vector(), eps = noise.to_vector(), x_t = seen_images.to_vector();
  double square = 0.0;
  for (size_t i = 0; i < eps.size(); ++i) {
    CHECK(x_t[i] == doctest::Approx(std::sqrt(1.0 - schedule.alpha_bar(static_cast<int64_t>(t[i / 4]))) * eps[i]).epsilon(1e-5));
    square += eps[i] * eps[i];
  }
  CHECK(loss == doctest::Approx(square / static_cast<double>(eps.size())).epsilon(1e-5));
  // Uniform over [0, T): every draw in range, and both ends of the range reachable.
  Generator many(10);
  const std::vector<double> drawn = randint(0, 30, {3000}, {.dtype = DType::i64}, &many).to_vector();
  for (double v : drawn) CHECK((v >= 0 && v < 30));
}

TEST_CASE("the diffusion loss gradient reaches every UNet parameter and matches finite differences") {
  const NoiseSchedule schedule = NoiseSchedule::cosine(40);
  auto unet = models::ddpm_unet(tiny_unet_options());
  unet->to(DType::f64);
  Generator generator(2);
  const Tensor x0 = rand({2, 1, 8, 8}, {.dtype = DType::f64}, &generator) * 2.0 - 1.0;
  const Tensor noise = randn({2, 1, 8, 8}, {.dtype = DType::f64}, &generator);
  const Tensor timesteps = vireo::testing::indices({5, 31}, {2});
  const NoisePredictor predictor = noise_predictor(*unet);
  auto loss = [&] { return diffusion_loss(predictor, schedule, x0, timesteps, noise); };

  unet->zero_grad();
  loss().backward();
  for (const auto& [name, parameter] : unet->named_parameters()) {
    INFO(name);
    REQUIRE(parameter.grad().defined());
    CHECK(sum(abs(parameter.grad())).item() > 0.0);
  }
  // Central differences on a few entries of parameters at the start, the middle and the end of the net.
  for (const char* name : {"conv_in.weight", "middle_attention.qkv.weight", "time_embedding.0.weight", "conv_out.bias"}) {
    Tensor parameter;
    for (const auto& [key, value] : unet->named_parameters())
      if (key == name) parameter = value;
    REQUIRE(parameter.defined());
    const std::vector<double> analytic = parameter.grad().to_vector();
    double* data = parameter.data<double>();
    for (int64_t index : {int64_t{0}, parameter.numel() / 2, parameter.numel() - 1}) {
      INFO(name, "[", index, "]");
      const double saved = data[index], h = 1e-6;
      double plus = 0.0, minus = 0.0;
      {
        NoGrad no_grad;
        data[index] = saved + h;
        plus = loss().item();
        data[index] = saved - h;
        minus = loss().item();
        data[index] = saved;
      }
      const double numeric = (plus - minus) / (2.0 * h);
      CHECK(analytic[static_cast<size_t>(index)] == doctest::Approx(numeric).epsilon(1e-5).scale(1e-6));
    }
  }
}

TEST_CASE("a tiny UNet trained for a few dozen steps on fixed images lowers the diffusion loss") {
  manual_seed(3);
  const NoiseSchedule schedule = NoiseSchedule::linear(100, 1e-3, 0.2);
  auto unet = models::ddpm_unet(tiny_unet_options());
  const NoisePredictor predictor = noise_predictor(*unet);
  const Tensor images = fixed_images();
  // A fixed evaluation: the same 8 (t, ε) draws for every image before and after training.
  Generator evaluation_draws(4);
  std::vector<std::pair<Tensor, Tensor>> evaluation;
  for (int i = 0; i < 8; ++i) {
    const Tensor t = randint(0, 100, {4}, {.dtype = DType::i64}, &evaluation_draws);
    evaluation.emplace_back(t, randn(images.shape(), {}, &evaluation_draws));
  }
  auto evaluation_loss = [&] {
    NoGrad no_grad;
    double total = 0.0;
    for (const auto& [t, noise] : evaluation) total += diffusion_loss(predictor, schedule, images, t, noise).item();
    return total / static_cast<double>(evaluation.size());
  };
  const double before = evaluation_loss();
  optim::Adam optimizer(unet->parameters(), {.lr = 3e-3});
  Generator training_draws(5);
  for (int step = 0; step < 24; ++step) {
    const Tensor loss = diffusion_loss(predictor, schedule, images, training_draws);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  const double after = evaluation_loss();
  INFO("evaluation loss before ", before, ", after ", after);
  // An untrained UNet predicts ε with an error near Var(ε) = 1; training must cut it clearly.
  CHECK(before > 0.7);
  CHECK(after < 0.6 * before);
}

TEST_CASE("diffusion loss arguments are checked") {
  const NoiseSchedule schedule = NoiseSchedule::linear(10);
  const NoisePredictor flat = [](const Tensor& x, const Tensor&, const Tensor&) { return x.flatten(1); };
  const NoisePredictor identity = [](const Tensor& x, const Tensor&, const Tensor&) { return x; };
  Generator generator(0);
  check_error([&] { diffusion_loss(flat, schedule, zeros({2, 1, 2, 2}), generator); },
              {"diffusion_loss", "images' shape [2, 1, 2, 2]", "[2, 4]"});
  check_error([&] { diffusion_loss(identity, schedule, zeros({0, 1, 2, 2}), generator); }, {"diffusion_loss", "non-empty"});
  check_error([&] { diffusion_loss(identity, schedule, zeros({2, 1, 2, 2}), generator, zeros({3}, {.dtype = DType::i64})); },
              {"diffusion_loss", "labels must be [2]"});
}

TEST_CASE("the sample grid has the documented size layout and pixel values in the PNG") {
  vireo::testing::TempFolder folder("ddpm_grid");
  // Five 2×3 gray images; pixel p of image i is the value that maps to the byte 8·(6i + p) + 0.3, which
  // rounds to 8·(6i + p) (no value lands on a rounding boundary).
  std::vector<double> values;
  for (int i = 0; i < 5; ++i)
    for (int p = 0; p < 6; ++p) values.push_back(2.0 * (8.0 * (i * 6 + p) + 0.3) / 255.0 - 1.0);
  const Tensor images = Tensor::from_vector(values, {5, 1, 2, 3});
  const std::string path = folder / "grid.png";
  write_image_grid(path, images, {.padding = 1, .pad_value = 1.0f});
  const data::Image read = data::decode_image(path);
  // ⌈√5⌉ = 3 columns, 2 rows: height 2·(2 + 1) + 1, width 3·(3 + 1) + 1.
  REQUIRE(read.channels == 1);
  CHECK(read.height == 7);
  CHECK(read.width == 13);
  auto byte = [&](int64_t y, int64_t x) { return std::lround(read.at(y, x, 0) * 255.0f); };
  for (int i = 0; i < 5; ++i)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 3; ++x) {
        const long expected = 8 * (i * 6 + y * 3 + x);
        INFO("image ", i, " pixel ", y, ",", x);
        CHECK(byte(1 + (i / 3) * 3 + y, 1 + (i % 3) * 4 + x) == expected);
      }
  // Padding, and the empty sixth cell, are pad_value (white).
  CHECK(byte(0, 0) == 255);
  CHECK(byte(3, 5) == 255);
  CHECK(byte(5, 10) == 255);

  // Three channels, an explicit column count, the full range mapped to 0 … 255.
  const Tensor colour = Tensor::from_vector({-1.0, 0.0, 1.0, 3.0, -2.0, 0.5}, {2, 3, 1, 1});
  const data::Image grid = image_grid(colour, {.columns = 2, .padding = 0});
  REQUIRE(grid.channels == 3);
  CHECK(grid.height == 1);
  CHECK(grid.width == 2);
  CHECK(grid.at(0, 0, 0) == 0.0f);
  CHECK(grid.at(0, 0, 1) == 0.5f);
  CHECK(grid.at(0, 0, 2) == 1.0f);
  CHECK(grid.at(0, 1, 0) == 1.0f);  // 3 clamped
  CHECK(grid.at(0, 1, 1) == 0.0f);  // −2 clamped
  CHECK(grid.at(0, 1, 2) == 0.75f);

  check_error([&] { image_grid(zeros({2, 2, 4, 4})); }, {"image_grid", "C = 1 or 3", "[2, 2, 4, 4]"});
  check_error([&] { image_grid(zeros({2, 1, 4, 4}), {.value_range = {1.0, 1.0}}); }, {"value_range"});
}
