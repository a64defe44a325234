// Reading and writing tensors to files: everything in engine/io/, for `#include "engine/io.h"`.
#pragma once

#include "engine/io/safetensors.h"
