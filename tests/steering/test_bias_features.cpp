// Diffusion bias features: the convolutional top-k sparse autoencoder (top-k by hand, gradient check in
// f64, unit decoder columns, training, the file), the decode-only-the-change identity on a UNet (no edit:
// the output bit for bit; an edit: exactly the decoded change), the recorder and the edit under a chunked
// sampler, the per-timestep probe, integrated gradients against a hand computation and their completeness,
// locating a planted feature, and the balancing draw.
#include "steering/bias_features.h"

#include <cmath>

#include "engine/test_safetensors_helpers.h"
#include "models/unet.h"
#include "steering_test_models.h"
#include "training/diffusion/ddim_sampler.h"
#include "training/diffusion/noise_predictor.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::identical;
using vireo::testing::random_normal;

namespace {

// A UNet small enough for a test: 8×8 images, widths 8/16, bottleneck [B, 16, 4, 4].
std::shared_ptr<models::UNet> tiny_unet(uint64_t seed) {
  manual_seed(seed);
  auto unet = models::ddpm_unet(
      {.base_channels = 8, .channel_multipliers = {1, 2}, .num_res_blocks = 1, .attention_levels = {}, .groups = 4});
  unet->eval();
  return unet;
}

Tensor run_unet(models::UNet& unet, const Tensor& x, int64_t t) {
  NoGrad no_grad;
  return unet(x, full({x.size(0)}, static_cast<double>(t), {.dtype = DType::i64}));
}

// An autoencoder with given weights: encoder [F, C], decoder [C, F] as 1×1 convolutions, biases zero.
std::shared_ptr<SparseAutoencoder> autoencoder_with(int64_t channels, int64_t features, int64_t k,
                                                    const std::vector<double>& encoder,
                                                    const std::vector<double>& decoder) {
  auto autoencoder = std::make_shared<SparseAutoencoder>(channels, features, k);
  NoGrad no_grad;
  autoencoder->encoder->weight.copy_(Tensor::from_vector(encoder, {features, channels, 1, 1}));
  autoencoder->decoder->weight.copy_(Tensor::from_vector(decoder, {channels, features, 1, 1}));
  autoencoder->encoder->bias.copy_(zeros({features}));
  autoencoder->decoder->bias.copy_(zeros({channels}));
  return autoencoder;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

}  // namespace

// ---- the sparse autoencoder ----

TEST_CASE("the encoder keeps the k largest positive pre-activations at every position") {
  // C = 2, F = 4, k = 2; W_enc rows (1, 0), (0, 1), (−1, −1), (0.5, 0.5); W_dec = [I | I].
  auto autoencoder = autoencoder_with(2, 4, 2, {1, 0, 0, 1, -1, -1, 0.5, 0.5}, {1, 0, 1, 0, 0, 1, 0, 1});
  // Two positions, h = (1, 2) and (−1, 0.5): pre-activations (1, 2, −3, 1.5) and (−1, 0.5, 0.5, −0.25).
  const Tensor h = Tensor::from_vector({1, -1, 2, 0.5}, {1, 2, 1, 2});
  NoGrad no_grad;
  const Tensor z = autoencoder->encode(h);
  // Position 0 keeps features 1 (2) and 3 (1.5); position 1 keeps 1 and 2 (0.5 each); the rest is 0.
  check_close(z, {0, 0, 2, 0.5, 0, 0.5, 1.5, 0});
  // Decoding adds the columns: channel 0 = z_0 + z_2, channel 1 = z_1 + z_3.
  check_close(autoencoder->decode(z), {0, 0.5, 3.5, 0.5});
}

TEST_CASE("gradcheck: the sparse autoencoder reconstruction loss in the weights and the input") {
  manual_seed(3);
  SparseAutoencoder autoencoder(3, 6, 2);
  autoencoder.to(DType::f64);
  Tensor h = random_normal({2, 3, 2, 2}, 4).to(DType::f64).requires_grad_();
  std::vector<Tensor> inputs{h, autoencoder.encoder->weight, autoencoder.encoder->bias, autoencoder.decoder->weight,
                             autoencoder.decoder->bias};
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return reconstruction_loss(autoencoder, in[0]); }, inputs);
}

