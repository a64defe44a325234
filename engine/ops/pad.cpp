// pad: constant, reflect and replicate padding of any dimensions, as torch.nn.functional.pad.
//
// Backward: a constant pad only moves elements, so its gradient is the pad with the opposite pads (which
// crops what was added and zero-fills what was cropped). Reflect and replicate read some input elements
// several times; their gradient folds each padded dimension back, adding the edge gradients onto the
// positions they were read from (kernels::pad_fold), and that fold is itself an op whose backward is the pad.
#include <string>

#include "engine/kernels/pad.h"
#include "engine/ops.h"

namespace vireo {
namespace {

const char* mode_name(PadMode mode) {
  switch (mode) {
    case PadMode::constant: return "constant";
    case PadMode::reflect: return "reflect";
    case PadMode::replicate: return "replicate";
  }
  return "?";
}

// Per-dimension (before, after), in dimension order, from torch's last-dimension-first list.
struct PadPlan {
  std::vector<int64_t> before, after;
  Shape out_shape;
};

PadPlan plan_pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode) {
  VIREO_CHECK(x.defined(), "pad: the input is undefined");
  const int64_t ndim = x.dim();
  VIREO_CHECK(pads.size() % 2 == 0 && static_cast<int64_t>(pads.size()) <= 2 * ndim, "pad: ", pads.size(),
              " pad values for a tensor of shape ", x.shape(), "; expected an even number, at most ", 2 * ndim);
  PadPlan plan;
  plan.before.assign(ndim, 0);
  plan.after.assign(ndim, 0);
  for (size_t k = 0; k < pads.size() / 2; ++k) {
    const int64_t d = ndim - 1 - static_cast<int64_t>(k);
    plan.before[d] = pads[2 * k];
    plan.after[d] = pads[2 * k + 1];
  }
  for (int64_t d = 0; d < ndim; ++d) {
    const int64_t b = plan.before[d], a = plan.after[d], extent = x.shape()[d];
    if (b == 0 && a == 0) {
      plan.out_shape.push_back(extent);
      continue;
    }
    if (mode != PadMode::constant) {
      VIREO_CHECK(b >= 0 && a >= 0, "pad: ", mode_name(mode), " padding (", b, ", ", a, ") of dimension ", d,
                  " of ", x.shape(), " is negative; only constant padding crops");
      VIREO_CHECK(extent > 0, "pad: ", mode_name(mode), " padding of dimension ", d, " of ", x.shape(),
                  " needs a nonempty dimension");
    }
    if (mode == PadMode::reflect)
      VIREO_CHECK(b < extent && a < extent, "pad: reflect padding (", b, ", ", a, ") of dimension ", d, " of ",
                  x.shape(), " must be smaller than its extent ", extent);
    VIREO_CHECK(extent + b + a >= 0, "pad: padding (", b, ", ", a, ") of dimension ", d, " of ", x.shape(),
                " leaves a negative extent");
    plan.out_shape.push_back(extent + b + a);
  }
  return plan;
}

// The gradient of a reflect/replicate pad: each padded dimension folded back to the input's extent.
Tensor pad_fold_op(const Tensor& g, const std::vector<int64_t>& pads, const PadPlan& plan, PadMode mode) {
  Tensor current = g.detach().contiguous();
  for (int64_t d = 0; d < static_cast<int64_t>(plan.before.size()); ++d) {
    if (plan.before[d] == 0 && plan.after[d] == 0) continue;
    Shape shape = current.shape();
    shape[d] -= plan.before[d] + plan.after[d];
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < d; ++k) outer *= shape[k];
    for (int64_t k = d + 1; k < static_cast<int64_t>(shape.size()); ++k) inner *= shape[k];
    Tensor folded = Tensor::empty(shape, current.options());
    kernels::pad_fold(current.device(), current, folded, outer, inner, plan.before[d], mode);
    current = folded;
  }
  return record("pad_backward", current, {g}, [pads, mode](const Tensor& gg) {
    return std::vector<Tensor>{pad(gg, pads, mode)};
  });
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  const PadPlan plan = plan_pad(x, pads, mode);
  if (x.dim() == 0) return clone(x);
  Tensor out = Tensor::empty(plan.out_shape, x.options());
  kernels::pad(x.device(), x.detach().contiguous(), out, plan.before, mode, value);
  if (!is_floating(x.dtype())) return out;
  return record("pad", out, {x}, [pads, plan, mode](const Tensor& g) {
    if (mode == PadMode::constant) {
      std::vector<int64_t> opposite(pads.size());
      for (size_t k = 0; k < pads.size(); ++k) opposite[k] = -pads[k];
      return std::vector<Tensor>{pad(g, opposite)};
    }
    return std::vector<Tensor>{pad_fold_op(g, pads, plan, mode)};
  });
}

}  // namespace vireo
