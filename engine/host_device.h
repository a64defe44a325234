// VIREO_HOST_DEVICE marks an inline function that runs on the host and, compiled by nvcc, on the GPU too:
// the per-element math a CPU kernel and its CUDA twin must share (the random stream, index maps). Without
// nvcc it expands to nothing, so such headers stay plain C++ for every other file.
#pragma once

#ifndef VIREO_HOST_DEVICE
#if defined(__CUDACC__)
#define VIREO_HOST_DEVICE __host__ __device__
#else
#define VIREO_HOST_DEVICE
#endif
#endif
