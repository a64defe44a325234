// nn::Module: registration and its errors, PyTorch-ordered names and counts on a ResNet-style model,
// finding submodules, printing, train/eval, apply, zero_grad, in-place dtype/device moves, the state dict
// (round trip, strict and non-strict loads, errors), and forward hooks (order, replacement, removal,
// paths, hooks changed while hooks run).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gradcheck.h"
#include "nn_test_models.h"

using namespace vireo;
using vireo::testing::BasicBlock;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::TinyResNet;

namespace {

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& entry : named) out.push_back(entry.first);
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

// A module that only registers what a test asks for.
class Bare : public nn::Module {
 public:
  using nn::Module::register_buffer;
  using nn::Module::register_module;
  using nn::Module::register_parameter;
};

// y = x·scale: a module whose forward is easy to follow through hooks.
class Scale : public nn::Module {
 public:
  explicit Scale(double factor) : factor(factor) {}
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override { return mul(x, factor); }
  double factor;
};

// y = a + b: a two-input module.
class Add : public nn::Module {
 public:
  using nn::Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override {
    VIREO_CHECK(inputs.size() == 2, "Add: needs two inputs");
    return add(inputs[0], inputs[1]);
  }
};

class NoForward : public nn::Module {};

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// registration

TEST_CASE("register_parameter makes a leaf that requires grad and keeps the handle") {
  Bare m;
  Tensor w = m.register_parameter("w", zeros({2, 3}));
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  REQUIRE(m.parameters().size() == 1);
  CHECK(m.parameters()[0].impl() == w.impl());
  // A value with history is detached first: a parameter is always a leaf.
  Tensor base = ones({2}, {.requires_grad = true});
  Tensor from_history = m.register_parameter("v", mul(base, 2.0));
  CHECK(from_history.is_leaf());
  CHECK(from_history.requires_grad());
  Tensor frozen = m.register_parameter("frozen", zeros({1}), false);
  CHECK_FALSE(frozen.requires_grad());
  CHECK(m.num_parameters() == 6 + 2 + 1);
  CHECK(m.num_parameters(true) == 6 + 2);
}

TEST_CASE("registration refuses empty dotted and duplicate names and cycles") {
  Bare m;
  m.register_parameter("weight", zeros({1}));
  check_error([&] { m.register_parameter("", zeros({1})); }, {"Bare.register_parameter", "empty"});
  check_error([&] { m.register_buffer("a.b", zeros({1})); }, {"Bare.register_buffer", "'a.b'", "'.'"});
  check_error([&] { m.register_buffer("weight", zeros({1})); }, {"register_buffer", "'weight'", "already registered"});
  check_error([&] { m.register_module("weight", std::make_shared<nn::ReLU>()); }, {"register_module", "'weight'"});
  check_error([&] { m.register_module("child", std::shared_ptr<nn::ReLU>()); }, {"register_module", "'child'", "null"});
  check_error([&] { m.register_parameter("index", zeros({1}, {.dtype = DType::i64})); },
              {"register_parameter", "'index'", "i64"});
  auto outer = std::make_shared<Bare>();
  auto inner = outer->register_module("inner", std::make_shared<Bare>());
  check_error([&] { inner->register_module("loop", outer); }, {"register_module", "'loop'", "cycles"});
}

TEST_CASE("non-persistent buffers move with the module but stay out of the state dict") {
  Bare m;
  m.register_buffer("kept", ones({2}));
  m.register_buffer("scratch", ones({3}), false);
  CHECK(names_of(m.named_buffers()) == std::vector<std::string>{"kept", "scratch"});
  const StateDict state = m.state_dict();
  CHECK(state.count("kept") == 1);
  CHECK(state.count("scratch") == 0);
  m.to(DType::f64);
  CHECK(m.named_buffers()[1].second.dtype() == DType::f64);
}

// ---------------------------------------------------------------------------------------------------------
// names, counts, walks

