// nn's functional spellings: the engine's stateless ops under vireo::nn, so that code ported from PyTorch
// can write nn::cross_entropy(logits, labels) or nn::gelu(x) as it wrote F.cross_entropy / F.gelu.
#pragma once

#include "engine/ops.h"

namespace vireo::nn {

using vireo::batch_norm;
using vireo::conv2d;
using vireo::conv_transpose2d;
using vireo::cosine_similarity;
using vireo::cross_entropy;
using vireo::dropout;
using vireo::embedding;
using vireo::gelu;
using vireo::group_norm;
using vireo::layer_norm;
using vireo::leaky_relu;
using vireo::linear;
using vireo::log_softmax;
using vireo::mse_loss;
using vireo::normalize;
using vireo::relu;
using vireo::scaled_dot_product_attention;
using vireo::sigmoid;
using vireo::silu;
using vireo::softmax;
using vireo::softplus;
using vireo::tanh;

}  // namespace vireo::nn
