// Normalization layers (engine/nn/normalization.h) over the engine's fused batch_norm / layer_norm /
// group_norm ops; what the layers add is PyTorch's bookkeeping around them (modes, momentum schedules).
#include "engine/nn/normalization.h"

#include "engine/autograd.h"
#include "engine/nn/init.h"
#include "engine/nn/repr.h"
#include "engine/ops/creation.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linalg.h"
#include "engine/ops/normalization.h"
#include "engine/ops/reduction.h"
#include "engine/ops/shape.h"

namespace vireo::nn {
namespace {

// counter += 1 for the i64 scalar num_batches_tracked; returns the new count. On the CPU the count is
// bumped through its pointer, so a training step allocates nothing for it.
int64_t count_batch(const Tensor& counter) {
  NoGrad no_grad;
  if (counter.device().is_cpu()) {
    int64_t& count = *counter.data<int64_t>();
    ++count;
    counter.storage()->bump_version();
    return count;
  }
  const int64_t count = static_cast<int64_t>(counter.item()) + 1;
  Tensor target = counter;
  target.fill_(static_cast<double>(count));
  return count;
}

}  // namespace

// ---- BatchNorm ----

BatchNorm::BatchNorm(const char* layer, int64_t num_features, BatchNormOptions options)
    : num_features(num_features), eps(options.eps), momentum(options.momentum), affine(options.affine),
      track_running_stats(options.track_running_stats) {
  VIREO_CHECK(num_features > 0, layer, ": num_features must be positive, got ", num_features);
  VIREO_CHECK(eps > 0.0, layer, ": eps must be positive, got ", eps);
  VIREO_CHECK(!momentum || (*momentum >= 0.0 && *momentum <= 1.0), layer, ": momentum must be in [0, 1], got ",
              momentum.value_or(0.0));
  if (affine) {
    weight = register_parameter("weight", empty({num_features}));
    bias = register_parameter("bias", empty({num_features}));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", scalar_tensor(0, {.dtype = DType::i64}));
  }
  reset_parameters();
}

void BatchNorm::reset_running_stats() {
  if (!track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  init::zeros_(num_batches_tracked);
}

void BatchNorm::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

Tensor BatchNorm::forward(const Tensor& x) {
  check_input(x);
  double update_weight = momentum.value_or(0.0);
  if (is_training() && track_running_stats) {
    const int64_t batches = count_batch(num_batches_tracked);
    if (!momentum) update_weight = 1.0 / static_cast<double>(batches);  // cumulative moving average
  }
  if (is_training() && replica_sum_) return forward_synchronized(x, update_weight);
  // Without running statistics there is nothing else to normalize with, so evaluation uses the batch's.
  const bool use_batch_statistics = is_training() || !track_running_stats;
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch_statistics, update_weight, eps);
}

Tensor BatchNorm::forward_synchronized(const Tensor& x, double update_weight) {
  std::vector<int64_t> reduced = {0};  // every dimension but the channels
  Shape statistics_shape(static_cast<size_t>(x.dim()), 1);
  statistics_shape[1] = num_features;
  for (int64_t d = 2; d < x.dim(); ++d) reduced.push_back(d);
  const double local_count = static_cast<double>(x.numel() / num_features);
  // Round 1: the per-channel sums and the position count, in one message.
  const Tensor sums = replica_sum_(cat({sum(x, reduced), full({1}, local_count, x.options())}));
  const double count = slice(sums, 0, num_features, num_features + 1).item();
  VIREO_CHECK(count > 0.0, type_name(), ": the replicas' batches are all empty");
  const Tensor batch_mean = mul(slice(sums, 0, 0, num_features), 1.0 / count);
  const Tensor centered = sub(x, reshape(batch_mean, statistics_shape));
  // Round 2: the per-channel sums of squared deviations (two passes: no cancellation in E[x²] − E[x]²).
  const Tensor batch_var = mul(replica_sum_(sum(square(centered), reduced)), 1.0 / count);
  Tensor y = mul(centered, reshape(rsqrt(add(batch_var, eps)), statistics_shape));
  if (affine) y = add(mul(y, reshape(weight, statistics_shape)), reshape(bias, statistics_shape));
  if (track_running_stats) {
    NoGrad no_grad;
    // running ← (1 − m)·running + m·batch, with the unbiased variance σ²·n/(n − 1) as PyTorch.
    const double unbiased = count > 1.0 ? count / (count - 1.0) : 1.0;
    running_mean.mul_(1.0 - update_weight).add_(batch_mean.detach(), update_weight);
    running_var.mul_(1.0 - update_weight).add_(batch_var.detach(), update_weight * unbiased);
  }
  return y;
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + repr_float(eps) +
         ", momentum=" + (momentum ? repr_float(*momentum) : std::string("None")) + ", affine=" + repr_bool(affine) +
         ", track_running_stats=" + repr_bool(track_running_stats);
}

BatchNorm1d::BatchNorm1d(int64_t num_features, BatchNormOptions options)
    : BatchNorm("BatchNorm1d", num_features, options) {}

void BatchNorm1d::check_input(const Tensor& x) const {
  VIREO_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 3) && x.size(1) == num_features,
              "BatchNorm1d: expects an input [N, ", num_features, "] or [N, ", num_features, ", L], got ",
              describe(x));
}

