// Activation steering in one include: steering points and response collection, interventions (fit, save,
// attach at a strength, compose, detach), AurA with its Det0/Damp baselines, Linear-AcT with its
// mean-only and Gaussian variants, LinEAS, neuron paths in a ViT, and diffusion bias features (a sparse
// autoencoder on a UNet's bottleneck, a per-timestep probe, integrated-gradient attribution and the
// decode-only-the-change edit).
#pragma once

#include "steering/act.h"
#include "steering/aura.h"
#include "steering/bias_features.h"
#include "steering/intervention.h"
#include "steering/lineas.h"
#include "steering/neuron_path.h"
#include "steering/points.h"
#include "steering/sparse_autoencoder.h"
