// Matrix products: matmul (torch.matmul semantics), bmm and linear. All reach the batched GEMM kernel
// (engine/kernels/linalg.h); transposed views are handed to it with a transpose flag rather than copied.
//
// Backward of C = A·B (per batch matrix): dA = dC·Bᵀ, dB = Aᵀ·dC, each summed over the batch dimensions
// that broadcasting added. Backward of y = x·Wᵀ + b over the flattened rows of x: dx = dy·W, dW = dyᵀ·x,
// db = Σ_rows dy. The transposes are views, so every gradient is one GEMM (or one batch of them).
#include "engine/ops/linalg.h"

#include "engine/autocast.h"
#include "engine/kernels/linalg.h"
#include "engine/ops.h"

namespace vireo {
namespace {

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  VIREO_CHECK(a.defined() && b.defined(), op, ": an operand is undefined");
  VIREO_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), op, ": needs floating operands, got ", describe(a),
              " and ", describe(b));
  VIREO_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ (", describe(a), " and ", describe(b), ")");
  VIREO_CHECK(a.device() == b.device(), op, ": devices differ (", describe(a), " and ", describe(b), ")");
}

Shape batch_dims(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

// A matrix as the GEMM kernel reads it: a view with unit stride along its last dimension, and whether
// the product must read it transposed. A transposed view (unit stride along its rows) becomes its
// untransposed base plus the flag; anything else is copied to a contiguous tensor.
struct GemmOperand {
  Tensor matrix;
  bool transposed;
};

GemmOperand gemm_operand(const Tensor& x) {
  const int64_t nd = x.dim();
  const int64_t rows = x.shape()[nd - 2], cols = x.shape()[nd - 1];
  const int64_t row_stride = x.strides()[nd - 2], col_stride = x.strides()[nd - 1];
  if ((col_stride == 1 || cols <= 1) && (rows <= 1 || row_stride >= std::max<int64_t>(cols, 1))) return {x, false};
  if ((row_stride == 1 || rows <= 1) && (cols <= 1 || col_stride >= std::max<int64_t>(rows, 1)))
    return {x.transpose(-1, -2), true};
  return {x.contiguous(), false};
}

// out[batch..., M, N] = a[batch..., M, K] · b[batch..., K, N], batch dimensions broadcast (shapes already
// checked). No history: the callers record it.
Tensor matmul_forward(const Tensor& a, const Tensor& b, const Shape& batch) {
  NoGrad no_grad;
  const int64_t m = a.shape()[a.dim() - 2], n = b.shape()[b.dim() - 1];
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::empty(out_shape, a.options());
  // Broadcast after choosing the layout, so that a copy (when one is needed) is of the operand itself,
  // never of its broadcast.
  auto prepare = [&batch](const Tensor& x) {
    GemmOperand operand = gemm_operand(x);
    Shape shape = batch;
    shape.push_back(operand.matrix.shape()[operand.matrix.dim() - 2]);
    shape.push_back(operand.matrix.shape()[operand.matrix.dim() - 1]);
    operand.matrix = operand.matrix.expand(shape);
    return operand;
  };
  const GemmOperand ga = prepare(a), gb = prepare(b);
  kernels::batched_gemm(a.device(), ga.matrix, ga.transposed, gb.matrix, gb.transposed, Tensor(), out, 0.0);
  return out;
}

// The differentiable product of two operands with at least two dimensions each.
Tensor matmul_batched(const char* op, const Tensor& a, const Tensor& b) {
  const Shape batch = broadcast_shapes(op, batch_dims(a), batch_dims(b));
  Tensor out = matmul_forward(a.detach(), b.detach(), batch);
  const bool grad_a = a.requires_grad(), grad_b = b.requires_grad();
  Tensor sa = a.detach(), sb = b.detach();
  return record(op, out, {a, b}, [sa, sb, grad_a, grad_b](const Tensor& g) {
    Tensor da, db;
    if (grad_a) da = sum_to(matmul_batched("matmul", g, sb.transpose(-1, -2)), sa.shape());
    if (grad_b) db = sum_to(matmul_batched("matmul", sa.transpose(-1, -2), g), sb.shape());
    return std::vector<Tensor>{da, db};
  }, {sa, sb});
}

// Can x's leading dimensions (all but the last) merge into one without a copy? Then a product with a
// plain matrix is a single GEMM over all rows.
bool rows_merge_as_view(const Tensor& x) {
  for (int64_t d = 0; d + 2 < x.dim(); ++d)
    if (x.shape()[d] != 1 && x.strides()[d] != x.strides()[d + 1] * x.shape()[d + 1]) return false;
  return true;
}

int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t i = begin; i < end; ++i) result *= shape[i];
  return result;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (const auto compute = autocast_compute_type({&a, &b})) {
    Autocast suspended(std::nullopt);
    return matmul(a.to(*compute), b.to(*compute)).to(DType::f32);
  }
  check_operands("matmul", a, b);
  VIREO_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least one dimension, got shapes ",
              a.shape(), " and ", b.shape());
  const int64_t k_a = a.shape().back(), k_b = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  VIREO_CHECK(k_a == k_b, "matmul: shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (inner dimensions ",
              k_a, " and ", k_b, " differ)");
  if (a.dim() > 2 && b.dim() > 2) {
    const Shape batch_a = batch_dims(a), batch_b = batch_dims(b);
    for (size_t i = 1; i <= std::min(batch_a.size(), batch_b.size()); ++i) {
      const int64_t x = batch_a[batch_a.size() - i], y = batch_b[batch_b.size() - i];
      VIREO_CHECK(x == y || x == 1 || y == 1, "matmul: shapes ", a.shape(), " and ", b.shape(),
                  " have batch dimensions that do not broadcast (", batch_a, " and ", batch_b, ")");
    }
  }
  // 1-D operands: a vector on the left is a one-row matrix, on the right a one-column matrix; the added
  // dimension is removed from the result.
  if (a.dim() == 1 && b.dim() == 1) return reshape(matmul_batched("matmul", a.unsqueeze(0), b.unsqueeze(1)), Shape{});
  if (a.dim() == 1) return matmul_batched("matmul", a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) {
    const Tensor column = b.unsqueeze(1);
    if (a.dim() > 2 && rows_merge_as_view(a)) {
      Shape out_shape(a.shape().begin(), a.shape().end() - 1);
      const int64_t rows = product(a.shape(), 0, a.shape().size() - 1);
      return reshape(matmul_batched("matmul", reshape(a, {rows, k_a}), column), out_shape);
    }
    return matmul_batched("matmul", a, column).squeeze(-1);
  }
  // [batch..., M, K] · [K, N]: when the rows of a merge without a copy, one GEMM over all batch·M rows.
  if (a.dim() > 2 && b.dim() == 2 && rows_merge_as_view(a)) {
    Shape out_shape = a.shape();
    out_shape.back() = b.shape()[1];
    const int64_t rows = product(a.shape(), 0, a.shape().size() - 1);
    return reshape(matmul_batched("matmul", reshape(a, {rows, k_a}), b), out_shape);
  }
  return matmul_batched("matmul", a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  if (const auto compute = autocast_compute_type({&a, &b})) {
    Autocast suspended(std::nullopt);
    return bmm(a.to(*compute), b.to(*compute)).to(DType::f32);
  }
  check_operands("bmm", a, b);
  VIREO_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expects 3-D operands [B, M, K] and [B, K, N], got shapes ", a.shape(),
              " and ", b.shape());
  VIREO_CHECK(a.shape()[0] == b.shape()[0], "bmm: shapes ", a.shape(), " and ", b.shape(), " have different batch sizes");
  VIREO_CHECK(a.shape()[2] == b.shape()[1], "bmm: shapes ", a.shape(), " and ", b.shape(),
              " cannot be multiplied (inner dimensions ", a.shape()[2], " and ", b.shape()[1], " differ)");
  return matmul_batched("bmm", a, b);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (const auto compute = autocast_compute_type({&x, &weight, &bias})) {
    Autocast suspended(std::nullopt);
    return linear(x.to(*compute), weight.to(*compute), bias.defined() ? bias.to(*compute) : bias).to(DType::f32);
  }
  check_operands("linear", x, weight);
  VIREO_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got ", describe(weight));
  VIREO_CHECK(x.dim() >= 1, "linear: the input needs at least one dimension, got ", describe(x));
  const int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  VIREO_CHECK(x.shape().back() == in_features, "linear: input ", x.shape(), " and weight ", weight.shape(),
              " do not match (the input's last dimension ", x.shape().back(), " should equal in_features ", in_features,
              ")");
  if (bias.defined()) {
    check_operands("linear", weight, bias);
    VIREO_CHECK(bias.dim() == 1 && bias.shape()[0] == out_features, "linear: bias ", bias.shape(),
                " does not match weight ", weight.shape(), " (expected [", out_features, "])");
  }
  const int64_t rows = product(x.shape(), 0, x.shape().size() - 1);
  Shape out_shape = x.shape();
  out_shape.back() = out_features;

  // The rows of x as one [rows, in] matrix (a view when the strides allow; a 2-D transposed input stays a
  // view and reaches the GEMM as trans_a).
  Tensor rows_x;
  Tensor out;
  {
    NoGrad no_grad;
    rows_x = x.dim() == 2 ? x.detach() : reshape(x.detach(), {rows, in_features});
    const GemmOperand gx = gemm_operand(rows_x), gw = gemm_operand(weight.detach());
    out = Tensor::empty({rows, out_features}, x.options());
    // y = x·Wᵀ: W stored [out, in] is exactly "B stored as [N×K]", so trans_b; a transposed W view is
    // already [in, out] row-major.
    kernels::batched_gemm(x.device(), gx.matrix, gx.transposed, gw.matrix, !gw.transposed,
                          bias.defined() ? bias.detach().contiguous() : Tensor(), out, 0.0);
    out = out.view(out_shape);
  }
  const bool grad_x = x.requires_grad(), grad_w = weight.requires_grad();
  const bool grad_b = bias.defined() && bias.requires_grad();
  Tensor sw = weight.detach();
  return record("linear", out, {x, weight, bias},
                [rows_x, sw, grad_x, grad_w, grad_b, rows, out_features, x_shape = x.shape()](const Tensor& g) {
                  const Tensor dy = reshape(g, {rows, out_features});
                  Tensor dx, dw, db;
                  if (grad_x) dx = reshape(matmul(dy, sw), x_shape);   // [rows, out]·[out, in]
                  if (grad_w) dw = matmul(dy.t(), rows_x);              // [out, rows]·[rows, in]
                  if (grad_b) db = sum(dy, {0});
                  return std::vector<Tensor>{dx, dw, db};
                },
                {rows_x, sw});
}

}  // namespace vireo
