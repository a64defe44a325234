// Collectives on tensors and modules, over a Communicator (communicator.h): the differentiable ones that
// cross-rank losses and SyncBatchNorm are built from, and the checks that keep the ranks' models identical.
//
//   all_reduce_sum(x)   y = Σ_r x_r on every rank.  Backward: ∂L/∂x_r = Σ_s ∂L_s/∂y — every rank's loss
//                       depends on every x_r, so each rank's gradient is summed over the ranks too.
//   all_gather(x)       y = [x_0; x_1; …; x_{S−1}] along dimension 0 (every rank's x of one shape).
//                       Backward: ∂L/∂x_r = rows r·N … (r+1)·N − 1 of Σ_s ∂L_s/∂y (the negatives of SimCLR
//                       and DUET are the other ranks' embeddings: gradient flows back to where they came
//                       from).
// With the per-rank losses weighted so that they add up to the global batch's loss (the trainer seeds
// backward with n_r/N), the gradients summed over the ranks are exactly the gradients of one process on
// the whole batch.
#pragma once

#include <cstdint>
#include <string>

#include "engine/nn/module.h"
#include "engine/tensor.h"
#include "training/dist/communicator.h"

namespace vireo::training::dist {

// x: an f32 or f64 tensor of the same shape on every rank, on the CPU or a GPU (the result on its device).
Tensor all_reduce_sum(const Tensor& x, Communicator& communicator);
// x: [N, …] f32 or f64, the same shape on every rank; returns [size·N, …] on x's device.
Tensor all_gather(const Tensor& x, Communicator& communicator);

// The moves underneath, without gradient, on contiguous tensors on the CPU (over `communicator`) or a GPU
// (device_communicator.h: NCCL, or host memory over `communicator`).
// In place: `values` (f32 or f64) becomes the elementwise sum over the ranks.
void sum_in_place(const Tensor& values, Communicator& communicator);
// In place: every rank's `values` becomes rank `root`'s.
void broadcast_in_place(const Tensor& values, Communicator& communicator, int root);
// `received` (on sent's device, size() times sent's elements, of its dtype) becomes the ranks' `sent` in order.
void gather_into(const Tensor& sent, const Tensor& received, Communicator& communicator);

// The batch of the whole job, for losses whose examples interact (the negatives of SimCLR, DUET and H-SSL):
// all_gather(x, world()) when the process is one of several ranks, else x itself.
Tensor gather_across_ranks(const Tensor& x);

// The mean over the job's whole batch of the rows of x [N, …] (each rank's N may differ), without
// gradient: Σ_r Σ_i x_ri / Σ_r N_r on every rank — DINO's batch center. mean(x, {0}, keepdim) on one rank.
Tensor batch_mean_across_ranks(const Tensor& x);

// Copies rank `root`'s parameters and persistent buffers into every rank's `module` (in place): the
// ranks start from identical models by construction.
void broadcast_module(nn::Module& module, Communicator& communicator, int root = 0);

// A 64-bit FNV-1a hash of the module's parameters and buffers (names and bytes).
uint64_t module_hash(const nn::Module& module);

// Throws vireo::Error naming `what` and the first rank whose module hash differs from rank 0's.
void check_identical_across_ranks(const nn::Module& module, Communicator& communicator, const std::string& what);

}  // namespace vireo::training::dist
