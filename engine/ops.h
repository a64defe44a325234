// Every op of the engine, by family.
#pragma once

#include "engine/autocast.h"
#include "engine/autograd.h"
#include "engine/ops/activation.h"
#include "engine/ops/attention.h"
#include "engine/ops/conv.h"
#include "engine/ops/creation.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/indexing.h"
#include "engine/ops/linalg.h"
#include "engine/ops/loss.h"
#include "engine/ops/normalization.h"
#include "engine/ops/reduction.h"
#include "engine/ops/shape.h"
#include "engine/ops/sort.h"
#include "engine/tensor.h"
