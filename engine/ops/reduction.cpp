// Reduction front ends. sum/amax/amin/max/min are primitives; mean, var, std, logsumexp and norm are
// composed from them, so autograd derives their backward.
#include "engine/ops/reduction.h"

#include <cmath>
#include <limits>

#include "engine/kernels/reduction.h"
#include "engine/ops.h"

namespace vireo {
namespace {

struct ReductionPlan {
  Tensor block;  // contiguous, viewed as [outer, reduced, inner]
  int64_t outer = 1, reduced = 1, inner = 1;
  Shape kept_shape;  // output shape with keepdim
  Shape out_shape;   // output shape without keepdim
};

ReductionPlan plan_reduction(const char* op, const Tensor& x, const std::vector<int64_t>& dims_in) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  ReductionPlan plan;
  const std::vector<int64_t> dims = wrap_dims(op, dims_in, x.dim());
  std::vector<bool> is_reduced(x.dim(), false);
  for (int64_t d : dims) is_reduced[d] = true;
  for (int64_t d = 0; d < x.dim(); ++d) {
    plan.kept_shape.push_back(is_reduced[d] ? 1 : x.shape()[d]);
    if (!is_reduced[d]) plan.out_shape.push_back(x.shape()[d]);
  }
  const bool adjacent = dims.empty() || dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  NoGrad no_grad;
  if (adjacent) {
    plan.block = x.contiguous();
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (is_reduced[d]) plan.reduced *= x.shape()[d];
      else if (!dims.empty() && d < dims.front()) plan.outer *= x.shape()[d];
      else plan.inner *= x.shape()[d];
    }
  } else {
    // Move the reduced dimensions to the end: [kept..., reduced...].
    std::vector<int64_t> order;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (!is_reduced[d]) order.push_back(d);
    for (int64_t d : dims) order.push_back(d);
    plan.block = x.permute(order).contiguous();
    for (int64_t d = 0; d < x.dim(); ++d) (is_reduced[d] ? plan.reduced : plan.outer) *= x.shape()[d];
  }
  return plan;
}

Tensor reduce_values(kernels::ReduceOp op, const ReductionPlan& plan, bool keepdim, Tensor* indices = nullptr) {
  Tensor values = Tensor::empty(keepdim ? plan.kept_shape : plan.out_shape, plan.block.options());
  Tensor index_out;
  if (indices) index_out = Tensor::empty(values.shape(), {DType::i64, plan.block.device()});
  kernels::reduce(plan.block.device(), op, plan.block, plan.outer, plan.reduced, plan.inner, values, index_out);
  if (indices) *indices = index_out;
  return values;
}

// amax/amin: the gradient is shared evenly among the positions that attain the extremum.
Tensor extremum(const char* op, kernels::ReduceOp kind, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReductionPlan plan = plan_reduction(op, x, dims);
  VIREO_CHECK(plan.reduced > 0, op, ": cannot reduce over an empty dimension of ", x.shape());
  Tensor out = reduce_values(kind, plan, keepdim);
  Tensor saved = x.detach();
  Tensor kept = out.detach().reshape(plan.kept_shape);
  return record(op, out, {x}, [saved, kept, kept_shape = plan.kept_shape](const Tensor& g) {
    Tensor mask = eq(saved, kept);
    Tensor count = sum_to(mask, kept_shape);
    return std::vector<Tensor>{div(mul(mask, g.reshape(kept_shape)), count)};
  }, {saved});
}

