// Normalization layers: BatchNorm1d / BatchNorm2d, LayerNorm, GroupNorm — torch.nn's, with the same
// parameter and buffer names (weight, bias, running_mean, running_var, num_batches_tracked).
#pragma once

#include <functional>
#include <optional>

#include "engine/nn/linear.h"
#include "engine/nn/module.h"

namespace vireo::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  // Weight of the new batch in the running statistics; nullopt: a cumulative moving average (the weight of
  // batch t is 1/t), as PyTorch's momentum=None.
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};

// PyTorch's _BatchNorm, shared by the 1d and 2d layers, which differ only in the input ranks they accept.
//
// Training: normalize with the batch's mean and biased variance and, when tracking, update
//   running = (1 − m)·running + m·batch   (unbiased batch variance; m = momentum or 1/num_batches_tracked).
// Evaluation: normalize with the running statistics when tracking, with the batch's otherwise.
//
// Synchronized (SyncBatchNorm, training/dist/sync_batch_norm.h): with a replica sum set, training uses the
// statistics of the whole batch spread over the replicas of a data-parallel job. With Σ the replica sum
// (differentiable: its backward sums the gradients over the replicas too) and n_r the positions per channel
// on replica r:
//   n = Σ n_r,   μ = Σ(Σ_i x_i) / n,   σ² = Σ(Σ_i (x_i − μ)²) / n,   y = (x − μ)/√(σ² + eps)·weight + bias
// — the same numbers one process computes on the concatenated batch, in two rounds of communication.
class BatchNorm : public Module {
 public:
  // Sums a tensor over the replicas, differentiably; the same on every replica.
  using ReplicaSum = std::function<Tensor(const Tensor&)>;

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;  // running stats to (0, 1, 0 batches), weight 1, bias 0
  void reset_running_stats();
  std::string extra_repr() const override;
  // Makes this layer synchronized (see above); an empty function makes it local again.
  void set_replica_sum(ReplicaSum replica_sum) { replica_sum_ = std::move(replica_sum); }
  bool is_synchronized() const { return static_cast<bool>(replica_sum_); }

  const int64_t num_features;
  const double eps;
  const std::optional<double> momentum;
  const bool affine, track_running_stats;
  Tensor weight, bias;                                       // [C], when affine
  Tensor running_mean, running_var, num_batches_tracked;  // [C], [C], i64 scalar, when tracking

 protected:
  BatchNorm(const char* layer, int64_t num_features, BatchNormOptions options);
  virtual void check_input(const Tensor& x) const = 0;

 private:
  // Training-mode forward with statistics over every replica, updating the running ones with `update_weight`.
  Tensor forward_synchronized(const Tensor& x, double update_weight);

  ReplicaSum replica_sum_;
};

// Over [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, BatchNormOptions options = {});

 protected:
  void check_input(const Tensor& x) const override;
};

// Over [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, BatchNormOptions options = {});

 protected:
  void check_input(const Tensor& x) const override;
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;  // only with elementwise_affine
};

// Normalizes over the trailing dimensions `normalized_shape`: y = (x − mean)/√(var + eps)·weight + bias.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t normalized_size, LayerNormOptions options = {});
  explicit LayerNorm(Shape normalized_shape, LayerNormOptions options = {});

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;
  std::string extra_repr() const override;

  // Memory-sharing mode (MS-LayerNorm, METHODS.md §3) for a layer whose output is read by the Linear
  // `next` alone: folds the affine into it, W′ = W·diag(γ), b′ = b + W·β, leaves γ = 1, β = 0 frozen
  // (requires_grad off; the names stay, so a checkpoint loads into the plain model and back), and from then
  // on normalizes with ms_layer_norm, whose saved output is the Linear's saved input. A γ or β written later
  // (a plain checkpoint loaded into the model, with its unfolded W and b) is folded again at the next forward.
  void share_memory_with(const std::shared_ptr<Linear>& next);
  bool shares_memory() const { return memory_sharing_; }

  const Shape normalized_shape;
  const double eps;
  const bool elementwise_affine;
  Tensor weight, bias;

 private:
  void fold_affine();  // into the Linear, when γ or β changed since the last fold

  bool memory_sharing_ = false;
  std::weak_ptr<Linear> folded_into_;
  uint64_t folded_weight_version_ = 0, folded_bias_version_ = 0;
};

struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;
};

// Normalizes each of `num_groups` channel groups of each sample over its channels and positions.
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions options = {});

  using Module::forward;
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;
  std::string extra_repr() const override;

  const int64_t num_groups, num_channels;
  const double eps;
  const bool affine;
  Tensor weight, bias;
};

}  // namespace vireo::nn
