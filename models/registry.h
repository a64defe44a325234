// Models by name, for recipes: `model.name: resnet18`, `model.width: 0.5`, `model.stem: cifar` become
//
//   create_model("resnet18", {{"width", 0.5}, {"stem", "cifar"}, {"num_classes", 10}})
//
// Names: resnet18, resnet34, resnet50 (models/resnet.h); vit_tiny, vit_small, vit_base, and vit, fully
// custom (models/vit.h); ddpm_unet (models/unet.h); p4_resnet (models/p4_resnet.h). Each option key is the
// field of the model's typed options struct of the same name (ResNetOptions, ViTOptions, UNetOptions,
// P4ResNetOptions), with these value types:
//   integers        an int64 (or a number with an integral value, as YAML readers may give)
//   numbers         a double or an int64
//   booleans        a bool
//   choices         a string: stem imagenet|cifar, pooling cls|mean, activation relu|silu|gelu (ResNet)
//   integer lists   a std::vector<int64_t> (channel_multipliers, attention_levels, blocks_per_stage)
// An unknown name, an unknown key or a value of the wrong type is an Error that names it and lists what is
// valid. C++ code can call the typed factories directly: models::resnet18({.num_classes = 10}).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "engine/nn/module.h"

namespace vireo::models {

using OptionValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>>;
using ModelOptions = std::map<std::string, OptionValue>;

std::shared_ptr<nn::Module> create_model(const std::string& name, const ModelOptions& options = {});

// Every name create_model accepts, and the option keys of one of them (an Error for an unknown name).
std::vector<std::string> model_names();
std::vector<std::string> model_option_names(const std::string& name);

}  // namespace vireo::models
