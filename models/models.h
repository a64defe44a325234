// Every model header: ResNet, ViT, the DDPM UNet, their shared Backbone interface and the registry.
#pragma once

#include "models/backbone.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/unet.h"
#include "models/vit.h"
