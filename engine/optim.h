// Everything of vireo::optim: the optimizers (SGD, Adam, AdamW, LARS), parameter groups, gradient
// clipping, dynamic loss scaling and learning-rate schedules.
#pragma once

#include "engine/optim/adam.h"
#include "engine/optim/clip.h"
#include "engine/optim/grad_scaler.h"
#include "engine/optim/lars.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/param_groups.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
