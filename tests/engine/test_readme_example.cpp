// The code example of the README's "The engine" section, kept compiling and working here.
#include "gradcheck.h"

using namespace vireo;

TEST_CASE("the README example trains a linear classifier step") {
  manual_seed(0);
  // ---- as in README.md ----
  Tensor w = randn({10, 784}).requires_grad_();   // a leaf
  Tensor x = randn({64, 784});
  Tensor y = randint(0, 10, {64});                 // i64 labels
  Tensor loss = cross_entropy(linear(x, w), y);
  loss.backward();                                 // w.grad() now holds d loss / d w
  {
    NoGrad no_grad;                                // optimizer updates are not recorded
    w.add_(w.grad(), -0.1);
  }
  // ---- end of the example ----
  CHECK(w.grad().shape() == w.shape());
  CHECK(y.dtype() == DType::i64);
  // The step went downhill.
  NoGrad no_grad;
  CHECK(cross_entropy(linear(x, w), y).item() < loss.item());
}
