// The bucketed gradient all-reduce (gradient_reducer.h).
#include "training/dist/gradient_reducer.h"

#include <memory>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "training/dist/collectives.h"

namespace vireo::training::dist {
namespace {

// The bucket as one flat tensor on the parameters' device: a presence flag per parameter (1 where this rank
// has a gradient), then every gradient flattened (zeros where absent).
Tensor pack(const std::vector<Tensor>& parameters, DType dtype, Device device) {
  std::vector<double> flags;
  std::vector<Tensor> pieces(1);
  for (const Tensor& parameter : parameters) {
    const Tensor& grad = parameter.grad();
    flags.push_back(grad.defined() ? 1.0 : 0.0);
    pieces.push_back(grad.defined() ? grad.detach().reshape({-1})
                                    : zeros({parameter.numel()}, {.dtype = dtype, .device = device}));
  }
  pieces[0] = Tensor::from_vector(flags, {static_cast<int64_t>(flags.size())}, {.dtype = dtype}).to(device);
  return cat(pieces, 0).contiguous();
}

// Gives every parameter that some rank had a gradient for its slice of the summed bucket (a view of it).
void unpack(const std::vector<Tensor>& parameters, const Tensor& bucket) {
  const int64_t count = static_cast<int64_t>(parameters.size());
  const std::vector<double> present = slice(bucket, 0, 0, count).to(Device::cpu()).to_vector();
  int64_t position = count;
  for (int64_t i = 0; i < count; ++i) {
    Tensor parameter = parameters[static_cast<size_t>(i)];
    const int64_t size = parameter.numel();
    if (present[static_cast<size_t>(i)] > 0.0)
      parameter.set_grad(slice(bucket, 0, position, position + size).view(parameter.shape()));
    position += size;
  }
}

}  // namespace

GradientReducer::GradientReducer(std::vector<Tensor> parameters, Communicator& communicator, int64_t bucket_bytes)
    : communicator_(communicator) {
  int64_t bytes = 0;
  for (auto parameter = parameters.rbegin(); parameter != parameters.rend(); ++parameter) {
    VIREO_CHECK(parameter->dtype() == DType::f32 || parameter->dtype() == DType::f64,
                "GradientReducer: expects f32 or f64 parameters, got ", describe(*parameter));
    VIREO_CHECK(parameter->device() == parameters.back().device(), "GradientReducer: expects every parameter on ",
                parameters.back().device(), ", got ", describe(*parameter));
    const int64_t size = parameter->numel() * static_cast<int64_t>(element_size(parameter->dtype()));
    if (buckets_.empty() || buckets_.back().dtype != parameter->dtype() || bytes + size > bucket_bytes) {
      buckets_.push_back({.parameters = {}, .dtype = parameter->dtype()});
      bytes = 0;
    }
    buckets_.back().parameters.push_back(*parameter);
    bytes += size;
  }
}

void GradientReducer::reduce() {
  if (communicator_.size() == 1) return;
  NoGrad no_grad;
  std::vector<Tensor> packed;
  std::vector<std::unique_ptr<PendingReduction>> pending;
  for (const Bucket& bucket : buckets_) {
    const Device device = bucket.parameters.front().device();
    Tensor buffer = pack(bucket.parameters, bucket.dtype, device);
    // On the CPU the bucket travels while the next is packed; on a GPU the reduction is queued on the stream
    // (NCCL) or made at once through host memory.
    if (device.is_cpu()) {
      pending.push_back(communicator_.start_all_reduce_sum(buffer.raw_data(), buffer.numel(), bucket.dtype));
    } else {
      sum_in_place(buffer, communicator_);
      pending.push_back(nullptr);
    }
    packed.push_back(buffer);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    if (pending[b]) pending[b]->wait();
    unpack(buckets_[b].parameters, packed[b]);
  }
}

}  // namespace vireo::training::dist