TEST_CASE("named_parameters of a ResNet-style model use PyTorch's dotted names and order") {
  TinyResNet model;
  const std::vector<std::string> names = names_of(model.named_parameters());
  const std::vector<std::string> first{"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight",
                                       "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.conv2.weight"};
  REQUIRE(names.size() > first.size());
  CHECK(std::vector<std::string>(names.begin(), names.begin() + first.size()) == first);
  CHECK(std::find(names.begin(), names.end(), "layer2.0.downsample.0.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "layer2.0.downsample.1.bias") != names.end());
  CHECK(names.back() == "fc.bias");

  const std::vector<std::string> buffers = names_of(model.named_buffers());
  CHECK(buffers[0] == "bn1.running_mean");
  CHECK(buffers[1] == "bn1.running_var");
  CHECK(buffers[2] == "bn1.num_batches_tracked");
}

TEST_CASE("parameter counts of Conv2d and of the ResNet-style model match the hand count") {
  CHECK(nn::Conv2d(3, 64, 3).num_parameters() == 64 * 3 * 3 * 3 + 64);  // 1792
  CHECK(nn::Conv2d(3, 64, 3).num_parameters() == 1792);
  CHECK(nn::Linear(16, 10).num_parameters() == 170);
  // conv1 + bn1, two 8→8 blocks (two 3x3 convs and two BNs each), one 8→16 block with a 1x1 shortcut, fc.
  const int64_t stem = 8 * 3 * 3 * 3 + 2 * 8;
  const int64_t block_8 = 8 * 8 * 9 + 2 * 8 + 8 * 8 * 9 + 2 * 8;
  const int64_t block_16 = 16 * 8 * 9 + 2 * 16 + 16 * 16 * 9 + 2 * 16 + 16 * 8 * 1 + 2 * 16;
  const int64_t fc = 16 * 10 + 10;
  TinyResNet model;
  CHECK(model.num_parameters() == stem + 2 * block_8 + block_16 + fc);
  for (const Tensor& p : model.layer1->parameters()) p.impl()->requires_grad = false;
  CHECK(model.num_parameters(true) == stem + block_16 + fc);
  CHECK(model.num_parameters() == stem + 2 * block_8 + block_16 + fc);
}

TEST_CASE("state_dict holds parameters and persistent buffers under PyTorch names with num_batches_tracked as i64") {
  TinyResNet model;
  const StateDict state = model.state_dict();
  REQUIRE(state.count("bn1.num_batches_tracked") == 1);
  CHECK(state.at("bn1.num_batches_tracked").dtype() == DType::i64);
  CHECK(state.at("bn1.num_batches_tracked").dim() == 0);
  CHECK(state.count("layer1.0.bn1.running_mean") == 1);
  CHECK(state.count("layer2.0.downsample.1.running_var") == 1);
  CHECK(state.count("fc.weight") == 1);
  // 8 BatchNorms (stem, two per block, the shortcut's) with 3 buffers each, plus every parameter: 8
  // convolutions, 8 BN weight/bias pairs and fc's weight and bias.
  CHECK(model.named_parameters().size() == 8 + 8 * 2 + 2);
  CHECK(state.size() == model.named_parameters().size() + 8 * 3);
  // Detached but sharing storage, like torch's state_dict().
  CHECK_FALSE(state.at("fc.weight").requires_grad());
  CHECK(state.at("fc.weight").storage() == model.fc->weight.storage());
}

TEST_CASE("named_modules walks self first then depth first and children lists direct children") {
  TinyResNet model;
  std::vector<std::string> names;
  for (const auto& [name, module] : model.named_modules()) names.push_back(name);
  const std::vector<std::string> first{"", "conv1", "bn1", "layer1", "layer1.0", "layer1.0.conv1", "layer1.0.bn1"};
  CHECK(std::vector<std::string>(names.begin(), names.begin() + first.size()) == first);
  CHECK(names.back() == "fc");
  CHECK(std::find(names.begin(), names.end(), "layer2.0.downsample.0") != names.end());
  // 1 root + conv1 + bn1 + layer1 (1 + 2 blocks × 5) + layer2 (1 + block 5 + downsample 3) + fc
  CHECK(names.size() == 1 + 1 + 1 + 11 + 9 + 1);
  std::vector<std::string> children;
  for (const auto& [name, child] : model.named_children()) children.push_back(name);
  CHECK(children == std::vector<std::string>{"conv1", "bn1", "layer1", "layer2", "fc"});
  CHECK(model.children().size() == 5);
  CHECK(model.modules().size() == names.size());
}

TEST_CASE("a module registered twice is walked once but appears under both names in the state dict") {
  Bare model;
  auto shared = std::make_shared<nn::Linear>(3, 2);
  model.register_module("encoder", shared);
  model.register_module("decoder", shared);
  CHECK(model.parameters().size() == 2);
  CHECK(model.num_parameters() == 8);
  CHECK(names_of(model.named_parameters()) == std::vector<std::string>{"encoder.weight", "encoder.bias"});
  const StateDict state = model.state_dict();
  CHECK(state.count("encoder.weight") == 1);
  CHECK(state.count("decoder.weight") == 1);
}

TEST_CASE("find resolves dotted paths and names the available children on failure") {
  TinyResNet model;
  auto block = model.layer1->get<BasicBlock>(1);
  CHECK(&model.find("layer1.1.conv2") == block->conv2.get());
  CHECK(model.find_shared("layer1.1.conv2") == block->conv2);
  CHECK(&model.find("") == &model);
  check_error([&] { model.find("layer1.5.conv1"); }, {"TinyResNet.find", "'5'", "'layer1'", "layer1.5.conv1", "0, 1"});
  check_error([&] { model.find("head"); }, {"'head'", "the root", "conv1, bn1, layer1, layer2, fc"});
  check_error([&] { model.find("fc.weight"); }, {"'weight'", "'fc'", "none"});
}

TEST_CASE("modules print as a PyTorch-like tree") {
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(3, 4), std::make_shared<nn::ReLU>(),
                                              std::make_shared<nn::Linear>(4, 2, nn::LinearOptions{.bias = false}));
  CHECK(seq->str() ==
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=4, out_features=2, bias=False)\n"
        ")");
  BasicBlock block(8, 16, 2);
  CHECK(block.str() ==
        "BasicBlock(\n"
        "  (conv1): Conv2d(8, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)\n"
        "  (bn1): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (conv2): Conv2d(16, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)\n"
        "  (bn2): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  (downsample): Sequential(\n"
        "    (0): Conv2d(8, 16, kernel_size=(1, 1), stride=(2, 2), bias=False)\n"
        "    (1): BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)\n"
        "  )\n"
        ")");
  std::ostringstream os;
  os << nn::LayerNorm(64);
  CHECK(os.str() == "LayerNorm((64,), eps=1e-05, elementwise_affine=True)");
  CHECK(nn::BatchNorm1d(4, {.momentum = std::nullopt}).str() ==
        "BatchNorm1d(4, eps=1e-05, momentum=None, affine=True, track_running_stats=True)");
  CHECK(nn::Dropout(0.25).str() == "Dropout(p=0.25, inplace=False)");
  CHECK(nn::GELU(GeluApproximation::tanh).str() == "GELU(approximate='tanh')");
  CHECK(nn::Embedding(10, 3, {.padding_idx = -1}).str() == "Embedding(10, 3, padding_idx=9)");
  CHECK(nn::MultiheadAttention(8, 2).type_name() == "MultiheadAttention");
}

