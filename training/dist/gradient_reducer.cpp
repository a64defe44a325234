// The bucketed gradient all-reduce (gradient_reducer.h).
#include "training/dist/gradient_reducer.h"

#include <cstring>
#include <memory>

#include "engine/autograd.h"
#include "engine/error.h"

namespace vireo::training::dist {
namespace {

// Copies the bucket's gradients (zeros where absent) and their presence flags into `buffer`.
template <class T>
void pack(const std::vector<Tensor>& parameters, T* buffer) {
  T* position = buffer + parameters.size();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const Tensor& grad = parameters[i].grad();
    const int64_t count = parameters[i].numel();
    buffer[i] = grad.defined() ? T(1) : T(0);
    if (grad.defined()) std::memcpy(position, grad.contiguous().template data<T>(), sizeof(T) * count);
    else std::memset(position, 0, sizeof(T) * count);
    position += count;
  }
}

template <class T>
void unpack(const std::vector<Tensor>& parameters, const T* buffer) {
  const T* position = buffer + parameters.size();
  for (size_t i = 0; i < parameters.size(); ++i) {
    Tensor parameter = parameters[i];
    const int64_t count = parameter.numel();
    if (buffer[i] > T(0)) {
      Tensor grad = Tensor::empty(parameter.shape(), {.dtype = parameter.dtype()});
      std::memcpy(grad.template data<T>(), position, sizeof(T) * count);
      parameter.set_grad(grad);
    }
    position += count;
  }
}

}  // namespace

GradientReducer::GradientReducer(std::vector<Tensor> parameters, Communicator& communicator, int64_t bucket_bytes)
    : communicator_(communicator) {
  int64_t bytes = 0;
  for (auto parameter = parameters.rbegin(); parameter != parameters.rend(); ++parameter) {
    VIREO_CHECK(parameter->device().is_cpu() && (parameter->dtype() == DType::f32 || parameter->dtype() == DType::f64),
                "GradientReducer: expects f32 or f64 CPU parameters, got ", describe(*parameter));
    const int64_t size = parameter->numel() * static_cast<int64_t>(element_size(parameter->dtype()));
    if (buckets_.empty() || buckets_.back().dtype != parameter->dtype() || bytes + size > bucket_bytes) {
      buckets_.push_back({.parameters = {}, .dtype = parameter->dtype(), .elements = 0});
      bytes = 0;
    }
    buckets_.back().parameters.push_back(*parameter);
    buckets_.back().elements += parameter->numel();
    bytes += size;
  }
}

void GradientReducer::reduce() {
  if (communicator_.size() == 1) return;
  NoGrad no_grad;
  std::vector<Tensor> buffers;
  std::vector<std::unique_ptr<PendingReduction>> pending;
  for (const Bucket& bucket : buckets_) {
    const int64_t count = bucket.elements + static_cast<int64_t>(bucket.parameters.size());
    Tensor buffer = Tensor::empty({count}, {.dtype = bucket.dtype});
    if (bucket.dtype == DType::f64) pack(bucket.parameters, buffer.data<double>());
    else pack(bucket.parameters, buffer.data<float>());
    pending.push_back(communicator_.start_all_reduce_sum(buffer.raw_data(), count, bucket.dtype));
    buffers.push_back(buffer);
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    pending[b]->wait();
    if (buckets_[b].dtype == DType::f64) unpack(buckets_[b].parameters, buffers[b].data<double>());
    else unpack(buckets_[b].parameters, buffers[b].data<float>());
  }
}

}  // namespace vireo::training::dist
