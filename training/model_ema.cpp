// ModelEma: pairs the tensors of a model and of its average by name, then moves the average each step.
#include "training/model_ema.h"

#include <map>
#include <string>

#include "engine/autograd.h"
#include "engine/error.h"

namespace vireo::training {
namespace {

std::vector<std::pair<Tensor, Tensor>> pair_by_name(const std::vector<std::pair<std::string, Tensor>>& source,
                                                    const std::vector<std::pair<std::string, Tensor>>& average,
                                                    const char* what) {
  std::map<std::string, Tensor> by_name(average.begin(), average.end());
  VIREO_CHECK(source.size() == average.size(), "ModelEma: the model has ", source.size(), " ", what,
              " but its average ", average.size(), " (not the same architecture)");
  std::vector<std::pair<Tensor, Tensor>> pairs;
  for (const auto& [name, tensor] : source) {
    const auto found = by_name.find(name);
    VIREO_CHECK(found != by_name.end(), "ModelEma: the average has no ", what, " named ", name);
    VIREO_CHECK(found->second.shape() == tensor.shape(), "ModelEma: ", name, " has shape ", to_string(tensor.shape()),
                " in the model but ", to_string(found->second.shape()), " in its average");
    pairs.emplace_back(tensor, found->second);
  }
  return pairs;
}

}  // namespace

ModelEma::ModelEma(const nn::Module& model, std::shared_ptr<nn::Module> average)
    : average_(std::move(average)), source_(&model) {
  VIREO_CHECK(average_ != nullptr, "ModelEma: the average model is null");
  VIREO_CHECK(average_.get() != &model, "ModelEma: the average must be a separate model");
  parameter_pairs_ = pair_by_name(model.named_parameters(), average_->named_parameters(), "parameters");
  buffer_pairs_ = pair_by_name(model.named_buffers(), average_->named_buffers(), "buffers");
  NoGrad no_grad;
  for (auto& [source, target] : parameter_pairs_) target.copy_(source);
  for (auto& [source, target] : buffer_pairs_) target.copy_(source);
  // The average is never trained directly: no gradients, and evaluation-mode behaviour (dropout off).
  for (Tensor parameter : average_->parameters()) parameter.requires_grad_(false);
  average_->eval();
}

void ModelEma::update(const nn::Module& model, double momentum) {
  VIREO_CHECK(&model == source_, "ModelEma::update: called with a model other than the one it averages");
  VIREO_CHECK(momentum >= 0.0 && momentum <= 1.0, "ModelEma::update: momentum must lie in [0, 1], got ", momentum);
  NoGrad no_grad;
  for (auto& [source, target] : parameter_pairs_) target.mul_(momentum).add_(source, 1.0 - momentum);
  for (auto& [source, target] : buffer_pairs_) target.copy_(source);
}

}  // namespace vireo::training
