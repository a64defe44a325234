// Optimizer state dicts: torch's key names, snapshots, a resumed optimizer taking bit-identical steps for
// every optimizer, restored group hyperparameters, and refused state dicts whose errors name the key
// (with nothing changed by a refused load).
#include <functional>
#include <vector>

#include "engine/optim.h"
#include "gradcheck.h"

using namespace vireo;
using namespace vireo::optim;
using vireo::testing::check_error;

namespace {

using Values = std::vector<double>;

Values random_values(int64_t n, uint64_t seed) {
  Generator generator(seed);
  return randn({n}, {.dtype = DType::f64}, &generator).to_vector();
}

// Two parameter tensors (a matrix and a bias) in two groups, built from the same seed each time.
struct Model {
  Tensor weight, bias;
  explicit Model(DType dtype) {
    weight = Tensor::from_vector(random_values(12, 1), {3, 4}, {.dtype = dtype});
    bias = Tensor::from_vector(random_values(3, 2), {3}, {.dtype = dtype});
    weight.requires_grad_();
    bias.requires_grad_();
  }
  NamedTensors named() const { return {{"fc.weight", weight}, {"fc.bias", bias}}; }
  void give_grads(int step) const {
    weight.set_grad(Tensor::from_vector(random_values(12, 100 + step), weight.shape(), {.dtype = weight.dtype()}));
    bias.set_grad(Tensor::from_vector(random_values(3, 200 + step), bias.shape(), {.dtype = bias.dtype()}));
  }
};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(const Model&)>;

// A runs k steps; its state goes to B over a fresh copy of the parameters at A's current values; then both
// take the same further steps and must agree bit for bit, parameters and state.
void check_resume(const MakeOptimizer& make, DType dtype) {
  Model a_model(dtype);
  std::unique_ptr<Optimizer> a = make(a_model);
  for (int step = 0; step < 3; ++step) {
    a_model.give_grads(step);
    a->step();
  }
  a->param_groups()[0].lr *= 0.5;  // as a schedule would: the restored optimizer must see it too

  Model b_model(dtype);
  {
    NoGrad no_grad;
    b_model.weight.copy_(a_model.weight);
    b_model.bias.copy_(a_model.bias);
  }
  std::unique_ptr<Optimizer> b = make(b_model);
  b->load_state_dict(a->state_dict());
  CHECK(b->param_groups()[0].lr == a->param_groups()[0].lr);

  for (int step = 3; step < 6; ++step) {
    a_model.give_grads(step);
    b_model.give_grads(step);
    a->step();
    b->step();
  }
  CHECK(a_model.weight.to_vector() == b_model.weight.to_vector());
  CHECK(a_model.bias.to_vector() == b_model.bias.to_vector());
  const StateDict a_state = a->state_dict(), b_state = b->state_dict();
  REQUIRE(a_state.size() == b_state.size());
  for (const auto& [key, tensor] : a_state) {
    CAPTURE(key);
    REQUIRE(b_state.count(key) == 1);
    CHECK(tensor.to_vector() == b_state.at(key).to_vector());
  }
}

std::vector<std::string> keys_of(const StateDict& dict) {
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : dict) keys.push_back(key);
  return keys;
}

}  // namespace

TEST_CASE("SGD resumed from a state dict takes bit-identical steps") {
  for (DType dtype : {DType::f32, DType::f64})
    check_resume(
        [](const Model& m) {
          return std::make_unique<SGD>(split_decay_groups(m.named(), 0.1, 1e-3),
                                       SGDOptions{.momentum = 0.9, .nesterov = true});
        },
        dtype);
}

TEST_CASE("Adam with amsgrad resumed from a state dict takes bit-identical steps") {
  for (DType dtype : {DType::f32, DType::f64})
    check_resume(
        [](const Model& m) {
          return std::make_unique<Adam>(split_decay_groups(m.named(), 1e-2, 1e-3), AdamOptions{.amsgrad = true});
        },
        dtype);
}

TEST_CASE("AdamW resumed from a state dict takes bit-identical steps") {
  for (DType dtype : {DType::f32, DType::f64})
    check_resume(
        [](const Model& m) {
          return std::make_unique<AdamW>(split_decay_groups(m.named(), 1e-2, 0.05), AdamWOptions{});
        },
        dtype);
}

