// Small models the steering suites share, each built so that what a steering point sees is known by hand:
// a passthrough (the point's output is the input itself), a chain of two Linear layers (the second point
// is fed by the first) and two parallel Linear branches (neither point feeds the other), plus a tiny ViT.
#pragma once

#include <memory>
#include <vector>

#include "engine/nn.h"
#include "engine/ops.h"
#include "gradcheck.h"
#include "models/vit.h"

namespace vireo::testing {

// Sequential(Identity): the point "0" outputs the input unchanged, so an edit there is the model's output.
inline std::shared_ptr<nn::Sequential> passthrough_model() {
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Identity>());
}

// Points "0" and "1": Linear(width, width) twice, the second reading the first's output.
inline std::shared_ptr<nn::Sequential> chained_linear_model(int64_t width, uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(width, width),
                                          std::make_shared<nn::Linear>(width, width));
}

// Points "left" and "right": two Linear branches on the same input, outputs added.
class ParallelLinear : public nn::Module {
 public:
  ParallelLinear(int64_t width, uint64_t seed) {
    manual_seed(seed);
    left = register_module("left", std::make_shared<nn::Linear>(width, width));
    right = register_module("right", std::make_shared<nn::Linear>(width, width));
  }
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override { return (*left)(x) + (*right)(x); }

  std::shared_ptr<nn::Linear> left, right;
};

// A ViT small enough for a test: 8×8 images, 4×4 patches (4 tokens + the class token), 2 blocks of width 8.
inline std::shared_ptr<models::VisionTransformer> tiny_vit(uint64_t seed) {
  manual_seed(seed);
  return models::vit({.image_size = 8, .patch_size = 4, .depth = 2, .width = 8, .heads = 2, .num_classes = 3});
}

inline Tensor random_normal(const Shape& shape, uint64_t seed, double mean = 0.0, double deviation = 1.0) {
  Generator generator(seed);
  return randn(shape, {}, &generator) * deviation + mean;
}

// Exact equality of every element (bit-identical for finite values).
inline bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector() == b.to_vector();
}

}  // namespace vireo::testing
