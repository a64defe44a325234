// A convolutional top-k sparse autoencoder (Gao et al. 2024, "Scaling and evaluating sparse autoencoders",
// applied to a UNet's bottleneck as in METHODS.md §2 "Diffusion bias features"): a dictionary of F features
// for the C-channel vectors found at every position of a feature map.
//
//   z  = TopK_k(ReLU(Conv_enc(h)))   Conv_enc: 1×1, C → F; at every position only the k largest stay
//   ĥ  = Conv_dec(z)                 Conv_dec: 1×1, F → C, its columns W_dec[:, f] of unit length
//   L  = mean over positions of ‖h − ĥ‖²   (the squared error summed over channels)
//
// "Convolutional" is the 1×1 kernel: the same encoder and decoder at every position, so a feature is a
// direction in channel space that may light up anywhere in the map. The top-k is per position: each
// position is described by at most k features (fewer where fewer than k pre-activations are positive).
//
// Training (train_sparse_autoencoder): Adam on random batches of positions; after every step the decoder
// columns are put back to unit length, so that a feature's size lives in z alone (|z_f| is then how much
// of direction f the position holds, and features compare by their activations). Initialization as Gao et
// al.: random unit decoder columns, the encoder their transpose, the decoder bias the data's channel mean.
// Not implemented: their AuxK loss for dead features; dead features are counted and reported instead.
//
// Editing through the dictionary (steering/bias_features.h) decodes only a change of z:
//   Dec(z′) − Dec(z) = W_dec (z′ − z)    (the bias cancels), computed by decode_change(z′ − z),
// so the autoencoder's reconstruction error never enters an edited activation.
//
// File format: safetensors (engine/io) with the module's state dict (encoder.weight [F, C, 1, 1],
// encoder.bias [F], decoder.weight [C, F, 1, 1], decoder.bias [C]) and "__metadata__" holding
// "vireo.format" = "sparse_autoencoder", "channels", "features", "k" and any extra entries the caller
// gives (the point it was trained at, …). Written atomically.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/conv.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace vireo::steering {

class SparseAutoencoder : public nn::Module {
 public:
  // channels C, features F (≥ k), k ≥ 1 features kept per position.
  SparseAutoencoder(int64_t channels, int64_t features, int64_t k);

  // h [N, C, H, W] -> z [N, F, H, W], at most k non-zero entries per position, all ≥ 0.
  Tensor encode(const Tensor& h);
  // z [N, F, H, W] -> ĥ [N, C, H, W].
  Tensor decode(const Tensor& z);
  // W_dec · change without the bias: Dec(z′) − Dec(z) for change = z′ − z.
  Tensor decode_change(const Tensor& change);
  using nn::Module::forward;
  Tensor forward(const Tensor& h) override;  // decode(encode(h))

  // W_dec[:, f] ← W_dec[:, f] / ‖W_dec[:, f]‖ for every feature f (in place, without gradient).
  void normalize_decoder();

  // Atomic write of the weights and the metadata above (+ `extra`); load refuses a file that is not a
  // sparse autoencoder or is corrupt, naming the path.
  void save(const std::string& path, const std::map<std::string, std::string>& extra = {}) const;
  static std::shared_ptr<SparseAutoencoder> load(const std::string& path,
                                                 std::map<std::string, std::string>* metadata = nullptr);

  const int64_t channels, features, k;
  std::shared_ptr<nn::Conv2d> encoder, decoder;
};

struct SparseAutoencoderOptions {
  int64_t expansion = 4;         // F = expansion · C
  int64_t k = 8;                 // features kept per position
  int64_t steps = 2000;
  int64_t batch_size = 1024;     // positions per step
  double learning_rate = 1e-3;   // Adam
  uint64_t seed = 0;             // initialization and batches
};

struct SparseAutoencoderFit {
  std::shared_ptr<SparseAutoencoder> autoencoder;
  std::vector<double> losses;         // per step
  double fraction_unexplained = 0.0;  // ‖h − ĥ‖² / ‖h − mean(h)‖² over every position given
  int64_t dead_features = 0;          // features active at no position given
};

// Trains on the positions of `activations` [N, C, H, W] (every position of every map is one sample).
SparseAutoencoderFit train_sparse_autoencoder(const Tensor& activations, const SparseAutoencoderOptions& options = {});

// The reconstruction loss above for a batch of maps: a 0-d tensor, differentiable in the weights and in h.
Tensor reconstruction_loss(SparseAutoencoder& autoencoder, const Tensor& h);

}  // namespace vireo::steering