// ---------------------------------------------------------------------------------------------------------
// modes and bulk operations

TEST_CASE("train and eval reach every descendant and apply visits children before the parent") {
  TinyResNet model;
  CHECK(model.is_training());
  model.eval();
  for (const auto& module : model.modules()) CHECK_FALSE(module->is_training());
  model.train();
  for (const auto& module : model.modules()) CHECK(module->is_training());

  std::vector<std::string> visited;
  auto seq = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(2, 2),
                                              std::make_shared<nn::Sequential>(std::make_shared<nn::ReLU>()));
  seq->apply([&](nn::Module& m) { visited.push_back(m.type_name()); });
  CHECK(visited == std::vector<std::string>{"Linear", "ReLU", "Sequential", "Sequential"});
}

TEST_CASE("zero_grad drops every parameter gradient") {
  nn::Linear layer(3, 2);
  sum(layer(ones({4, 3}))).backward();
  CHECK(layer.weight.grad().defined());
  CHECK(layer.bias.grad().defined());
  layer.zero_grad();
  CHECK_FALSE(layer.weight.grad().defined());
  CHECK_FALSE(layer.bias.grad().defined());
}

TEST_CASE("to f64 converts in place so every handle stays valid and integer buffers stay i64") {
  manual_seed(3);
  TinyResNet model;
  const Tensor weight_handle = model.fc->weight;             // a layer's member
  const std::vector<Tensor> params = model.parameters();     // what an optimizer would hold
  const std::vector<double> before = weight_handle.to_vector();
  const Tensor x = randn({2, 3, 8, 8});
  sum(model(x)).backward();
  const std::vector<double> grad_before = model.fc->weight.grad().to_vector();

  model.to(DType::f64);
  CHECK(weight_handle.dtype() == DType::f64);
  CHECK(weight_handle.impl() == model.fc->weight.impl());
  CHECK(weight_handle.to_vector() == before);  // f32 -> f64 is exact
  for (const Tensor& p : params) CHECK(p.dtype() == DType::f64);
  CHECK(model.fc->weight.grad().dtype() == DType::f64);
  CHECK(model.fc->weight.grad().to_vector() == grad_before);
  CHECK(model.bn1->num_batches_tracked.dtype() == DType::i64);
  CHECK(model.bn1->num_batches_tracked.item() == 1);
  CHECK(model.bn1->running_var.dtype() == DType::f64);
  CHECK(model(x.to(DType::f64)).dtype() == DType::f64);
  CHECK(weight_handle.requires_grad());
  CHECK(weight_handle.is_leaf());

  model.to(DType::f32);
  CHECK(weight_handle.dtype() == DType::f32);
  CHECK(weight_handle.to_vector() == before);
  check_error([&] { model.to(DType::i64); }, {"TinyResNet.to", "i64"});
}

