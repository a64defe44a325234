// <vireo/vireo.h>: everything research code needs from Vireo, in one include.
//
//   Tensor, autograd and every op      engine/tensor.h, engine/autograd.h, engine/ops.h
//   random numbers and seeding         engine/random.h
//   named state (modules, optimizers)  engine/state_dict.h
//   modules, layers, hooks, init       engine/nn.h
//   optimizers, clipping, schedules    engine/optim.h
//   safetensors files                  engine/io.h
//   DeepPCR (a chain in log L steps)   engine/parallel/deep_pcr.h (namespace vireo::deep_pcr)
//   ResNet, ViT, DDPM UNet, registry   models/models.h
//   datasets, augmentations, loader    training/data.h (namespace vireo::data)
//   kNN, linear probe, accuracy        training/eval.h (namespace vireo::eval)
//   DDPM/DDIM training and sampling    training/diffusion.h (namespace vireo::diffusion)
//   BYOL, SimCLR, DINO, ER, EMA rule   ssl/ssl.h (namespace vireo::ssl)
//   AurA, Linear-AcT, interventions    steering/steering.h (namespace vireo::steering)
#pragma once

#include "engine/autograd.h"
#include "engine/io.h"
#include "engine/nn.h"
#include "engine/optim.h"
#include "engine/parallel/deep_pcr.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/state_dict.h"
#include "engine/tensor.h"
#include "models/models.h"
#include "training/data.h"
#include "training/diffusion.h"
#include "training/eval.h"
#include "ssl/ssl.h"
#include "steering/steering.h"
