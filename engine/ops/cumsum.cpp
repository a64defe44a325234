// cumsum along one dimension. Its backward is the cumulative sum taken from the other end:
//   y_r = Σ_{r' ≤ r} x_r'   ⇒   ∂L/∂x_r' = Σ_{r ≥ r'} ∂L/∂y_r
// and that reverse scan's backward is the forward scan again, so gradients of any order flow.
#include "engine/kernels/cumsum.h"
#include "engine/ops.h"

namespace vireo {
namespace {

Tensor scan(const Tensor& x, int64_t dim, bool reverse) {
  Tensor out = Tensor::empty(x.shape(), x.options());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d < dim) outer *= x.shape()[d];
    else if (d > dim) inner *= x.shape()[d];
  const int64_t extent = x.dim() == 0 ? 1 : x.shape()[dim];
  kernels::cumsum(x.device(), x.detach().contiguous(), outer, extent, inner, reverse, out);
  if (!is_floating(x.dtype())) return out;
  return record(reverse ? "reverse_cumsum" : "cumsum", out, {x}, [dim, reverse](const Tensor& g) {
    return std::vector<Tensor>{scan(g, dim, !reverse)};
  });
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  VIREO_CHECK(x.defined(), "cumsum: the input is undefined");
  return scan(x, wrap_dim("cumsum", dim, x.dim()), false);
}

}  // namespace vireo
