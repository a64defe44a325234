#include "engine/tensor.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "engine/autograd.h"
#include "engine/kernels/copy.h"
#include "engine/ops.h"

namespace vireo {
namespace {

const TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) fail("the tensor is undefined (default-constructed or an absent gradient)");
  return *impl;
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, TensorOptions options) {
  for (int64_t extent : shape) VIREO_CHECK(extent >= 0, "empty: negative extent in shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(vireo::numel(shape)) * element_size(options.dtype),
                                            options.device);
  impl->requires_grad = options.requires_grad;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, TensorOptions options) {
  VIREO_CHECK(static_cast<int64_t>(values.size()) == vireo::numel(shape), "from_vector: ", values.size(),
              " values do not fill shape ", shape);
  Tensor host = Tensor::empty(shape, {.dtype = DType::f64});
  std::copy(values.begin(), values.end(), host.data<double>());
  Tensor out = host.to(options.dtype).to(options.device);
  out.impl()->requires_grad = options.requires_grad;
  return out;
}

const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::offset() const { return checked(impl_).offset; }
int64_t Tensor::numel() const { return vireo::numel(shape()); }
DType Tensor::dtype() const { return checked(impl_).dtype; }
Device Tensor::device() const { return checked(impl_).storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim("size", d, dim())]; }

bool Tensor::is_contiguous() const {
  const Shape& s = shape();
  const Shape& st = strides();
  if (vireo::numel(s) == 0) return true;  // no elements, nothing out of place (as torch)
  int64_t expected = 1;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= s[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  const TensorImpl& impl = checked(impl_);
  return static_cast<char*>(impl.storage->data()) + impl.offset * static_cast<int64_t>(element_size(impl.dtype));
}

std::vector<double> Tensor::to_vector() const {
  Tensor host = contiguous().to(Device::cpu()).to(DType::f64).contiguous();
  const double* p = host.data<double>();
  return std::vector<double>(p, p + host.numel());
}

double Tensor::item() const {
  VIREO_CHECK(numel() == 1, "item: the tensor has ", numel(), " elements (shape ", shape(), "), not one");
  return to_vector()[0];
}

std::string describe(const Tensor& tensor) {
  if (!tensor.defined()) return "undefined tensor";
  std::ostringstream os;
  os << tensor.shape() << ' ' << tensor.dtype() << ' ' << tensor.device();
  return os.str();
}

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  std::vector<double> values = to_vector();
  const Shape& s = shape();
  std::ostringstream os;
  os << std::setprecision(4);
  constexpr int64_t kEdge = 3;  // like PyTorch, show the first and last three along a long dimension
  std::vector<int64_t> strides = contiguous_strides(s);
  // Recursive printer over dimensions, summarizing long ones with "...".
  auto print = [&](auto&& self, size_t d, int64_t base) -> void {
    if (d == s.size()) {
      if (dtype() == DType::boolean) os << (values[base] != 0.0 ? "True" : "False");
      else if (!is_floating(dtype())) os << static_cast<int64_t>(values[base]);
      else os << values[base];
      return;
    }
    os << '[';
    const int64_t n = s[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > 2 * kEdge && i == kEdge) {
        os << "..., ";
        i = n - kEdge;
      }
      self(self, d + 1, base + i * strides[d]);
      if (i + 1 < n) os << (d + 1 == s.size() ? ", " : ",\n" + std::string(d + 8, ' '));
    }
    os << ']';
  };
  os << "tensor(";
  print(print, 0, 0);
  os << ", shape=" << s << ", dtype=" << dtype();
  if (!device().is_cpu()) os << ", device=" << device();
  if (requires_grad()) os << ", requires_grad";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& tensor) { return os << tensor.str(); }

// ---- autograd ----

bool Tensor::requires_grad() const { return checked(impl_).requires_grad; }

Tensor& Tensor::requires_grad_(bool enabled) {
  VIREO_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad; use detach() first");
  VIREO_CHECK(!enabled || is_floating(dtype()), "requires_grad_: ", dtype(), " tensors cannot require gradients");
  impl_->requires_grad = enabled;
  return *this;
}

bool Tensor::is_leaf() const { return checked(impl_).grad_fn == nullptr; }
const Tensor& Tensor::grad() const { return checked(impl_).grad; }

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined())
    VIREO_CHECK(grad.shape() == shape() && grad.dtype() == dtype(), "set_grad: gradient ", describe(grad),
                " does not match the tensor ", describe(*this));
  checked(impl_);
  impl_->grad = grad;
}

void Tensor::zero_grad() const {
  checked(impl_);
  impl_->grad = Tensor();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  run_backward({*this}, {grad}, retain_graph);
}

Tensor Tensor::detach() const {
  const TensorImpl& source = checked(impl_);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = source.storage;
  impl->shape = source.shape;
  impl->strides = source.strides;
  impl->offset = source.offset;
  impl->dtype = source.dtype;
  return Tensor(std::move(impl));
}