TEST_CASE("training the sparse autoencoder lowers the loss and keeps unit decoder columns") {
  // Activations built from 4 directions in 6 channels, 1 or 2 active per position: a dictionary of 12
  // features with k = 2 can explain most of them.
  const Tensor directions = random_normal({4, 6}, 21);
  const Tensor weights = clamp(random_normal({64, 4}, 22), 0.0, std::nullopt);
  const Tensor activations = matmul(weights, directions).reshape({16, 2, 2, 6}).permute({0, 3, 1, 2}).contiguous();
  const SparseAutoencoderFit fit =
      train_sparse_autoencoder(activations, {.expansion = 2, .k = 2, .steps = 300, .batch_size = 32, .learning_rate = 1e-2});
  REQUIRE(fit.losses.size() == 300u);
  CHECK(fit.losses.back() < 0.5 * fit.losses.front());
  CHECK(fit.fraction_unexplained < 0.5);
  CHECK(fit.dead_features >= 0);
  CHECK(fit.dead_features < 12);
  const std::vector<double> lengths = norm(fit.autoencoder->decoder->weight, 2.0, {0}).to_vector();
  for (double length : lengths) CHECK(length == doctest::Approx(1.0).epsilon(1e-5));
  // The same seed gives the same curve.
  const SparseAutoencoderFit again =
      train_sparse_autoencoder(activations, {.expansion = 2, .k = 2, .steps = 300, .batch_size = 32, .learning_rate = 1e-2});
  CHECK(again.losses == fit.losses);
}

TEST_CASE("a sparse autoencoder file round-trips and a foreign file is refused") {
  vireo::testing::ScratchDirectory folder;
  manual_seed(5);
  SparseAutoencoder autoencoder(4, 8, 3);
  const std::string path = folder.file("sae.safetensors");
  autoencoder.save(path, {{"point", "middle_block2"}});
  std::map<std::string, std::string> metadata;
  auto loaded = SparseAutoencoder::load(path, &metadata);
  CHECK(loaded->k == 3);
  CHECK(loaded->features == 8);
  CHECK(metadata.at("point") == "middle_block2");
  CHECK(identical(loaded->decoder->weight, autoencoder.decoder->weight));
  CHECK(identical(loaded->encoder->bias, autoencoder.encoder->bias));
  const std::string foreign = folder.file("foreign.safetensors");
  io::save_safetensors(foreign, {{"x", zeros({2})}}, {{"vireo.format", "intervention"}});
  check_error([&] { SparseAutoencoder::load(foreign); }, {"foreign.safetensors", "not a Vireo sparse autoencoder"});
}

// ---- decode only the change ----

TEST_CASE("decode-only-the-change with no edit leaves the UNet output bit-identical") {
  auto unet = tiny_unet(7);
  const Tensor x = random_normal({3, 1, 8, 8}, 8);
  const Tensor clean = run_unet(*unet, x, 5);
  manual_seed(9);
  auto autoencoder = std::make_shared<SparseAutoencoder>(16, 32, 4);
  FeatureEdit no_edit{ones({3, 32}), zeros({3, 32})};
  auto attached = attach_feature_edit(*unet, autoencoder, no_edit);
  CHECK(identical(run_unet(*unet, x, 5), clean));
  // An identity edit of real features (scale 1 on a class's features) is still no change at all.
  BiasFeatures located{{{0, 1, 2}, {3, 4, 5}}, {{1, 1, 1}, {1, 1, 1}}, 32, 0, 100};
  auto identity = attach_feature_edit(*unet, autoencoder, class_feature_edit(located, {0, 1, -1}, 1.0));
  CHECK(identical(run_unet(*unet, x, 5), clean));
  identity.detach();
  attached.detach();
  CHECK(identical(run_unet(*unet, x, 5), clean));
}

TEST_CASE("an edit adds exactly the decoded change of the codes at the bottleneck") {
  // C = 2, F = 2, k = 2, W_enc = I, W_dec columns (1, 0) and (0.6, 0.8); h at one position (2, 1).
  auto autoencoder = autoencoder_with(2, 2, 2, {1, 0, 0, 1}, {1, 0.6, 0, 0.8});
  const Tensor h = Tensor::from_vector({2, 1}, {1, 2, 1, 1});
  // z = (2, 1); feature 1 scaled by 3 and shifted by 0.5: z′ − z = (0, 2·1 + 0.5) = (0, 2.5), so
  // h ← h + 2.5·(0.6, 0.8) = (3.5, 3).
  const FeatureEdit edit{Tensor::from_vector({1, 3}, {1, 2}), Tensor::from_vector({0, 0.5}, {1, 2})};
  NoGrad no_grad;
  check_close(edit_bottleneck(*autoencoder, h, edit, 0), {3.5, 3.0});
  check_error([&] { edit_bottleneck(*autoencoder, h, edit, 1); }, {"edit_bottleneck", "rows [1, 2)"});
}

