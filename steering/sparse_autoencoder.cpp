// The convolutional top-k sparse autoencoder (steering/sparse_autoencoder.h): encoding, decoding, the
// decoder normalization, training on the positions of feature maps, and the safetensors file.
#include "steering/sparse_autoencoder.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/adam.h"
#include "engine/random.h"

namespace vireo::steering {

namespace {

void check_map(const Tensor& x, int64_t channels, const char* op) {
  VIREO_CHECK(x.defined() && x.dim() == 4 && x.size(1) == channels, "SparseAutoencoder::", op, ": expects [N, ",
              channels, ", H, W], got ", x.defined() ? describe(x) : "an undefined tensor");
}

int64_t parse_size(const std::string& path, const std::map<std::string, std::string>& metadata, const char* key) {
  auto found = metadata.find(key);
  VIREO_CHECK(found != metadata.end(), path, ": not a Vireo sparse autoencoder (no '", key, "' in __metadata__)");
  try {
    size_t used = 0;
    const long long value = std::stoll(found->second, &used);
    if (used == found->second.size() && value > 0) return value;
  } catch (const std::exception&) {
  }
  fail(path, ": __metadata__ '", key, "' is '", found->second, "', not a positive integer");
}

}  // namespace

SparseAutoencoder::SparseAutoencoder(int64_t channels_in, int64_t features_in, int64_t k_in)
    : channels(channels_in), features(features_in), k(k_in) {
  VIREO_CHECK(channels > 0 && features > 0 && k >= 1 && k <= features, "SparseAutoencoder: needs channels > 0 and 1 <= k <= features, got channels ",
              channels, ", features ", features, ", k ", k);
  encoder = register_module("encoder", std::make_shared<nn::Conv2d>(channels, features, 1));
  decoder = register_module("decoder", std::make_shared<nn::Conv2d>(features, channels, 1));
}

Tensor SparseAutoencoder::encode(const Tensor& h) {
  check_map(h, channels, "encode");
  const Tensor pre_activations = relu((*encoder)(h));
  // Keep the k largest of the F pre-activations at every position: topk along the feature axis, then the
  // kept values scattered back into zeros. The gradient reaches only the kept entries.
  const ValuesIndices kept = topk(pre_activations, k, 1);
  return scatter_add(zeros_like(pre_activations), 1, kept.indices, kept.values);
}

Tensor SparseAutoencoder::decode(const Tensor& z) {
  check_map(z, features, "decode");
  return (*decoder)(z);
}

Tensor SparseAutoencoder::decode_change(const Tensor& change) {
  check_map(change, features, "decode_change");
  // The decoder's 1×1 convolution without its bias: W_dec (z′ − z) at every position.
  return conv2d(change, decoder->weight);
}

Tensor SparseAutoencoder::forward(const Tensor& h) { return decode(encode(h)); }

void SparseAutoencoder::normalize_decoder() {
  NoGrad no_grad;
  // decoder.weight is [C, F, 1, 1]: column f, the direction feature f writes, is weight[:, f].
  const Tensor lengths = clamp(norm(decoder->weight, 2.0, {0}, /*keepdim=*/true), 1e-12, std::nullopt);
  decoder->weight.copy_(decoder->weight / lengths);
}

void SparseAutoencoder::save(const std::string& path, const std::map<std::string, std::string>& extra) const {
  io::SafetensorsMetadata metadata(extra.begin(), extra.end());
  metadata["vireo.format"] = "sparse_autoencoder";
  metadata["channels"] = std::to_string(channels);
  metadata["features"] = std::to_string(features);
  metadata["k"] = std::to_string(k);
  io::save_safetensors(path, state_dict(), metadata);
}

std::shared_ptr<SparseAutoencoder> SparseAutoencoder::load(const std::string& path,
                                                           std::map<std::string, std::string>* metadata) {
  const io::SafetensorsFile file = io::load_safetensors(path);  // refuses a corrupt file, naming the path
  auto format = file.metadata.find("vireo.format");
  VIREO_CHECK(format != file.metadata.end() && format->second == "sparse_autoencoder", path,
              ": not a Vireo sparse autoencoder (vireo.format is '",
              format == file.metadata.end() ? std::string() : format->second, "')");
  auto autoencoder = std::make_shared<SparseAutoencoder>(
      parse_size(path, file.metadata, "channels"), parse_size(path, file.metadata, "features"),
      parse_size(path, file.metadata, "k"));
  try {
    autoencoder->load_state_dict(file.tensors);
  } catch (const Error& error) {
    fail(path, ": ", error.what());
  }
  if (metadata) *metadata = file.metadata;
  return autoencoder;
}

Tensor reconstruction_loss(SparseAutoencoder& autoencoder, const Tensor& h) {
  const Tensor error = h - autoencoder(h);
  const int64_t positions = h.size(0) * h.size(2) * h.size(3);
  return square(error).sum() / static_cast<double>(positions);
}

SparseAutoencoderFit train_sparse_autoencoder(const Tensor& activations, const SparseAutoencoderOptions& options) {
  VIREO_CHECK(activations.defined() && activations.dim() == 4 && activations.numel() > 0,
              "train_sparse_autoencoder: expects activations [N, C, H, W], got ",
              activations.defined() ? describe(activations) : "an undefined tensor");
  VIREO_CHECK(options.expansion >= 1 && options.steps >= 0 && options.batch_size >= 1 && options.learning_rate > 0.0,
              "train_sparse_autoencoder: needs expansion >= 1, steps >= 0, batch_size >= 1 and a positive "
              "learning_rate, got ",
              options.expansion, ", ", options.steps, ", ", options.batch_size, ", ", options.learning_rate);
  const int64_t channels = activations.size(1);
  // Every position is one sample: [N, C, H, W] -> [N·H·W, C, 1, 1].
  const Tensor positions = activations.detach().permute({0, 2, 3, 1}).reshape({-1, channels, 1, 1});
  const int64_t count = positions.size(0);

  Generator generator(options.seed);
  SparseAutoencoderFit fit;
  fit.autoencoder = std::make_shared<SparseAutoencoder>(channels, options.expansion * channels, options.k);
  SparseAutoencoder& autoencoder = *fit.autoencoder;
  autoencoder.to(activations.dtype());
  {
    NoGrad no_grad;
    // Unit decoder columns in random directions, the encoder their transpose, the decoder bias the mean.
    autoencoder.decoder->weight.copy_(randn(autoencoder.decoder->weight.shape(), {.dtype = activations.dtype()}, &generator));
    autoencoder.normalize_decoder();
    autoencoder.encoder->weight.copy_(autoencoder.decoder->weight.permute({1, 0, 2, 3}));
    autoencoder.encoder->bias.copy_(zeros_like(autoencoder.encoder->bias));
    autoencoder.decoder->bias.copy_(positions.mean({0, 2, 3}));
  }
  optim::Adam optimizer(autoencoder.parameters(), {.lr = options.learning_rate});
  const int64_t batch_size = std::min(options.batch_size, count);
  for (int64_t step = 0; step < options.steps; ++step) {
    const Tensor rows = randint(0, count, {batch_size}, {.dtype = DType::i64}, &generator);
    const Tensor loss = reconstruction_loss(autoencoder, index_select(positions, 0, rows));
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    autoencoder.normalize_decoder();
    fit.losses.push_back(loss.item());
  }

  NoGrad no_grad;
  const Tensor codes = autoencoder.encode(positions);
  const Tensor reconstructed = autoencoder.decode(codes);
  const double residual = square(positions - reconstructed).sum().item();
  const double spread = square(positions - positions.mean({0}, /*keepdim=*/true)).sum().item();
  fit.fraction_unexplained = spread > 0.0 ? residual / spread : 0.0;
  const std::vector<double> activity = amax(codes, {0, 2, 3}).to_vector();
  fit.dead_features = std::count_if(activity.begin(), activity.end(), [](double value) { return value <= 0.0; });
  return fit;
}

}  // namespace vireo::steering