TEST_CASE("to keeps tensors that share storage sharing it") {
  Bare m;
  Tensor base = zeros({2, 3});
  m.register_parameter("whole", base);
  Tensor row = m.register_parameter("row", base.detach().select(0, 1));
  m.to(DType::f64);
  CHECK(row.dtype() == DType::f64);
  CHECK(row.storage() == m.parameters()[0].storage());
  {
    NoGrad no_grad;
    row.fill_(5.0);
  }
  check_close(m.parameters()[0], {0, 0, 0, 5, 5, 5});
}

TEST_CASE("to a device moves in place on the CPU and fails cleanly without a backend") {
  nn::Linear layer(3, 2);
  const Tensor weight = layer.weight;
  const std::vector<double> values = weight.to_vector();
  layer.to(Device::cpu());
  CHECK(weight.device() == Device::cpu());
  CHECK(weight.to_vector() == values);
  if (!cuda_available()) {
    check_error([&] { layer.to(Device::cuda()); }, {"Linear.to(cuda:0)", "cuda"});
    // Nothing moved: the layer still works on the CPU.
    CHECK(weight.device() == Device::cpu());
    CHECK(layer(ones({1, 3})).shape() == Shape{1, 2});
  }
}

// ---------------------------------------------------------------------------------------------------------
// state dict