TEST_CASE("LARS resumed from a state dict takes bit-identical steps") {
  for (DType dtype : {DType::f32, DType::f64})
    check_resume(
        [](const Model& m) {
          return std::make_unique<LARS>(lars_param_groups(m.named(), 0.2, 1.5e-6),
                                        LARSOptions{.trust_coefficient = 0.01});
        },
        dtype);
}

TEST_CASE("the state dict uses torch's keys and holds scalars as 0-d tensors") {
  Model model(DType::f32);
  Adam adam(split_decay_groups(model.named(), 1e-3, 0.1), {.betas = {0.8, 0.9}});
  model.weight.set_grad(Tensor::from_vector(random_values(12, 5), {3, 4}));  // the bias gets no gradient
  adam.step();
  adam.step();
  const StateDict dict = adam.state_dict();
  const std::vector<std::string> expected = {
      "param_groups.0.amsgrad", "param_groups.0.betas", "param_groups.0.eps", "param_groups.0.exclude_from_adaptation",
      "param_groups.0.lr", "param_groups.0.maximize", "param_groups.0.params", "param_groups.0.weight_decay",
      "param_groups.1.amsgrad", "param_groups.1.betas", "param_groups.1.eps", "param_groups.1.exclude_from_adaptation",
      "param_groups.1.lr", "param_groups.1.maximize", "param_groups.1.params", "param_groups.1.weight_decay",
      "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step"};
  CHECK(keys_of(dict) == expected);
  CHECK(dict.at("state.0.step").dim() == 0);
  CHECK(dict.at("state.0.step").item() == 2.0);
  CHECK(dict.at("state.0.exp_avg").shape() == Shape{3, 4});
  CHECK(dict.at("param_groups.1.lr").dim() == 0);
  CHECK(dict.at("param_groups.1.lr").dtype() == DType::f64);
  CHECK(dict.at("param_groups.1.weight_decay").item() == 0.0);
  CHECK(dict.at("param_groups.1.exclude_from_adaptation").item() == 1.0);
  CHECK(dict.at("param_groups.0.betas").to_vector() == Values{0.8, 0.9});
  CHECK(dict.at("param_groups.1.params").to_vector() == Values{1.0});

  // A snapshot: another step leaves it as it was.
  const Values exp_avg = dict.at("state.0.exp_avg").to_vector();
  adam.step();
  CHECK(dict.at("state.0.exp_avg").to_vector() == exp_avg);
  CHECK(adam.state_dict().at("state.0.exp_avg").to_vector() != exp_avg);

  SGD plain({model.weight}, {.lr = 0.1});
  plain.step();
  CHECK(plain.state_dict().count("state.0.momentum_buffer") == 0);  // no momentum, no state (torch: None)
  SGD heavy({model.weight}, {.lr = 0.1, .momentum = 0.9});
  heavy.step();
  CHECK(heavy.state_dict().count("state.0.momentum_buffer") == 1);
  CHECK(heavy.state_dict().count("state.0.step") == 0);  // torch's SGD keeps no step count
}

TEST_CASE("load_state_dict restores the hyperparameters saved in the groups") {
  Model a_model(DType::f64), b_model(DType::f64);
  SGD a(split_decay_groups(a_model.named(), 0.1, 1e-3), {.momentum = 0.9, .dampening = 0.1});
  SGD b(split_decay_groups(b_model.named(), 0.5, 0.0), {.momentum = 0.5});
  a.param_groups()[1].lr = 0.025;
  b.load_state_dict(a.state_dict());
  CHECK(b.param_groups()[0].lr == 0.1);
  CHECK(b.param_groups()[0].weight_decay == 1e-3);
  CHECK(b.param_groups()[1].lr == 0.025);
  CHECK(b.param_groups()[1].exclude_from_adaptation);
  CHECK(b.options().momentum == 0.9);
  CHECK(b.options().dampening == 0.1);
}

