// Every model header: ResNet, ViT, the DDPM UNet, the p4-equivariant ResNet, their shared Backbone
// interface and the registry.
#pragma once

#include "models/backbone.h"
#include "models/memory.h"
#include "models/p4_conv.h"
#include "models/p4_resnet.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"
