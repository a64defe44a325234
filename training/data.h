// The data layer in one include: datasets, image operations, augmentations and the threaded loader.
//
//   datasets          training/data/dataset.h (interface, Subset), idx.h (MNIST, Fashion-MNIST),
//                     cifar.h, image_folder.h, synthetic.h
//   images            training/data/image.h, image_io.h, geometric.h, photometric.h
//   augmentations     training/data/transforms.h, random_stream.h
//   batches           training/data/loader.h
#pragma once

#include "training/data/cifar.h"
#include "training/data/dataset.h"
#include "training/data/geometric.h"
#include "training/data/idx.h"
#include "training/data/image.h"
#include "training/data/image_folder.h"
#include "training/data/image_io.h"
#include "training/data/loader.h"
#include "training/data/photometric.h"
#include "training/data/random_stream.h"
#include "training/data/synthetic.h"
#include "training/data/transforms.h"
