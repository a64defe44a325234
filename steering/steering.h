// Activation steering in one include: steering points and response collection, interventions (fit, save,
// attach at a strength, compose, detach), AurA with its Det0/Damp baselines, Linear-AcT with its
// mean-only and Gaussian variants, LinEAS, and neuron paths in a ViT.
#pragma once

#include "steering/act.h"
#include "steering/aura.h"
#include "steering/intervention.h"
#include "steering/lineas.h"
#include "steering/neuron_path.h"
#include "steering/points.h"