TEST_CASE("a state dict loaded into a fresh model reproduces its outputs exactly") {
  manual_seed(11);
  TinyResNet source;
  // Move the running statistics away from their initial values.
  for (int step = 0; step < 3; ++step) source(randn({4, 3, 8, 8}));
  CHECK(source.bn1->num_batches_tracked.item() == 3);
  manual_seed(12);
  TinyResNet fresh;
  const Tensor x = randn({2, 3, 8, 8});
  source.eval();
  fresh.eval();
  CHECK_FALSE(same_values(source(x), fresh(x)));

  const Tensor fresh_weight = fresh.fc->weight;
  const nn::LoadResult result = fresh.load_state_dict(source.state_dict());
  CHECK(result.missing_keys.empty());
  CHECK(result.unexpected_keys.empty());
  CHECK(same_values(source(x), fresh(x)));
  CHECK(fresh.bn1->num_batches_tracked.item() == 3);
  CHECK(fresh_weight.impl() == fresh.fc->weight.impl());  // loaded in place
  CHECK(fresh_weight.requires_grad());
}

TEST_CASE("strict load_state_dict names every missing and unexpected key and loads nothing") {
  nn::Sequential target(std::make_shared<nn::Linear>(3, 2), std::make_shared<nn::BatchNorm1d>(2));
  nn::Sequential source(std::make_shared<nn::Linear>(3, 2), std::make_shared<nn::BatchNorm1d>(2));
  StateDict state = source.state_dict();
  state.erase("0.bias");
  state.erase("1.running_var");
  state["2.weight"] = zeros({1});
  const std::vector<double> before = target[0]->parameters()[0].to_vector();
  check_error([&] { target.load_state_dict(state); },
              {"Sequential.load_state_dict", "missing keys: 0.bias, 1.running_var", "unexpected keys: 2.weight"});
  CHECK(target[0]->parameters()[0].to_vector() == before);

  const nn::LoadResult result = target.load_state_dict(state, false);
  CHECK(result.missing_keys == std::vector<std::string>{"0.bias", "1.running_var"});
  CHECK(result.unexpected_keys == std::vector<std::string>{"2.weight"});
  CHECK(target[0]->parameters()[0].to_vector() == source[0]->parameters()[0].to_vector());
}

TEST_CASE("load_state_dict always refuses a shape mismatch naming the key and both shapes") {
  nn::Linear target(3, 2);
  StateDict state = nn::Linear(3, 2).state_dict();
  state["weight"] = zeros({2, 4});
  check_error([&] { target.load_state_dict(state, false); }, {"Linear.load_state_dict", "'weight'", "[2, 4]", "[2, 3]"});
  check_error([&] { target.load_state_dict(state, true); }, {"'weight'", "[2, 4]", "[2, 3]"});
}

TEST_CASE("load_state_dict converts dtypes and leaves gradients untouched") {
  nn::Linear target(2, 2);
  StateDict state;
  state["weight"] = Tensor::from_vector({1, 2, 3, 4}, {2, 2}, {.dtype = DType::f64});
  state["bias"] = Tensor::from_vector({-1, 1}, {2}, {.dtype = DType::f64});
  target.load_state_dict(state);
  CHECK(target.weight.dtype() == DType::f32);
  check_close(target.weight, {1, 2, 3, 4});
  check_close(target(Tensor::from_vector({1, 1}, {1, 2})), {1 + 2 - 1, 3 + 4 + 1});
}

// ---------------------------------------------------------------------------------------------------------
// forward and hooks

TEST_CASE("forward hooks run in registration order and may replace the output") {
  auto scale = std::make_shared<Scale>(2.0);
  std::vector<std::string> log;
  scale->register_forward_hook([&](const Tensor& out) {
    log.push_back("first");
    return mul(out, 10.0);
  });
  scale->register_forward_hook([&](nn::Module& m, const std::vector<Tensor>& inputs, const Tensor& out) {
    log.push_back("second " + m.type_name());
    CHECK(inputs.size() == 1);
    check_close(out, {20.0});  // sees the first hook's replacement
    return Tensor();           // keep
  });
  scale->register_forward_hook([&](const Tensor&) { log.push_back("observer"); });  // returns nothing
  check_close((*scale)(ones({1})), {20.0});
  CHECK(log == std::vector<std::string>{"first", "second Scale", "observer"});
  CHECK(scale->num_hooks() == 3);
  // forward itself skips hooks, as in PyTorch.
  check_close(scale->forward(ones({1})), {2.0});
}

