// Collectives on tensors and modules (collectives.h).
#include "training/dist/collectives.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduction.h"
#include "engine/ops/shape.h"
#include "training/dist/device_communicator.h"

namespace vireo::training::dist {
namespace {

// Bytes of a contiguous tensor's elements.
int64_t byte_size(const Tensor& x) { return x.numel() * static_cast<int64_t>(element_size(x.dtype())); }

void check_contiguous(const Tensor& x, const char* op) {
  VIREO_CHECK(x.defined() && x.is_contiguous(), op, ": expects a contiguous tensor, got ", describe(x));
}

// A contiguous copy of x, on its device, that the collective may overwrite.
Tensor message_of(const Tensor& x, const char* op) {
  VIREO_CHECK(x.defined() && (x.dtype() == DType::f32 || x.dtype() == DType::f64), op,
              ": expects an f32 or f64 tensor, got ", describe(x));
  return clone(x.detach()).contiguous();
}

Tensor reduced_sum(const Tensor& x, Communicator& communicator) {
  Tensor message = message_of(x, "all_reduce_sum");
  sum_in_place(message, communicator);
  return message;
}

// Writes `values` into `target` (the GPU tensor a host copy came from, or a gather's output).
void copy_back(const Tensor& target, const Tensor& values) {
  NoGrad no_grad;
  Tensor(target).copy_(values.reshape(target.shape()));
}

}  // namespace

void sum_in_place(const Tensor& values, Communicator& communicator) {
  check_contiguous(values, "sum_in_place");
  VIREO_CHECK(values.dtype() == DType::f32 || values.dtype() == DType::f64,
              "sum_in_place: expects f32 or f64 values, got ", describe(values));
  if (communicator.size() == 1) return;
  if (values.device().is_cpu()) {
    communicator.all_reduce_sum(values.raw_data(), values.numel(), values.dtype());
  } else if (DeviceCommunicator* device = device_communicator(communicator)) {
    device->all_reduce_sum(values);
  } else {
    const Tensor host = values.detach().to(Device::cpu());
    communicator.all_reduce_sum(host.raw_data(), host.numel(), host.dtype());
    copy_back(values, host);
  }
}

void broadcast_in_place(const Tensor& values, Communicator& communicator, int root) {
  check_contiguous(values, "broadcast_in_place");
  if (communicator.size() == 1) return;
  if (values.device().is_cpu()) {
    communicator.broadcast(values.raw_data(), byte_size(values), root);
  } else if (DeviceCommunicator* device = device_communicator(communicator)) {
    device->broadcast(values, root);
  } else {
    const Tensor host = values.detach().to(Device::cpu());
    communicator.broadcast(host.raw_data(), byte_size(host), root);
    copy_back(values, host);
  }
}

void gather_into(const Tensor& sent, const Tensor& received, Communicator& communicator) {
  check_contiguous(sent, "gather_into");
  check_contiguous(received, "gather_into");
  VIREO_CHECK(received.device() == sent.device() && received.dtype() == sent.dtype() &&
                  received.numel() == sent.numel() * communicator.size(),
              "gather_into: ", describe(received), " cannot hold ", communicator.size(), " of ", describe(sent));
  if (communicator.size() == 1) {
    copy_back(received, sent);
  } else if (sent.device().is_cpu()) {
    communicator.all_gather(sent.raw_data(), received.raw_data(), byte_size(sent));
  } else if (DeviceCommunicator* device = device_communicator(communicator)) {
    device->all_gather(sent, received);
  } else {
    const Tensor host_sent = sent.detach().to(Device::cpu());
    const Tensor host_received = Tensor::empty(received.shape(), {.dtype = received.dtype()});
    communicator.all_gather(host_sent.raw_data(), host_received.raw_data(), byte_size(host_sent));
    copy_back(received, host_received);
  }
}

Tensor all_reduce_sum(const Tensor& x, Communicator& communicator) {
  Tensor output = reduced_sum(x, communicator);
  if (!needs_grad({x})) return output;
  return record("all_reduce_sum", output, {x}, [&communicator](const Tensor& grad) -> std::vector<Tensor> {
    return {reduced_sum(grad, communicator)};
  });
}

Tensor all_gather(const Tensor& x, Communicator& communicator) {
  VIREO_CHECK(x.dim() >= 1, "all_gather: expects a tensor with a batch dimension, got ", describe(x));
  const Tensor message = message_of(x, "all_gather");
  Shape gathered_shape = x.shape();
  const int64_t rows = gathered_shape[0], ranks = communicator.size();
  gathered_shape[0] = rows * ranks;
  Tensor output = Tensor::empty(gathered_shape, {.dtype = x.dtype(), .device = x.device()});
  gather_into(message, output, communicator);
  if (!needs_grad({x})) return output;
  const int64_t first = rows * communicator.rank();
  return record("all_gather", output, {x}, [&communicator, first, rows](const Tensor& grad) -> std::vector<Tensor> {
    return {slice(reduced_sum(grad, communicator), 0, first, first + rows)};
  });
}

Tensor gather_across_ranks(const Tensor& x) {
  Communicator& communicator = world();
  return communicator.size() == 1 ? x : all_gather(x, communicator);
}

Tensor batch_mean_across_ranks(const Tensor& x) {
  NoGrad no_grad;
  Communicator& communicator = world();
  if (communicator.size() == 1) return mean(x, {0}, true);
  VIREO_CHECK(x.dim() >= 1, "batch_mean_across_ranks: expects a tensor with a batch dimension, got ", describe(x));
  Tensor sums = message_of(sum(x, {0}, true), "batch_mean_across_ranks");
  sum_in_place(sums, communicator);
  double rows = static_cast<double>(x.size(0));
  communicator.all_reduce_sum(&rows, 1, DType::f64);
  return mul(sums, 1.0 / rows);
}

void broadcast_module(nn::Module& module, Communicator& communicator, int root) {
  if (communicator.size() == 1) return;
  for (auto& [name, tensor] : module.state_dict()) {
    VIREO_CHECK(tensor.is_contiguous(), "broadcast_module: ", name, " is ", describe(tensor),
                "; expected a contiguous tensor");
    broadcast_in_place(tensor, communicator, root);
    tensor.storage()->bump_version();
  }
}

uint64_t module_hash(const nn::Module& module) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64-bit
  const auto mix = [&hash](const void* bytes, size_t size) {
    const auto* byte = static_cast<const unsigned char*>(bytes);
    for (size_t i = 0; i < size; ++i) hash = (hash ^ byte[i]) * 1099511628211ull;
  };
  for (const auto& [name, tensor] : module.state_dict()) {
    mix(name.data(), name.size());
    const Tensor contiguous = tensor.detach().to(Device::cpu()).contiguous();  // a GPU tensor's bytes, on the host
    mix(contiguous.raw_data(), static_cast<size_t>(byte_size(contiguous)));
  }
  return hash;
}

void check_identical_across_ranks(const nn::Module& module, Communicator& communicator, const std::string& what) {
  if (communicator.size() == 1) return;
  const uint64_t hash = module_hash(module);
  std::vector<uint64_t> hashes(static_cast<size_t>(communicator.size()));
  communicator.all_gather(&hash, hashes.data(), sizeof hash);
  for (size_t rank = 1; rank < hashes.size(); ++rank)
    if (hashes[rank] != hashes[0])
      fail(what, ": the parameters of rank ", rank, " differ from rank 0's (hash ", hashes[rank], " vs ", hashes[0],
           "); the ranks no longer train one model");
}

}  // namespace vireo::training::dist
