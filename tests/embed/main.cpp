// Mechanics check (replaced by the module example once nn/optim land).
#include <vireo/vireo.h>
#include <cstdio>
using namespace vireo;
int main() {
  manual_seed(0);
  Tensor w = zeros({8, 1}).requires_grad_();
  Tensor x = randn({256, 8});
  Tensor y = tanh(x.sum({1}, true));
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    Tensor loss = mse_loss(matmul(x, w), y);
    w.zero_grad();
    loss.backward();
    { NoGrad guard; w.add_(w.grad(), -0.1); }
    (step == 0 ? first : last) = loss.item();
  }
  std::printf("loss %.4f -> %.4f\n", first, last);
  return last < 0.5 * first ? 0 : 1;
}