TEST_CASE("hooks are accepted as std::function objects of either form") {
  auto scale = std::make_shared<Scale>(3.0);
  const std::function<Tensor(const Tensor&)> output_only = [](const Tensor& out) { return add(out, 1.0); };
  const std::function<Tensor(nn::Module&, const std::vector<Tensor>&, const Tensor&)> full =
      [](nn::Module&, const std::vector<Tensor>& inputs, const Tensor& out) { return add(out, inputs[0]); };
  const std::function<std::vector<Tensor>(nn::Module&, const std::vector<Tensor>&)> pre =
      [](nn::Module&, const std::vector<Tensor>& inputs) { return std::vector<Tensor>{mul(inputs[0], 2.0)}; };
  scale->register_forward_pre_hook("", pre);
  scale->register_forward_hook("", output_only);
  scale->register_forward_hook("", full);
  // x = 1 -> pre-hook 2 -> forward 6 -> +1 = 7 -> + the (replaced) input 2 = 9
  check_close((*scale)(ones({1})), {9.0});
}

TEST_CASE("forward pre-hooks may replace the inputs or keep them") {
  auto adder = std::make_shared<Add>();
  std::vector<int> order;
  adder->register_forward_pre_hook([&](nn::Module&, const std::vector<Tensor>& inputs) {
    order.push_back(1);
    return std::vector<Tensor>{inputs[0], mul(inputs[1], 3.0)};
  });
  adder->register_forward_pre_hook([&](const std::vector<Tensor>& inputs) {
    order.push_back(2);
    check_close(inputs[1], {6.0});
    return std::vector<Tensor>{};  // keep
  });
  std::vector<Tensor> seen_by_hook;
  adder->register_forward_hook([&](nn::Module&, const std::vector<Tensor>& inputs, const Tensor& out) {
    seen_by_hook = inputs;
    return out;
  });
  check_close((*adder)(std::vector<Tensor>{ones({1}), full({1}, 2.0)}), {7.0});
  CHECK(order == std::vector<int>{1, 2});
  REQUIRE(seen_by_hook.size() == 2);
  check_close(seen_by_hook[1], {6.0});
}

TEST_CASE("hooks registered by path on nested children fire when the parent is called") {
  manual_seed(5);
  TinyResNet model;
  model.eval();
  std::vector<Tensor> features;
  // The architecture sketch's usage.
  auto hook = model.register_forward_hook("layer2", [&](const Tensor& out) {
    features.push_back(out.detach());
    return out;
  });
  std::vector<std::string> fired;
  model.register_forward_hook("layer1.0.conv1", [&](nn::Module& m, const std::vector<Tensor>&, const Tensor&) {
    fired.push_back(m.type_name());
  });
  const Tensor x = randn({2, 3, 8, 8});
  model(x);
  REQUIRE(features.size() == 1);
  CHECK(features[0].shape() == Shape{2, 16, 4, 4});
  CHECK(fired == std::vector<std::string>{"Conv2d"});
  CHECK(model.layer2->num_hooks(false) == 1);
  CHECK(model.num_hooks(false) == 0);
  CHECK(model.num_hooks() == 2);
  check_error([&] { model.register_forward_hook("layer3", [](const Tensor& out) { return out; }); },
              {"register_forward_hook", "'layer3'"});
}