ValuesIndices extremum_with_index(const char* op, kernels::ReduceOp kind, const Tensor& x, int64_t dim, bool keepdim) {
  VIREO_CHECK(x.dim() > 0, op, ": needs at least one dimension");
  const int64_t d = wrap_dim(op, dim, x.dim());
  ReductionPlan plan = plan_reduction(op, x, {d});
  VIREO_CHECK(plan.reduced > 0, op, ": cannot reduce over an empty dimension of ", x.shape());
  Tensor indices;
  Tensor values = reduce_values(kind, plan, keepdim, &indices);
  Tensor kept_indices = indices.reshape(plan.kept_shape);
  values = record(op, values, {x}, [kept_indices, d, in_shape = x.shape(), kept_shape = plan.kept_shape](const Tensor& g) {
    Shape positions_shape(in_shape.size(), 1);
    positions_shape[d] = in_shape[d];
    Tensor positions = arange(in_shape[d], {.dtype = DType::i64, .device = g.device()}).reshape(positions_shape);
    Tensor mask = eq(positions, kept_indices).to(g.dtype());
    return std::vector<Tensor>{mul(mask, g.reshape(kept_shape))};
  });
  return {values, indices};
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReductionPlan plan = plan_reduction("sum", x, dims);
  Tensor out = reduce_values(kernels::ReduceOp::sum, plan, keepdim);
  return record("sum", out, {x}, [in_shape = x.shape(), kept_shape = plan.kept_shape](const Tensor& g) {
    return std::vector<Tensor>{g.reshape(kept_shape).expand(in_shape)};
  });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  VIREO_CHECK(x.defined() && is_floating(x.dtype()), "mean: needs a floating tensor, got ", describe(x));
  const std::vector<int64_t> wrapped = wrap_dims("mean", dims, x.dim());
  int64_t count = 1;
  for (int64_t d : wrapped) count *= x.shape()[d];
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(count));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  const std::vector<int64_t> wrapped = wrap_dims("var", dims, x.dim());
  int64_t count = 1;
  for (int64_t d : wrapped) count *= x.shape()[d];
  const Tensor centered = sub(x, mean(x, dims, true));
  const double divisor = static_cast<double>(count - (unbiased ? 1 : 0));
  VIREO_CHECK(divisor > 0, "var: ", count, " element(s) are too few for the ", unbiased ? "unbiased" : "biased",
              " variance");
  return mul(sum(square(centered), dims, keepdim), 1.0 / divisor);
}

Tensor std(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  return sqrt(var(x, dims, unbiased, keepdim));
}

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extremum("amax", kernels::ReduceOp::max, x, dims, keepdim);
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extremum("amin", kernels::ReduceOp::min, x, dims, keepdim);
}

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return extremum_with_index("max", kernels::ReduceOp::max, x, dim, keepdim);
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return extremum_with_index("min", kernels::ReduceOp::min, x, dim, keepdim);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGrad no_grad;
  return max(x, dim, keepdim).indices;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  NoGrad no_grad;
  return min(x, dim, keepdim).indices;
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  // log Σ exp(x) = m + log Σ exp(x − m) with m the maximum (detached: its gradient cancels exactly).
  Tensor shift;
  {
    NoGrad no_grad;
    shift = amax(x, dims, true);
    // An all −inf slice would give −inf − (−inf) = NaN; shift it by 0 instead.
    shift = where(eq(abs(shift), full({}, std::numeric_limits<double>::infinity(), shift.options())),
                  zeros({}, shift.options()), shift);
  }
  Tensor out = add(log(sum(exp(sub(x, shift)), dims, true)), shift);
  if (keepdim) return out;
  Shape squeezed;
  const std::vector<int64_t> wrapped = wrap_dims("logsumexp", dims, x.dim());
  for (int64_t d = 0; d < x.dim(); ++d)
    if (std::find(wrapped.begin(), wrapped.end(), d) == wrapped.end()) squeezed.push_back(x.shape()[d]);
  return out.reshape(squeezed);
}

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  VIREO_CHECK(p > 0, "norm: p must be positive, got ", p);
  if (std::isinf(p)) return amax(abs(x), dims, keepdim);
  if (p == 1.0) return sum(abs(x), dims, keepdim);
  if (p == 2.0) {
    // A primitive backward so that a zero vector gets a zero gradient instead of 0/0.
    Tensor out;
    Tensor saved = x.detach();
    {
      NoGrad no_grad;
      out = sqrt(sum(square(x), dims, keepdim));
    }
    const Shape kept_shape = plan_reduction("norm", x, dims).kept_shape;
    Tensor kept = out.detach().reshape(kept_shape);
    return record("norm", out, {x}, [saved, kept, kept_shape](const Tensor& g) {
      Tensor safe = where(eq(kept, zeros({}, kept.options())), ones({}, kept.options()), kept);
      return std::vector<Tensor>{mul(saved, div(g.reshape(kept_shape), safe))};
    }, {saved});
  }
  return pow(sum(pow(abs(x), p), dims, keepdim), 1.0 / p);
}

}  // namespace vireo