void Tensor::retain_grad() const {
  VIREO_CHECK(requires_grad(), "retain_grad: the tensor does not require a gradient");
  if (is_leaf()) return;  // leaves keep their gradient anyway
  impl_->retains_grad = true;
  impl_->grad_fn->retained_output = impl_;
}

namespace {
int next_hook_id() {
  static int id = 0;
  return ++id;
}
}  // namespace

int Tensor::register_hook(GradientHook hook) const {
  VIREO_CHECK(requires_grad(), "register_hook: the tensor does not require a gradient");
  const int id = next_hook_id();
  if (is_leaf()) impl_->hooks.emplace_back(id, std::move(hook));
  else impl_->grad_fn->hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_hook(int id) const {
  auto drop = [id](auto& hooks) {
    std::erase_if(hooks, [id](const auto& entry) { return entry.first == id; });
  };
  checked(impl_);
  drop(impl_->hooks);
  if (impl_->grad_fn) drop(impl_->grad_fn->hooks);
}

// ---- in-place updates ----

namespace {
// In-place updates are not recorded by autograd, so under gradient recording they may touch neither a
// tensor that requires grad nor read one (its gradient path would silently vanish).
void check_inplace(const char* op, const Tensor& self, const Tensor& source = {}) {
  VIREO_CHECK(!(grad_enabled() && self.requires_grad()), op,
              ": in-place update of a tensor that requires grad (", describe(self),
              "); do it under NoGrad, or use the out-of-place op");
  VIREO_CHECK(!(grad_enabled() && source.defined() && source.requires_grad()), op, ": the source ", describe(source),
              " requires grad, but in-place updates are not recorded; use the out-of-place op, or NoGrad");
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace("fill_", *this);
  kernels::fill(device(), *this, value);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& source) {
  check_inplace("copy_", *this, source);
  VIREO_CHECK(source.device() == device() || source.device().is_cpu() || device().is_cpu(), "copy_: devices ",
              source.device(), " and ", device(), " differ");
  Tensor src = vireo::expand(source.detach(), shape());
  if (src.device() == device()) {
    kernels::copy(device(), src, *this);
  } else {
    Tensor staged = src.to(dtype()).contiguous();
    Tensor target = is_contiguous() ? *this : Tensor::empty(shape(), {dtype(), device()});
    kernels::transfer(device().is_cpu() ? staged.device() : device(), staged, target);
    if (target.impl() != impl()) kernels::copy(device(), target, *this);
  }
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace("add_", *this, other);
  Tensor sum = alpha == 1.0 ? vireo::add(detach(), other.detach()) : vireo::add(detach(), vireo::mul(other.detach(), alpha));
  kernels::copy(device(), sum, *this);
  storage()->bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace("mul_", *this);
  kernels::copy(device(), vireo::mul(detach(), factor), *this);
  storage()->bump_version();
  return *this;
}

// ---- methods that forward to the free ops ----

Tensor Tensor::contiguous() const { return vireo::contiguous(*this); }
Tensor Tensor::clone() const { return vireo::clone(*this); }
Tensor Tensor::to(DType dtype) const { return vireo::to_dtype(*this, dtype); }
Tensor Tensor::reshape(const Shape& shape) const { return vireo::reshape(*this, shape); }
Tensor Tensor::view(const Shape& shape) const { return vireo::view(*this, shape); }
Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const { return vireo::flatten(*this, start_dim, end_dim); }
Tensor Tensor::permute(const std::vector<int64_t>& order) const { return vireo::permute(*this, order); }
Tensor Tensor::transpose(int64_t dim0, int64_t dim1) const { return vireo::transpose(*this, dim0, dim1); }
Tensor Tensor::expand(const Shape& shape) const { return vireo::expand(*this, shape); }
Tensor Tensor::unsqueeze(int64_t dim) const { return vireo::unsqueeze(*this, dim); }
Tensor Tensor::squeeze(int64_t dim) const { return vireo::squeeze(*this, dim); }
Tensor Tensor::slice(int64_t dim, int64_t start, int64_t end, int64_t step) const {
  return vireo::slice(*this, dim, start, end, step);
}
Tensor Tensor::select(int64_t dim, int64_t index) const { return vireo::select(*this, dim, index); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return vireo::sum(*this, dims, keepdim); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return vireo::mean(*this, dims, keepdim); }

Tensor Tensor::to(Device target) const {
  if (device() == target) return *this;
  Tensor out = Tensor::empty(shape(), {dtype(), target});
  Tensor src = contiguous();
  kernels::transfer(target.is_cpu() ? device() : target, src, out);
  Tensor self = *this;
  return record("to_device", out, {self}, [from = device()](const Tensor& g) {
    return std::vector<Tensor>{g.to(from)};
  });
}

}  // namespace vireo