TEST_CASE("a hook replacing a child's output changes the parent's output") {
  manual_seed(6);
  TinyResNet model;
  model.eval();
  const Tensor x = randn({2, 3, 8, 8});
  // Zeroing layer2's output leaves only fc's bias: every row of logits equals fc.bias.
  auto handle = model.register_forward_hook("layer2", [](const Tensor& out) { return zeros_like(out); });
  const Tensor logits = model(x);
  const std::vector<double> bias = model.fc->bias.to_vector();
  std::vector<double> expected = bias;
  expected.insert(expected.end(), bias.begin(), bias.end());
  check_close(logits, expected, 1e-6);
  handle.remove();
  CHECK_FALSE(same_values(model(x), logits));
}

TEST_CASE("hook handles remove idempotently and safely after the module died") {
  auto scale = std::make_shared<Scale>(1.0);
  int calls = 0;
  nn::HookHandle handle = scale->register_forward_hook([&](const Tensor&) { ++calls; });
  (*scale)(ones({1}));
  CHECK(calls == 1);
  CHECK(handle.active());
  handle.remove();
  handle.remove();
  CHECK_FALSE(handle.active());
  (*scale)(ones({1}));
  CHECK(calls == 1);
  CHECK(scale->num_hooks() == 0);

  // Dropping a handle leaves its hook registered, as PyTorch.
  { nn::HookHandle dropped = scale->register_forward_hook([&](const Tensor&) { ++calls; }); }
  (*scale)(ones({1}));
  CHECK(calls == 2);

  nn::HookHandle orphan = scale->register_forward_pre_hook([](const std::vector<Tensor>&) {});
  scale.reset();
  CHECK_FALSE(orphan.active());
  orphan.remove();  // the module is gone: a harmless no-op
}

TEST_CASE("hooks added or removed while hooks run do not break the iteration") {
  auto scale = std::make_shared<Scale>(1.0);
  std::vector<std::string> log;
  nn::HookHandle second;
  nn::HookHandle first = scale->register_forward_hook([&](const Tensor&) {
    log.push_back("first");
    second.remove();  // a later hook removed mid-call: skipped from now on
    first.remove();   // removing itself
    scale->register_forward_hook([&](const Tensor&) { log.push_back("added"); });  // runs from the next call
  });
  second = scale->register_forward_hook([&](const Tensor&) { log.push_back("second"); });
  scale->register_forward_hook([&](const Tensor&) { log.push_back("third"); });
  (*scale)(ones({1}));
  CHECK(log == std::vector<std::string>{"first", "third"});
  log.clear();
  (*scale)(ones({1}));
  CHECK(log == std::vector<std::string>{"third", "added"});
}

TEST_CASE("hooks work on a module that is not held by a shared_ptr") {
  nn::Linear layer(2, 2);
  int calls = 0;
  nn::HookHandle handle = layer.register_forward_hook([&](const Tensor&) { ++calls; });
  layer(ones({1, 2}));
  handle.remove();
  layer(ones({1, 2}));
  CHECK(calls == 1);
  CHECK(layer.named_modules().size() == 1);
  CHECK(layer.find_shared("").get() == &layer);
}

TEST_CASE("the default forwards report a missing forward and a wrong input count") {
  auto none = std::make_shared<NoForward>();
  check_error([&] { (*none)(ones({1})); }, {"NoForward: forward is not implemented"});
  check_error([&] { (*none)(std::vector<Tensor>{ones({1}), ones({1})}); }, {"NoForward", "one input, got 2"});
  nn::Linear layer(2, 2);
  check_error([&] { layer(std::vector<Tensor>{ones({1, 2}), ones({1, 2})}); }, {"Linear: forward takes one input, got 2"});
  check_close(layer(std::vector<Tensor>{zeros({1, 2})}), layer.bias.to_vector());  // a one-element list is fine
  Add adder;
  check_error([&] { adder(ones({1})); }, {"Add: needs two inputs"});
  check_error([&] { nn::ModuleList()(ones({1})); }, {"ModuleList: forward is not implemented"});
}
