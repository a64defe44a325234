// Tensor: a cheap handle (one shared_ptr) to a view — shape, strides, offset — over shared Storage, with a
// dtype, a device, and the autograd metadata (requires_grad, the node that produced it, its gradient).
//
// Copying a Tensor copies the handle, never the data, exactly like torch.Tensor in Python. Ops are free
// functions in engine/ops.h; the methods below are the common ones spelled the PyTorch way.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/shape.h"
#include "engine/storage.h"

namespace vireo {

class Tensor;
struct Node;
struct TensorImpl;

using GradientHook = std::function<Tensor(const Tensor& grad)>;

// Options for creating a tensor: torch's (dtype=..., device=..., requires_grad=...).
struct TensorOptions {
  DType dtype = DType::f32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (like an absent gradient)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A fresh, uninitialized, contiguous tensor from the device's pool.
  static Tensor empty(const Shape& shape, TensorOptions options = {});
  // A tensor holding a copy of `values` in the given shape (f64 values converted to options.dtype).
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options = {});

  bool defined() const { return impl_ != nullptr; }

  // ---- the view ----
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t offset() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t dim) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  TensorOptions options() const { return {dtype(), device(), false}; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const;

  // Pointer to the first element of the view; checks that T matches the dtype.
  template <class T> T* data() const;
  void* raw_data() const;

  // ---- values (tests, logging) ----
  double item() const;                   // a one-element tensor as a double
  std::vector<double> to_vector() const; // every element in row-major order, as doubles
  std::string str() const;               // printed like PyTorch, summarized when large

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool enabled = true);  // only on leaves
  bool is_leaf() const;
  const Tensor& grad() const;  // undefined until a backward pass reaches this tensor
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // drops the gradient (set_to_none, as torch's default)
  const std::shared_ptr<Node>& grad_fn() const;
  // Back-propagates from this tensor. Without `grad` the tensor must hold one element (grad = 1).
  // The backward pass itself is not recorded (no higher-order gradients).
  void backward(const Tensor& grad = {}, bool retain_graph = false) const;
  Tensor detach() const;  // same storage, no history
  void retain_grad() const;  // keep .grad on a non-leaf after backward
  // Runs on the gradient flowing into this tensor; a hook may return a replacement (or an undefined
  // tensor to keep the gradient as is). Returns an id for remove_hook.
  int register_hook(GradientHook hook) const;
  void remove_hook(int id) const;
  uint64_t version() const { return storage()->version(); }

  // ---- the common ops as methods (defined in engine/ops/*.cpp) ----
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor expand(const Shape& shape) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const { return slice(dim, start, start + length); }
  Tensor select(int64_t dim, int64_t index) const;
  Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;

  // In-place updates. They bump the storage version; a tensor that requires grad can only be updated
  // in place under NoGrad (the optimizers' case).
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& source);  // broadcasts `source` to this shape, converts dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double factor);

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Everything a Tensor handle points at. Only the engine touches it directly.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;

  // autograd metadata
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;  // null for leaves
  Tensor grad;
  bool retains_grad = false;
  std::vector<std::pair<int, GradientHook>> hooks;  // for leaves; non-leaf hooks live on grad_fn
};

std::ostream& operator<<(std::ostream& os, const Tensor& tensor);

template <class T>
T* Tensor::data() const {
  VIREO_CHECK(defined(), "data(): the tensor is undefined");
  VIREO_CHECK(dtype() == dtype_of<T>(), "data(): the tensor holds ", dtype(), ", not ", dtype_of<T>());
  return static_cast<T*>(raw_data());
}

// "[2, 3] f32 cpu": how errors describe an operand.
std::string describe(const Tensor& tensor);

}  // namespace vireo
