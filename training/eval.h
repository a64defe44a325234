// Evaluation in one include (namespace vireo::eval): what a representation or a classifier is worth.
//
//   features from a model     training/eval/features.h (model output, Backbone features, or a hooked module)
//   kNN accuracy              training/eval/knn.h (cosine similarity, k = 20, exp(s/T) votes, T = 0.07)
//   linear probe              training/eval/linear_probe.h (a Linear layer trained on frozen features)
//   classifier accuracy       training/eval/classifier_accuracy.h (top-k, a whole test set)
//   confusion matrix          training/eval/confusion.h (and per-class accuracy)
//   label checks              training/eval/labels.h
//   Fréchet distance          training/eval/frechet.h (two feature sets as Gaussians; FID-style sample quality)
#pragma once

#include "training/eval/classifier_accuracy.h"
#include "training/eval/confusion.h"
#include "training/eval/features.h"
#include "training/eval/frechet.h"
#include "training/eval/knn.h"
#include "training/eval/labels.h"
#include "training/eval/linear_probe.h"