TEST_CASE("the recorder and the edit follow the samples through a chunked sampler") {
  auto unet = tiny_unet(11);
  const diffusion::NoiseSchedule schedule = diffusion::NoiseSchedule::linear(20, 1e-3, 0.2);
  auto sample = [&](int64_t batch_size) {
    Generator generator(12);
    return diffusion::ddim_sample(diffusion::noise_predictor(*unet), schedule, {5, 1, 8, 8}, generator,
                                  {.steps = 4, .batch_size = batch_size});
  };
  std::map<int64_t, Tensor> whole, chunked;
  {
    BottleneckRecorder recorder(*unet);
    sample(0);
    whole = recorder.activations();
  }
  {
    BottleneckRecorder recorder(*unet);
    sample(2);  // chunks of 2, 2, 1
    chunked = recorder.activations();
  }
  REQUIRE(whole.size() == 4u);
  CHECK(whole.begin()->first == 0);
  CHECK(whole.rbegin()->first == 15);
  for (const auto& [t, h] : whole) {
    CHECK(h.shape() == Shape{5, 16, 4, 4});
    check_close(chunked.at(t), h.to_vector(), 1e-5);
  }
  // Each sample gets its own edit, whatever the chunking: sample 3 alone edited, the others as before.
  manual_seed(13);
  auto autoencoder = std::make_shared<SparseAutoencoder>(16, 32, 4);
  std::vector<double> shift(5 * 32, 0.0);
  for (int64_t feature = 0; feature < 32; ++feature) shift[3 * 32 + feature] = 2.0;
  const FeatureEdit edit{ones({5, 32}), Tensor::from_vector(shift, {5, 32})};
  const Tensor clean = sample(0);
  Tensor edited_whole, edited_chunked;
  {
    auto attached = attach_feature_edit(*unet, autoencoder, edit);
    edited_whole = sample(0);
    edited_chunked = sample(2);
  }
  check_close(edited_chunked, edited_whole.to_vector(), 1e-5);
  for (int64_t i = 0; i < 5; ++i) {
    const double change = amax(abs(edited_whole.select(0, i) - clean.select(0, i))).item();
    if (i == 3)
      CHECK(change > 1e-3);
    else
      CHECK(change == 0.0);
  }
}

// ---- the probe, attribution and locating ----

TEST_CASE("the timestep probe separates two classes and answers with the nearest timestep") {
  // Class 1 raises channel 0 at every position; at t = 10 the shift is large, at t = 0 there is none.
  const int64_t count = 40;
  std::vector<double> label_values;
  for (int64_t i = 0; i < count; ++i) label_values.push_back(static_cast<double>(i % 2));
  const Tensor labels = Tensor::from_vector(label_values, {count}, {.dtype = DType::i64});
  const Tensor signal = labels.to(DType::f32).reshape({count, 1, 1, 1}) *
                        Tensor::from_vector({3, 0}, {1, 2, 1, 1});
  const std::map<int64_t, Tensor> activations{{0, random_normal({count, 2, 2, 2}, 31)},
                                              {10, random_normal({count, 2, 2, 2}, 32) + signal}};
  const TimestepProbe probe = train_timestep_probe(activations, labels, 2, {.epochs = 40, .learning_rate = 1e-2});
  REQUIRE(probe.timesteps == std::vector<int64_t>{0, 10});
  CHECK(probe.accuracy[1] == 1.0);
  CHECK(probe.nearest(3) == 0);
  CHECK(probe.nearest(8) == 1);
  // The folded probe classifies what it was trained on from raw activations.
  NoGrad no_grad;
  const std::vector<double> predicted = argmax(probe.logits(9, activations.at(10)), 1).to_vector();
  CHECK(predicted == label_values);

  vireo::testing::ScratchDirectory folder;
  probe.save(folder.file("probe.safetensors"));
  const TimestepProbe loaded = TimestepProbe::load(folder.file("probe.safetensors"));
  CHECK(loaded.timesteps == probe.timesteps);
  CHECK(loaded.accuracy == probe.accuracy);
  CHECK(identical(loaded.weights[1], probe.weights[1]));
}

