// A research program embedding an installed Vireo: a module defined here, a forward hook, a training loop.
#include <vireo/vireo.h>

#include <cstdio>

using namespace vireo;

// A two-layer network written in user code, like a torch.nn.Module subclass.
struct TwoLayerNet : nn::Module {
  std::shared_ptr<nn::Linear> fc1 = register_module("fc1", std::make_shared<nn::Linear>(8, 32));
  std::shared_ptr<nn::Linear> fc2 = register_module("fc2", std::make_shared<nn::Linear>(32, 1));
  Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x))); }
};

int main() {
  manual_seed(0);
  auto model = std::make_shared<TwoLayerNet>();
  optim::Adam optimizer(model->parameters(), {.lr = 1e-2});
  Tensor x = randn({256, 8});
  Tensor y = tanh(x.sum({1}, /*keepdim=*/true));  // a smooth target the network can fit

  double active_fraction = 0;  // a forward hook watches the hidden layer without touching the model
  auto hook = model->register_forward_hook("fc1", [&](const Tensor& out) {
    active_fraction = gt(out, 0.0).mean().item();
    return out;
  });
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 300; ++step) {
    Tensor loss = nn::mse_loss((*model)(x), y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    (step == 0 ? first_loss : last_loss) = loss.item();
  }
  hook.remove();
  std::printf("loss %.4f -> %.4f, %.0f%% of hidden units active\n", first_loss, last_loss, 100 * active_fraction);
  return last_loss < 0.05 * first_loss ? 0 : 1;  // the test: the loss must fall twentyfold
}