BatchNorm2d::BatchNorm2d(int64_t num_features, BatchNormOptions options)
    : BatchNorm("BatchNorm2d", num_features, options) {}

void BatchNorm2d::check_input(const Tensor& x) const {
  VIREO_CHECK(x.defined() && x.dim() == 4 && x.size(1) == num_features, "BatchNorm2d: expects an input [N, ",
              num_features, ", H, W], got ", describe(x));
}

// ---- LayerNorm ----

LayerNorm::LayerNorm(int64_t normalized_size, LayerNormOptions options)
    : LayerNorm(Shape{normalized_size}, options) {}

LayerNorm::LayerNorm(Shape normalized_shape, LayerNormOptions options)
    : normalized_shape(std::move(normalized_shape)), eps(options.eps), elementwise_affine(options.elementwise_affine) {
  VIREO_CHECK(!this->normalized_shape.empty(), "LayerNorm: normalized_shape is empty");
  for (int64_t extent : this->normalized_shape)
    VIREO_CHECK(extent > 0, "LayerNorm: normalized_shape ", this->normalized_shape, " has a non-positive extent");
  if (elementwise_affine) {
    weight = register_parameter("weight", empty(this->normalized_shape));
    if (options.bias) bias = register_parameter("bias", empty(this->normalized_shape));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& x) {
  const int64_t trailing = static_cast<int64_t>(normalized_shape.size());
  VIREO_CHECK(x.defined() && x.dim() >= trailing &&
                  Shape(x.shape().end() - trailing, x.shape().end()) == normalized_shape,
              "LayerNorm: expects an input whose trailing shape is ", normalized_shape, ", got ", describe(x));
  if (memory_sharing_) {
    fold_affine();
    return ms_layer_norm(x, eps);
  }
  return layer_norm(x, normalized_shape, weight, bias, eps);
}

void LayerNorm::share_memory_with(const std::shared_ptr<Linear>& next) {
  VIREO_CHECK(next != nullptr, "LayerNorm.share_memory_with: the next Linear is null");
  VIREO_CHECK(normalized_shape.size() == 1 && next->in_features == normalized_shape[0],
              "LayerNorm.share_memory_with: normalized_shape ", normalized_shape, " does not match the Linear's ",
              next->in_features, " input features");
  VIREO_CHECK(!bias.defined() || next->bias.defined(),
              "LayerNorm.share_memory_with: the LayerNorm's bias cannot be folded into a Linear without bias");
  memory_sharing_ = true;
  folded_into_ = next;
  if (weight.defined()) weight.requires_grad_(false);
  if (bias.defined()) bias.requires_grad_(false);
  // Versions that no weight can have yet, so the first fold always runs.
  folded_weight_version_ = folded_bias_version_ = ~uint64_t{0};
  fold_affine();
}

void LayerNorm::fold_affine() {
  const bool weight_changed = weight.defined() && weight.version() != folded_weight_version_;
  const bool bias_changed = bias.defined() && bias.version() != folded_bias_version_;
  if (!weight_changed && !bias_changed) return;
  const std::shared_ptr<Linear> next = folded_into_.lock();
  VIREO_CHECK(next != nullptr, "LayerNorm: the Linear it shares memory with no longer exists");
  NoGrad no_grad;
  const int64_t width = normalized_shape[0];
  // b′ = b + W·β first (with the W of before the fold), then W′ = W·diag(γ).
  if (bias.defined()) next->bias.copy_(add(next->bias, matmul(next->weight, bias.view({width, 1})).view({-1})));
  if (weight.defined()) next->weight.copy_(mul(next->weight, weight.view({1, width})));
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.zero_();
  folded_weight_version_ = weight.defined() ? weight.version() : 0;
  folded_bias_version_ = bias.defined() ? bias.version() : 0;
}

std::string LayerNorm::extra_repr() const {
  return repr_tuple(normalized_shape) + ", eps=" + repr_float(eps) +
         ", elementwise_affine=" + repr_bool(elementwise_affine) + (memory_sharing_ ? ", memory_sharing=True" : "");
}

// ---- GroupNorm ----

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, GroupNormOptions options)
    : num_groups(num_groups), num_channels(num_channels), eps(options.eps), affine(options.affine) {
  VIREO_CHECK(num_groups > 0 && num_channels > 0 && num_channels % num_groups == 0, "GroupNorm: num_channels ",
              num_channels, " must be a positive multiple of num_groups ", num_groups);
  if (affine) {
    weight = register_parameter("weight", empty({num_channels}));
    bias = register_parameter("bias", empty({num_channels}));
  }
  reset_parameters();
}

void GroupNorm::reset_parameters() {
  if (!affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor GroupNorm::forward(const Tensor& x) {
  VIREO_CHECK(x.defined() && x.dim() >= 2 && x.size(1) == num_channels, "GroupNorm: expects an input [N, ",
              num_channels, ", ...], got ", describe(x));
  return group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(num_groups) + ", " + std::to_string(num_channels) + ", eps=" + repr_float(eps) +
         ", affine=" + repr_bool(affine);
}

}  // namespace vireo::nn