TEST_CASE("integrated gradients match a hand computation and are complete") {
  // C = 2, F = 3, one position; W_dec columns (1, 0), (0, 1), (1, 1). Logits (0, d) with
  // d(h) = 2h_0 − h_1 + 0.5, so p_1 = σ(d) and, along the path αz, d(αz) = 0.5 + α·(g·z) with
  // g = ∂d/∂z = (2, −1, 1): IG_f = z_f g_f (1/M) Σ_i σ′(0.5 + (i/M)·g·z).
  auto autoencoder = autoencoder_with(2, 3, 3, {1, 0, 0, 1, 1, 1}, {1, 0, 1, 0, 1, 1});
  const BottleneckClassifier classifier = [](const Tensor& h) {
    const Tensor flat = h.flatten(1);
    const Tensor d = flat.select(1, 0) * 2.0 - flat.select(1, 1) + 0.5;
    return stack({zeros_like(d), d}, 1);
  };
  const std::vector<double> z{0.5, 1.0, 0.25}, g{2, -1, 1};
  const Tensor codes = Tensor::from_vector(z, {1, 3, 1, 1});
  const int64_t steps = 8;
  const double gz = z[0] * g[0] + z[1] * g[1] + z[2] * g[2];
  double average_slope = 0.0;
  for (int64_t i = 0; i < steps; ++i) {
    const double s = sigmoid(0.5 + gz * static_cast<double>(i) / steps);
    average_slope += s * (1.0 - s) / steps;
  }
  check_close(integrated_gradients(*autoencoder, classifier, codes, 1, steps),
              {z[0] * g[0] * average_slope, z[1] * g[1] * average_slope, z[2] * g[2] * average_slope});
  // Completeness: with many steps the attributions add up to p_1(Dec(z)) − p_1(Dec(0)).
  const double total = integrated_gradients(*autoencoder, classifier, codes, 1, 400).sum().item();
  CHECK(total == doctest::Approx(sigmoid(0.5 + gz) - sigmoid(0.5)).epsilon(1e-2));
}

TEST_CASE("locating finds the feature a probe reads for each class") {
  // F = 4 features in C = 4 channels (W_enc = W_dec = I, k = 4). The probe says class 1 when channel 2 is
  // high and class 0 when channel 0 is high; samples of each class carry their channel.
  std::vector<double> identity(16, 0.0);
  for (int64_t i = 0; i < 4; ++i) identity[static_cast<size_t>(i * 5)] = 1.0;
  auto autoencoder = autoencoder_with(4, 4, 4, identity, identity);
  TimestepProbe probe;
  probe.classes = 2;
  probe.timesteps = {0};
  probe.accuracy = {1.0};
  probe.weights = {Tensor::from_vector({2, 0, -2, 0, -2, 0, 2, 0}, {2, 4})};
  probe.biases = {zeros({2})};
  const Tensor labels = Tensor::from_vector({0, 1, 0, 1}, {4}, {.dtype = DType::i64});
  const Tensor h = Tensor::from_vector({1, 0.2, 0, 0.3, 0, 0.2, 1, 0.3, 2, 0.1, 0, 0.1, 0, 0.1, 2, 0.1}, {4, 4, 1, 1});
  const BiasFeatures located = locate_bias_features(*autoencoder, probe, {{0, h}}, labels, {.top = 2, .steps = 8});
  REQUIRE(located.classes() == 2);
  CHECK(located.features[0][0] == 0);
  CHECK(located.features[1][0] == 2);
  CHECK(located.scores[0][0] > 0.0);
  CHECK(located.scores[0][0] >= located.scores[0][1]);

  vireo::testing::ScratchDirectory folder;
  located.save(folder.file("features.safetensors"));
  const BiasFeatures loaded = BiasFeatures::load(folder.file("features.safetensors"));
  CHECK(loaded.features == located.features);
  CHECK(loaded.dictionary_size == 4);
  check_error([&] { locate_bias_features(*autoencoder, probe, {{0, h}}, labels, {.first_timestep = 5, .last_timestep = 9}); },
              {"locate_bias_features", "no recorded timestep"});
}

// ---- balancing ----

TEST_CASE("balancing draws classes with the requested proportions and edits only their features") {
  Generator generator(41);
  const std::vector<int64_t> classes = draw_classes({0.1, 0.3, 0.6}, 20000, generator);
  std::vector<double> counts(3, 0.0);
  for (int64_t c : classes) counts[static_cast<size_t>(c)] += 1.0 / 20000.0;
  CHECK(counts[0] == doctest::Approx(0.1).epsilon(0.1));
  CHECK(counts[1] == doctest::Approx(0.3).epsilon(0.05));
  CHECK(counts[2] == doctest::Approx(0.6).epsilon(0.05));
  Generator same(41);
  CHECK(draw_classes({0.1, 0.3, 0.6}, 20000, same) == classes);
  check_error([&] { draw_classes({0.5, 0.6}, 4, generator); }, {"draw_classes", "sum to 1"});

  const BiasFeatures located{{{1}, {2}}, {{1.0}, {1.0}}, 4, 0, 9};
  const FeatureEdit edit = class_feature_edit(located, {1, -1, 0}, 3.0, 0.5);
  check_close(edit.scale, {1, 1, 3, 1, 1, 1, 1, 1, 1, 3, 1, 1});
  check_close(edit.shift, {0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0.5, 0, 0});
  CHECK(edit.last_timestep == 9);
}
