// MLP (engine/nn/mlp.h), built layer by layer in torchvision's order.
#include "engine/nn/mlp.h"

#include "engine/nn/dropout.h"
#include "engine/nn/linear.h"
#include "engine/nn/normalization.h"

namespace vireo::nn {

MLP::MLP(int64_t in_channels, const std::vector<int64_t>& hidden_channels, MLPOptions options) {
  VIREO_CHECK(!hidden_channels.empty(), "MLP: hidden_channels is empty; it needs at least the output width");
  VIREO_CHECK(options.activation != nullptr, "MLP: the activation factory is empty");
  int64_t width = in_channels;
  for (size_t i = 0; i + 1 < hidden_channels.size(); ++i) {
    const int64_t hidden = hidden_channels[i];
    push_back(std::make_shared<Linear>(width, hidden, LinearOptions{.bias = options.bias}));
    if (options.norm == MLPNorm::batch) push_back(std::make_shared<BatchNorm1d>(hidden));
    if (options.norm == MLPNorm::layer) push_back(std::make_shared<LayerNorm>(hidden));
    push_back(options.activation());
    push_back(std::make_shared<Dropout>(options.dropout));
    width = hidden;
  }
  push_back(std::make_shared<Linear>(width, hidden_channels.back(), LinearOptions{.bias = options.bias}));
  push_back(std::make_shared<Dropout>(options.dropout));
}

}  // namespace vireo::nn
