#include "engine/ops/activation.h"

#include "engine/kernels/approx_activation.h"
#include "engine/kernels/elementwise.h"
#include "engine/ops.h"

namespace vireo {

namespace detail {
Tensor unary_op(const char* op, kernels::UnaryOp kind, const Tensor& x, kernels::UnaryParams params);
}

using kernels::UnaryOp;

Tensor relu(const Tensor& x) { return detail::unary_op("relu", UnaryOp::relu, x, {}); }
Tensor gelu(const Tensor& x, GeluApproximation approximation) {
  return approximation == GeluApproximation::none ? detail::unary_op("gelu", UnaryOp::gelu, x, {})
                                                  : detail::unary_op("gelu_tanh", UnaryOp::gelu_tanh, x, {});
}
Tensor silu(const Tensor& x) { return detail::unary_op("silu", UnaryOp::silu, x, {}); }
Tensor sigmoid(const Tensor& x) { return detail::unary_op("sigmoid", UnaryOp::sigmoid, x, {}); }
Tensor tanh(const Tensor& x) { return detail::unary_op("tanh", UnaryOp::tanh, x, {}); }
Tensor softplus(const Tensor& x, double beta, double threshold) {
  VIREO_CHECK(beta > 0, "softplus: beta must be positive, got ", beta);
  return detail::unary_op("softplus", UnaryOp::softplus, x, {beta, threshold});
}
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return detail::unary_op("leaky_relu", UnaryOp::leaky_relu, x, {negative_slope});
}

// ---- Approx-BP activations ----

// The constants of the paper (METHODS.md §3), fitted so that h approximates the activation.
const ApproxBackward kReGELU2{{-3.1858810036855245, -0.001178821281161997, 3.190832613414926},
                              {-0.04922261145617846, 1.0979632065417297, -0.048740595085551286}};
const ApproxBackward kReSiLU2{{-6.3050461001646445, -0.0008684942046214787, 6.325815242089708},
                              {-0.04060357190528599, 1.080925428529668, -0.040321856624382146}};

std::array<double, 4> ApproxBackward::slopes() const {
  return {0.0, weights[0], weights[0] + weights[1], weights[0] + weights[1] + weights[2]};
}

Tensor pack_activation_codes(const Tensor& x, const ApproxBackward& surrogate) {
  VIREO_CHECK(x.defined() && is_floating(x.dtype()), "pack_activation_codes: needs a floating input, got ",
              x.defined() ? describe(x) : std::string("an undefined tensor"));
  NoGrad no_grad;
  const Tensor contiguous_x = x.detach().contiguous();
  Tensor packed = Tensor::empty({(x.numel() + 3) / 4}, TensorOptions{.dtype = DType::u8, .device = x.device()});
  kernels::pack_activation_codes(x.device(), contiguous_x, surrogate.thresholds, packed);
  return packed;
}

Tensor unpack_activation_codes(const Tensor& packed, int64_t count) {
  VIREO_CHECK(packed.defined() && packed.dtype() == DType::u8 && packed.dim() == 1 && packed.is_contiguous() &&
                  count >= 0 && packed.numel() == (count + 3) / 4,
              "unpack_activation_codes: ", count, " codes need a contiguous u8 [", (count + 3) / 4, "], got ",
              packed.defined() ? describe(packed) : std::string("an undefined tensor"));
  Tensor codes = Tensor::empty({count}, packed.options());
  kernels::unpack_activation_codes(packed.device(), packed, codes);
  return codes;
}

namespace {

// The exact activation forward, recorded with the surrogate's backward over the packed codes.
Tensor approx_backward_activation(const char* op, const Tensor& x, const ApproxBackward& surrogate,
                                  Tensor (*exact)(const Tensor&)) {
  VIREO_CHECK(x.defined(), op, ": the input is undefined");
  VIREO_CHECK(is_floating(x.dtype()), op, ": needs a floating input, got ", describe(x));
  Tensor out;
  {
    NoGrad no_grad;
    out = exact(x.detach());
  }
  if (!needs_grad({x})) return out;
  const Tensor packed = pack_activation_codes(x, surrogate);
  return record(op, out, {x}, [packed, slopes = surrogate.slopes()](const Tensor& g) {
    const Tensor contiguous_g = g.contiguous();
    Tensor grad = Tensor::empty(g.shape(), g.options());
    kernels::approx_activation_backward(g.device(), packed, contiguous_g, slopes, grad);
    return std::vector<Tensor>{grad};
  });
}

Tensor exact_gelu(const Tensor& x) { return gelu(x); }

}  // namespace

Tensor regelu2(const Tensor& x) { return approx_backward_activation("regelu2", x, kReGELU2, exact_gelu); }
Tensor resilu2(const Tensor& x) { return approx_backward_activation("resilu2", x, kReSiLU2, silu); }

}  // namespace vireo
