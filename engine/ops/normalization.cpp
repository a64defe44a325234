// Normalization front ends (batch, layer, group), dropout and embedding. Each normalization is one fused
// forward kernel that saves its per-channel / per-row / per-group mean and 1/σ, and one fused backward
// kernel that reads them back (engine/kernels/normalization.h has the formulas). The backward kernels
// are first-order: a graph built with create_graph does not differentiate through them again.
#include "engine/ops/normalization.h"

#include "engine/kernels/normalization.h"
#include "engine/ops.h"

namespace vireo {
namespace {

void check_input(const char* op, const Tensor& x) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  VIREO_CHECK(is_floating(x.dtype()), op, ": needs a floating input, got ", describe(x));
}

// weight/bias/running statistics: undefined, or of `shape` with the input's dtype and device.
void check_parameter(const char* op, const char* name, const Tensor& t, const Tensor& x, const Shape& shape) {
  if (!t.defined()) return;
  VIREO_CHECK(t.shape() == shape, op, ": ", name, " ", describe(t), " should have shape ", shape, " for input ",
              describe(x));
  VIREO_CHECK(t.dtype() == x.dtype() && t.device() == x.device(), op, ": ", name, " ", describe(t),
              " does not match the input ", describe(x));
}

bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

// A detached contiguous tensor (or an undefined one), for kernels and backward captures.
Tensor detached_contiguous(const Tensor& t) {
  if (!t.defined()) return Tensor();
  NoGrad no_grad;
  return t.detach().contiguous();
}

Tensor empty_if(bool wanted, const Shape& shape, TensorOptions options) {
  return wanted ? Tensor::empty(shape, options) : Tensor();
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  check_input(op, x);
  VIREO_CHECK(x.dim() >= 2, op, ": expects an input [N, C, ...], got ", describe(x));
  const int64_t n = x.size(0), channels = x.size(1);
  const int64_t spatial = n * channels == 0 ? 0 : x.numel() / (n * channels);
  check_parameter(op, "weight", weight, x, {channels});
  check_parameter(op, "bias", bias, x, {channels});
  check_parameter(op, "running_mean", running_mean, x, {channels});
  check_parameter(op, "running_var", running_var, x, {channels});
  VIREO_CHECK(running_mean.defined() == running_var.defined(), op,
              ": running_mean and running_var must be given together");
  VIREO_CHECK(training || running_mean.defined(), op, ": evaluation mode needs running_mean and running_var (input ",
              describe(x), ")");
  VIREO_CHECK(!training || n * spatial > 1, op, ": training needs more than one value per channel, got input ",
              describe(x));

  const Shape blocked{n, channels, spatial};
  const Tensor xc = detached_contiguous(x), w = detached_contiguous(weight), b = detached_contiguous(bias);
  const Tensor rstd = Tensor::empty({channels}, x.options());
  Tensor out = Tensor::empty(x.shape(), x.options());
  Tensor mean, var;
  {
    NoGrad no_grad;
    if (training) {
      mean = Tensor::empty({channels}, x.options());
      var = Tensor::empty({channels}, x.options());
    } else {
      // A copy, so that a later training step updating the running mean in place leaves this graph valid.
      mean = running_mean.detach().clone();
      var = running_var.detach().contiguous();
    }
    kernels::batch_norm_forward(x.device(), xc.view(blocked), w, b, mean, var, rstd, out.view(blocked), training,
                                eps);
    if (training && running_mean.defined()) {
      // running = (1 − momentum)·running + momentum·batch, with the unbiased batch variance, as PyTorch.
      const double count = static_cast<double>(n * spatial);
      Tensor running_mean_handle = running_mean, running_var_handle = running_var;
      running_mean_handle.mul_(1.0 - momentum).add_(mean, momentum);
      running_var_handle.mul_(1.0 - momentum).add_(var, momentum * count / (count - 1.0));
    }
  }

  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  return record(op, out, {x, weight, bias}, [xc, w, mean, rstd, blocked, training, gx, gw, gb](const Tensor& g) {
    const Tensor gc = detached_contiguous(g);
    Tensor dx = empty_if(gx, xc.shape(), xc.options());
    Tensor dw = empty_if(gw, mean.shape(), xc.options()), db = empty_if(gb, mean.shape(), xc.options());
    kernels::batch_norm_backward(xc.device(), xc.view(blocked), gc.view(blocked), w, mean, rstd, training,
                                 gx ? dx.view(blocked) : Tensor(), dw, db);
    return std::vector<Tensor>{dx, dw, db};
  }, {xc, w});
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "layer_norm";
  check_input(op, x);
  const int64_t trailing = static_cast<int64_t>(normalized_shape.size());
  bool matches = trailing >= 1 && trailing <= x.dim();
  for (int64_t d = 0; matches && d < trailing; ++d)
    matches = x.shape()[x.dim() - trailing + d] == normalized_shape[d];
  VIREO_CHECK(matches, op, ": normalized_shape ", normalized_shape, " is not the trailing shape of the input ",
              describe(x));
  check_parameter(op, "weight", weight, x, normalized_shape);
  check_parameter(op, "bias", bias, x, normalized_shape);

  const int64_t width = numel(normalized_shape);
  const int64_t rows = width == 0 ? 0 : x.numel() / width;
  const Shape blocked{rows, width};
  const Tensor xc = detached_contiguous(x), w = detached_contiguous(weight), b = detached_contiguous(bias);
  Tensor out = Tensor::empty(x.shape(), x.options());
  const Tensor mean = Tensor::empty({rows}, x.options()), rstd = Tensor::empty({rows}, x.options());
  kernels::layer_norm_forward(x.device(), xc.view(blocked), w, b, out.view(blocked), mean, rstd, eps);

  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  return record(op, out, {x, weight, bias},
                [xc, w, mean, rstd, blocked, normalized_shape, gx, gw, gb](const Tensor& g) {
                  const Tensor gc = detached_contiguous(g);
                  Tensor dx = empty_if(gx, xc.shape(), xc.options());
                  Tensor dw = empty_if(gw, normalized_shape, xc.options());
                  Tensor db = empty_if(gb, normalized_shape, xc.options());
                  kernels::layer_norm_backward(xc.device(), xc.view(blocked), gc.view(blocked), w, mean, rstd,
                                               gx ? dx.view(blocked) : Tensor(), dw, db);
                  return std::vector<Tensor>{dx, dw, db};
                },
                {xc, w});
}

namespace {

void check_memory_sharing_input(const char* op, const Tensor& x, double eps) {
  check_input(op, x);
  VIREO_CHECK(x.dim() >= 1 && x.size(-1) > 0, op, ": needs an input [..., D] with D > 0, got ", describe(x));
  VIREO_CHECK(eps > 0.0, op, ": eps must be positive, got ", eps, " (input ", describe(x), ")");
}

// Records the memory-sharing backward: it reads only y (the output itself, detached) and rstd [..., 1].
Tensor record_memory_sharing_norm(const char* op, const Tensor& x, const Tensor& y, const Tensor& rstd,
                                  bool subtract_mean) {
  const Tensor saved_y = y.detach();
  return record(op, y, {x}, [saved_y, rstd, subtract_mean](const Tensor& g) {
    const Tensor projection = mul(saved_y, mean(mul(g, saved_y), {-1}, true));  // y·mean(g⊙y)
    Tensor centered = sub(g, projection);
    if (subtract_mean) centered = sub(centered, mean(g, {-1}, true));
    return std::vector<Tensor>{mul(centered, rstd)};
  }, {saved_y, rstd});
}

}  // namespace

Tensor ms_layer_norm(const Tensor& x, double eps) {
  const char* op = "ms_layer_norm";
  check_memory_sharing_input(op, x, eps);
  const int64_t width = x.size(-1), rows = x.numel() / width;
  Shape row_shape = x.shape();
  row_shape.back() = 1;
  const Tensor xc = detached_contiguous(x);
  Tensor out = Tensor::empty(x.shape(), x.options());
  const Tensor mean_per_row = Tensor::empty({rows}, x.options()), rstd = Tensor::empty({rows}, x.options());
  kernels::layer_norm_forward(x.device(), xc.view({rows, width}), Tensor(), Tensor(), out.view({rows, width}),
                              mean_per_row, rstd, eps);
  return record_memory_sharing_norm(op, x, out, rstd.view(row_shape), true);
}

Tensor ms_rms_norm(const Tensor& x, double eps) {
  const char* op = "ms_rms_norm";
  check_memory_sharing_input(op, x, eps);
  Tensor out, rstd;
  {
    NoGrad no_grad;
    const Tensor plain = x.detach();
    rstd = rsqrt(add(mean(mul(plain, plain), {-1}, true), eps));
    out = mul(plain, rstd);
  }
  return record_memory_sharing_norm(op, x, out, rstd, false);
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  const char* op = "group_norm";
  check_input(op, x);
  VIREO_CHECK(x.dim() >= 2, op, ": expects an input [N, C, ...], got ", describe(x));
  const int64_t n = x.size(0), channels = x.size(1);
  VIREO_CHECK(groups > 0 && channels % groups == 0, op, ": ", channels, " channels of input ", describe(x),
              " cannot be split into ", groups, " groups");
  check_parameter(op, "weight", weight, x, {channels});
  check_parameter(op, "bias", bias, x, {channels});

  const int64_t spatial = n * channels == 0 ? 0 : x.numel() / (n * channels);
  const Shape blocked{n, channels, spatial};
  const Tensor xc = detached_contiguous(x), w = detached_contiguous(weight), b = detached_contiguous(bias);
  Tensor out = Tensor::empty(x.shape(), x.options());
  const Tensor mean = Tensor::empty({n, groups}, x.options()), rstd = Tensor::empty({n, groups}, x.options());
  kernels::group_norm_forward(x.device(), xc.view(blocked), w, b, groups, out.view(blocked), mean, rstd, eps);

  const bool gx = wants_grad(x), gw = wants_grad(weight), gb = wants_grad(bias);
  return record(op, out, {x, weight, bias}, [xc, w, mean, rstd, blocked, groups, gx, gw, gb](const Tensor& g) {
    const Tensor gc = detached_contiguous(g);
    const Shape channel_shape{blocked[1]};
    Tensor dx = empty_if(gx, xc.shape(), xc.options());
    Tensor dw = empty_if(gw, channel_shape, xc.options()), db = empty_if(gb, channel_shape, xc.options());
    kernels::group_norm_backward(xc.device(), xc.view(blocked), gc.view(blocked), w, groups, mean, rstd,
                                 gx ? dx.view(blocked) : Tensor(), dw, db);
    return std::vector<Tensor>{dx, dw, db};
  }, {xc, w});
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  const char* op = "dropout";
  check_input(op, x);
  VIREO_CHECK(p >= 0.0 && p <= 1.0, op, ": p must be in [0, 1], got ", p, " (input ", describe(x), ")");
  if (!training || p == 0.0) return x;
  // Everything dropped: x·0, as PyTorch (so an infinite input still gives NaN rather than hiding it).
  if (p == 1.0) return mul(x, 0.0);

  // One uniform draw per element from the generator's Philox stream: the mask depends only on (seed,
  // offset, index), never on the thread count.
  Tensor mask = rand(x.shape(), x.options(), generator);
  const Tensor xc = detached_contiguous(x);
  Tensor out = Tensor::empty(x.shape(), x.options());
  kernels::dropout_forward(x.device(), xc, mask, out, p);
  return record(op, out, {x}, [mask](const Tensor& g) { return std::vector<Tensor>{mul(g, mask)}; });
}

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  const char* op = "embedding";
  VIREO_CHECK(indices.defined() && weight.defined(), op, ": an operand is undefined");
  VIREO_CHECK(indices.dtype() == DType::i64, op, ": indices must be i64, got ", describe(indices));
  VIREO_CHECK(weight.dim() == 2 && is_floating(weight.dtype()), op,
              ": weight must be a floating [num_embeddings, dim] matrix, got ", describe(weight));
  VIREO_CHECK(indices.device() == weight.device(), op, ": indices ", describe(indices), " and weight ",
              describe(weight), " are on different devices");
  const int64_t count = indices.numel(), dim = weight.size(1);
  Shape out_shape = indices.shape();
  out_shape.push_back(dim);
  const Tensor index = detached_contiguous(indices), w = detached_contiguous(weight);
  Tensor out = Tensor::empty(out_shape, weight.options());
  kernels::embedding_forward(weight.device(), index.view({count}), w, out.view({count, dim}));
  return record(op, out, {weight}, [index, weight_shape = weight.shape()](const Tensor& g) {
    const int64_t rows = index.numel(), width = weight_shape[1];
    Tensor grad_weight = Tensor::empty(weight_shape, g.options());
    kernels::embedding_backward(g.device(), index.view({rows}), detached_contiguous(g).view({rows, width}),
                                grad_weight);
    return std::vector<Tensor>{grad_weight};
  }, {index});
}

}  // namespace vireo
