// The two-layer MLP head (see heads.h).
#include "ssl/heads.h"

#include "engine/error.h"

namespace vireo::ssl {

std::shared_ptr<nn::MLP> mlp_head(int64_t in_features, MlpHeadOptions options) {
  VIREO_CHECK(in_features > 0, "mlp_head: in_features must be positive, got ", in_features);
  VIREO_CHECK(options.hidden_features > 0, "mlp_head: hidden_features must be positive, got ", options.hidden_features);
  VIREO_CHECK(options.out_features > 0, "mlp_head: out_features must be positive, got ", options.out_features);
  return std::make_shared<nn::MLP>(in_features, std::vector<int64_t>{options.hidden_features, options.out_features},
                                   nn::MLPOptions{.norm = nn::MLPNorm::batch});
}

}  // namespace vireo::ssl