TEST_CASE("bad state dicts are refused with errors that name the key") {
  Model model(DType::f32);
  auto make = [&] { return Adam(split_decay_groups(model.named(), 1e-3, 0.1), {.amsgrad = true}); };
  Adam source = make();
  model.give_grads(0);
  source.step();
  const StateDict good = source.state_dict();
  Adam target = make();

  auto refuses = [&](const std::function<void(StateDict&)>& edit, std::initializer_list<const char*> fragments) {
    StateDict bad = good;
    edit(bad);
    check_error([&] { target.load_state_dict(bad); }, fragments);
    // Nothing changed: still the fresh optimizer.
    CHECK(target.state(model.weight) == nullptr);
    CHECK(target.param_groups()[0].weight_decay == 0.1);
    CHECK(target.options().amsgrad);
  };
  refuses([](StateDict& d) { d["state.0.exp_avg"] = zeros({4, 3}); }, {"Adam", "state.0.exp_avg", "[4, 3]", "[3, 4]"});
  refuses([](StateDict& d) { d["state.1.exp_avg_sq"] = zeros({2}); }, {"state.1.exp_avg_sq", "[2] f32", "[3] f32"});
  refuses([](StateDict& d) { d.erase("state.0.max_exp_avg_sq"); }, {"missing key state.0.max_exp_avg_sq"});
  refuses([](StateDict& d) { d.erase("state.1.step"); }, {"missing key state.1.step"});
  refuses([](StateDict& d) { d["state.0.step"] = scalar_tensor(1.5, {.dtype = DType::f64}); }, {"state.0.step", "1.5"});
  refuses([](StateDict& d) { d["state.0.momentum_buffer"] = zeros({3, 4}); }, {"unexpected key state.0.momentum_buffer"});
  refuses([](StateDict& d) { d["state.2.exp_avg"] = zeros({3}); }, {"state.2.exp_avg", "parameter 2", "2 parameters"});
  refuses([](StateDict& d) { d["lr"] = zeros({}); }, {"unexpected key lr"});
  refuses([](StateDict& d) { d["param_groups.2.lr"] = zeros({}); }, {"3 param groups", "has 2"});
  refuses([](StateDict& d) { d.erase("param_groups.1.eps"); }, {"missing key param_groups.1.eps"});
  refuses([](StateDict& d) { d["param_groups.0.params"] = Tensor::from_vector({0, 1}, {2}, {.dtype = DType::i64}); },
          {"param_groups.0.params", "group 0 has 1 parameters"});
  refuses([](StateDict& d) { d["param_groups.1.betas"] = Tensor::from_vector({0.5, 0.9}, {2}, {.dtype = DType::f64}); },
          {"param_groups.1.betas", "[0.5, 0.9]", "param_groups.0.betas", "[0.9, 0.999]"});
  refuses([](StateDict& d) { d["param_groups.0.betas"] = zeros({3}); }, {"param_groups.0.betas", "[3] f32"});
  refuses([](StateDict& d) { d["param_groups.0.lr"] = zeros({2}); }, {"param_groups.0.lr", "one value"});
  refuses([](StateDict& d) { d["param_groups.1.weight_decay"] = scalar_tensor(-1.0); }, {"param_groups.1.weight_decay", "-1"});
  refuses([](StateDict& d) { d["param_groups.0.foo"] = zeros({}); }, {"unexpected key param_groups.0.foo"});
  refuses(
      [](StateDict& d) {
        for (auto& key : {"param_groups.0.betas", "param_groups.1.betas"})
          d[key] = Tensor::from_vector({1.0, 0.9}, {2}, {.dtype = DType::f64});
      },
      {"Adam", "beta parameter at index 0"});
  // Turning amsgrad off in the dict while the state still holds max_exp_avg_sq: refused, and amsgrad is
  // back on afterwards.
  refuses(
      [](StateDict& d) {
        d["param_groups.0.amsgrad"] = scalar_tensor(0.0, {.dtype = DType::f64});
        d["param_groups.1.amsgrad"] = scalar_tensor(0.0, {.dtype = DType::f64});
      },
      {"unexpected key state.0.max_exp_avg_sq"});

  // An optimizer of another kind.
  SGD sgd(split_decay_groups(model.named(), 0.1, 0.0), {.momentum = 0.9});
  check_error([&] { sgd.load_state_dict(good); }, {"SGD load_state_dict", "missing key param_groups.0.momentum"});
  // The good one loads.
  target.load_state_dict(good);
  REQUIRE(target.state(model.weight) != nullptr);
  CHECK(target.state(model.weight)->step == 1);
}
