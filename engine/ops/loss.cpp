// Probabilities and losses. softmax, log_softmax and cross-entropy against class indices are fused
// primitives (engine/kernels/softmax.h); soft-target cross-entropy, MSE, cosine similarity and normalize
// are composed from other ops, so autograd derives their backward.
#include "engine/ops/loss.h"

#include <optional>

#include "engine/kernels/softmax.h"
#include "engine/ops.h"

namespace vireo {
namespace {

// [outer, extent, inner] around dimension `dim`.
struct Around {
  int64_t outer = 1, extent = 1, inner = 1;
  Around(const Shape& shape, int64_t dim) {
    for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
      (d < dim ? outer : d == dim ? extent : inner) *= shape[d];
  }
};

void check_floating(const char* op, const Tensor& x, const char* what) {
  VIREO_CHECK(x.defined(), op, ": the ", what, " is undefined");
  VIREO_CHECK(is_floating(x.dtype()), op, ": the ", what, " must be floating, got ", describe(x));
}

Tensor softmax_family(const char* op, const Tensor& x, int64_t dim, bool log) {
  check_floating(op, x, "input");
  const int64_t d = wrap_dim(op, dim, x.dim());
  const Around a(x.shape(), d);
  Tensor y = Tensor::empty(x.shape(), x.options());
  kernels::softmax(x.device(), x.detach().contiguous(), a.outer, a.extent, a.inner, log, y);
  Tensor saved = y.detach();
  return record(op, y, {x}, [saved, a, log](const Tensor& g) {
    Tensor dx = Tensor::empty(saved.shape(), saved.options());
    kernels::softmax_backward(saved.device(), saved, g.contiguous(), a.outer, a.extent, a.inner, log, dx);
    return std::vector<Tensor>{dx};
  }, {saved});
}

Tensor reduce_loss(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return per_element;
    case Reduction::sum: return sum(per_element);
    case Reduction::mean: return mean(per_element);
  }
  return per_element;
}

// Cross-entropy against class indices: the fused kernel gives one loss per position; the mean divides by
// the number of positions whose target is not ignore_index (NaN when there are none, as torch).
Tensor cross_entropy_indices(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  Shape expected = logits.shape();
  expected.erase(expected.begin() + 1);
  VIREO_CHECK(target.shape() == expected, "cross_entropy: target ", target.shape(), " does not match logits ",
              logits.shape(), " (class indices need shape ", expected, ")");
  VIREO_CHECK(target.device() == logits.device(), "cross_entropy: target ", describe(target), " and logits ",
              describe(logits), " are on different devices");
  const Around a(logits.shape(), 1);
  const Tensor x = logits.detach().contiguous();
  const Tensor t = target.detach().contiguous();
  Tensor loss = Tensor::empty(expected, logits.options());
  Tensor lse = Tensor::empty(expected, logits.options());
  const double smoothing = options.label_smoothing;
  const int64_t ignore = options.ignore_index;
  kernels::cross_entropy(x.device(), x, t, a.outer, a.extent, a.inner, smoothing, ignore, loss, lse);
  loss = record("cross_entropy", loss, {logits}, [x, t, lse, a, smoothing, ignore](const Tensor& g) {
    Tensor dx = Tensor::empty(x.shape(), x.options());
    kernels::cross_entropy_backward(x.device(), x, t, lse, g.contiguous(), a.outer, a.extent, a.inner, smoothing,
                                    ignore, dx);
    return std::vector<Tensor>{dx};
  }, {x, t});
  if (options.reduction != Reduction::mean) return reduce_loss(loss, options.reduction);
  double counted;
  {
    NoGrad no_grad;
    counted = sum(ne(t, full({}, static_cast<double>(ignore), t.options()))).item();
  }
  return mul(sum(loss), 1.0 / counted);
}

// Cross-entropy against probabilities q over the classes (dimension 1), smoothed toward uniform:
//   loss = −Σ_c ((1 − ε)·q_c + ε/C) · log_softmax(x)_c
Tensor cross_entropy_probabilities(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& options) {
  VIREO_CHECK(target.shape() == logits.shape(), "cross_entropy: target ", target.shape(), " does not match logits ",
              logits.shape(), " (probability targets need the logits' shape)");
  VIREO_CHECK(target.dtype() == logits.dtype(), "cross_entropy: target ", describe(target),
              " and logits ", describe(logits), " differ in dtype");
  const double eps = options.label_smoothing;
  const int64_t classes = logits.shape()[1];
  Tensor q = eps > 0 ? add(mul(target, 1.0 - eps), eps / static_cast<double>(classes)) : target;
  Tensor per_position = neg(sum(mul(q, log_softmax(logits, 1)), {1}));
  return reduce_loss(per_position, options.reduction);
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_family("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_family("log_softmax", x, dim, true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions options) {
  check_floating("cross_entropy", logits, "logits");
  VIREO_CHECK(target.defined(), "cross_entropy: the target is undefined");
  VIREO_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must lie in [0, 1], got ", options.label_smoothing);
  VIREO_CHECK(logits.dim() >= 1, "cross_entropy: logits must be [C], [N, C] or [N, C, d1, ...], got ",
              describe(logits));
  if (logits.dim() == 1) {
    // One unbatched sample: logits [C] with a 0-d class index or a [C] distribution.
    Tensor loss = cross_entropy(logits.unsqueeze(0), target.unsqueeze(0), options);
    return options.reduction == Reduction::none ? loss.squeeze(0) : loss;
  }
  if (target.dtype() == DType::i64) return cross_entropy_indices(logits, target, options);
  return cross_entropy_probabilities(logits, target, options);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_floating("mse_loss", input, "input");
  check_floating("mse_loss", target, "target");
  VIREO_CHECK(input.shape() == target.shape(), "mse_loss: input ", input.shape(), " and target ", target.shape(),
              " differ in shape");
  return reduce_loss(square(sub(input, target)), reduction);
}

Tensor cosine_similarity(const Tensor& a, const Tensor& b, int64_t dim, double eps) {
  check_floating("cosine_similarity", a, "first input");
  check_floating("cosine_similarity", b, "second input");
  const Shape shape = broadcast_shapes("cosine_similarity", a.shape(), b.shape());
  const int64_t d = wrap_dim("cosine_similarity", dim, static_cast<int64_t>(shape.size()));
  // Norms are taken over the broadcast operands: an operand of extent 1 along `dim` counts once per use.
  const Tensor ae = a.expand(shape), be = b.expand(shape);
  const Tensor dot = sum(mul(ae, be), {d});
  const Tensor norms = mul(norm(ae, 2.0, {d}), norm(be, 2.0, {d}));
  return div(dot, clamp(norms, eps, std::nullopt));
}

Tensor normalize(const Tensor& x, double p, int64_t dim, double eps) {
  check_floating("normalize", x, "input");
  const int64_t d = wrap_dim("normalize", dim, x.dim());
  return div(x, clamp(norm(x, p, {d}, true), eps, std::nullopt));
}

}  // namespace vireo
