// Scaled dot-product attention: one op, one fused forward kernel, one backward kernel
// (engine/kernels/attention.h). Only the output and the per-row log-sum-exp are kept for backward; the
// probabilities are recomputed there, so memory stays O(L) per row instead of O(L·S).
//
// Conventions: `causal` forbids key j > query i (top-left aligned when L ≠ S, as PyTorch's is_causal). A
// query row whose every score is −∞ (fully masked) has output 0 and zero gradients, where PyTorch's math
// path gives NaN. The mask is a constant: it receives no gradient.
#include "engine/ops/attention.h"

#include <cmath>

#include "engine/autocast.h"
#include "engine/kernels/attention.h"
#include "engine/ops.h"

namespace vireo {
namespace {

// The kernels read each operand as rows of its last dimension with a unit stride and a row stride of at
// least the row length (any strides on the batch dimensions); anything else is copied to contiguous.
Tensor as_rows(const Tensor& t) {
  NoGrad no_grad;
  const Tensor d = t.detach();
  const int64_t rows = d.size(-2), cols = d.size(-1);
  const bool unit_columns = cols <= 1 || d.strides()[d.dim() - 1] == 1;
  const bool separate_rows = rows <= 1 || d.strides()[d.dim() - 2] >= cols;
  return unit_columns && separate_rows ? d : d.contiguous();
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                                    bool causal, std::optional<double> scale) {
  if (const auto compute = autocast_compute_type({&q, &k, &v, &mask})) {
    Autocast suspended(std::nullopt);
    return scaled_dot_product_attention(q.to(*compute), k.to(*compute), v.to(*compute),
                                        mask.defined() ? mask.to(*compute) : mask, causal, scale)
        .to(DType::f32);
  }
  const char* op = "scaled_dot_product_attention";
  VIREO_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must be defined");
  VIREO_CHECK(is_floating(q.dtype()), op, ": needs floating operands, got q ", describe(q));
  for (const Tensor* t : {&k, &v, &mask})
    VIREO_CHECK(!t->defined() || (t->dtype() == q.dtype() && t->device() == q.device()), op, ": q ", describe(q),
                ", k ", describe(k), ", v ", describe(v), mask.defined() ? ", mask " + describe(mask) : "",
                " differ in dtype or device");
  VIREO_CHECK(q.dim() >= 2 && q.dim() == k.dim() && q.dim() == v.dim(), op,
              ": q [..., L, E], k [..., S, E] and v [..., S, Ev] need the same number (≥ 2) of dimensions, got q ",
              q.shape(), ", k ", k.shape(), ", v ", v.shape());
  const int64_t nd = q.dim();
  const Shape batch(q.shape().begin(), q.shape().end() - 2);
  VIREO_CHECK(Shape(k.shape().begin(), k.shape().end() - 2) == batch &&
                  Shape(v.shape().begin(), v.shape().end() - 2) == batch,
              op, ": the leading (batch) dimensions of q ", q.shape(), ", k ", k.shape(), " and v ", v.shape(),
              " must match");
  const int64_t length = q.size(-2), embed = q.size(-1), keys = k.size(-2), value_embed = v.size(-1);
  VIREO_CHECK(k.size(-1) == embed, op, ": q ", q.shape(), " and k ", k.shape(),
              " differ in the embedding dimension E (", embed, " vs ", k.size(-1), ")");
  VIREO_CHECK(v.size(-2) == keys, op, ": k ", k.shape(), " and v ", v.shape(), " differ in the key count S (", keys,
              " vs ", v.size(-2), ")");
  Shape score_shape = batch;
  score_shape.push_back(length);
  score_shape.push_back(keys);
  if (mask.defined()) {
    bool broadcastable = mask.dim() <= nd;
    for (int64_t d = 0; broadcastable && d < mask.dim(); ++d) {
      const int64_t extent = mask.shape()[mask.dim() - 1 - d], target = score_shape[nd - 1 - d];
      broadcastable = extent == target || extent == 1;
    }
    VIREO_CHECK(broadcastable, op, ": mask ", mask.shape(), " is not broadcastable to the scores [..., L, S] = ",
                score_shape, " of q ", q.shape(), " and k ", k.shape());
  }
  const double scale_value = scale.value_or(1.0 / std::sqrt(static_cast<double>(embed)));

  const Tensor qs = as_rows(q), ks = as_rows(k), vs = as_rows(v);
  Tensor ms;
  if (mask.defined()) {
    NoGrad no_grad;
    ms = mask.detach().expand(score_shape);
  }
  Shape out_shape = batch;
  out_shape.push_back(length);
  out_shape.push_back(value_embed);
  Shape row_shape = batch;
  row_shape.push_back(length);
  Tensor out = Tensor::empty(out_shape, q.options());
  const Tensor logsumexp = Tensor::empty(row_shape, q.options());
  kernels::attention_forward(q.device(), qs, ks, vs, ms, causal, scale_value, out, logsumexp);

  const bool gq = q.requires_grad(), gk = k.requires_grad(), gv = v.requires_grad();
  const Tensor saved_out = out.detach();
  return record(op, out, {q, k, v},
                [qs, ks, vs, ms, causal, scale_value, saved_out, logsumexp, gq, gk, gv](const Tensor& g) {
                  Tensor grad_out;
                  {
                    NoGrad no_grad;
                    grad_out = g.detach().contiguous();
                  }
                  Tensor dq = Tensor::empty(qs.shape(), qs.options()), dk = Tensor::empty(ks.shape(), ks.options()),
                         dv = Tensor::empty(vs.shape(), vs.options());
                  kernels::attention_backward(qs.device(), qs, ks, vs, ms, causal, scale_value, saved_out, logsumexp,
                                              grad_out, dq, dk, dv);
                  return std::vector<Tensor>{gq ? dq : Tensor(), gk ? dk : Tensor(), gv ? dv : Tensor()};
                },
                {qs, ks, vs, ms, saved_out});
}

}  // namespace vireo
