// Dropout (engine/nn/dropout.h): the mask comes from the engine's default generator, so manual_seed
// reproduces it.
#include "engine/nn/dropout.h"

#include "engine/nn/repr.h"
#include "engine/ops/normalization.h"

namespace vireo::nn {

Dropout::Dropout(double p) : p(p) {
  VIREO_CHECK(p >= 0.0 && p <= 1.0, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training()); }

std::string Dropout::extra_repr() const { return "p=" + repr_float(p) + ", inplace=False"; }

}  // namespace vireo::nn
