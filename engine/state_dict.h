// StateDict: named tensors — what a module, an optimizer or a schedule saves and restores.
//
// Names are PyTorch's dotted paths ("layer1.0.conv1.weight", "bn1.num_batches_tracked"); scalars such as an
// optimizer's step count travel as 0-dimensional tensors, so that every piece of training state can be
// written to one safetensors file and read back exactly. Sorted by name, like the safetensors header.
#pragma once

#include <map>
#include <string>

#include "engine/tensor.h"

namespace vireo {

using StateDict = std::map<std::string, Tensor>;

}  // namespace vireo
