// Every nn header: modules and hooks, layers, initializers, and the functional spellings.
#pragma once

#include "engine/nn/activation.h"
#include "engine/nn/attention.h"
#include "engine/nn/container.h"
#include "engine/nn/conv.h"
#include "engine/nn/dropout.h"
#include "engine/nn/embedding.h"
#include "engine/nn/flatten.h"
#include "engine/nn/functional.h"
#include "engine/nn/hooks.h"
#include "engine/nn/init.h"
#include "engine/nn/linear.h"
#include "engine/nn/mlp.h"
#include "engine/nn/module.h"
#include "engine/nn/normalization.h"
#include "engine/nn/pooling.h"
#include "engine/nn/repr.h"
