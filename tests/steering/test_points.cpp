// Steering points: selection by exact path and by regular expression (with the error that lists nearby
// paths), pooling of token, map and vector outputs by hand, response collection over batches (detached,
// hooks removed afterwards) and the model order of points.
#include "steering/points.h"

#include "steering_test_models.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_close;
using vireo::testing::check_error;

TEST_CASE("select_points finds ViT MLP layers by regular expression and by exact path") {
  auto model = vireo::testing::tiny_vit(0);
  CHECK(select_points(*model, R"(blocks\.\d+\.mlp\.fc1)") ==
        std::vector<std::string>{"blocks.0.mlp.fc1", "blocks.1.mlp.fc1"});
  CHECK(select_points(*model, "blocks.1.mlp.fc2") == std::vector<std::string>{"blocks.1.mlp.fc2"});
  // Several patterns: model order, each path once.
  CHECK(select_points(*model, std::vector<std::string>{R"(blocks\.1\.mlp\.fc.)", R"(blocks\.\d\.mlp\.fc2)"}) ==
        std::vector<std::string>{"blocks.0.mlp.fc2", "blocks.1.mlp.fc1", "blocks.1.mlp.fc2"});
}

TEST_CASE("select_points names the pattern and nearby paths when nothing matches") {
  auto model = vireo::testing::tiny_vit(0);
  check_error([&] { select_points(*model, R"(blocks\.\d+\.mlp\.fc3)"); },
              {"fc3", "no module path matches", "nearby paths: blocks.0.mlp.fc1"});
  check_error([&] { select_points(*model, "blocks.(("); }, {"blocks.((", "not a valid regular expression"});
}

TEST_CASE("pool_responses pools tokens by mean or max and maps by the spatial mean") {
  // Tokens [1, 3, 2]: unit 0 sees 1, 5, 3; unit 1 sees -2, 0, 8.
  Tensor tokens = Tensor::from_vector({1, -2, 5, 0, 3, 8}, {1, 3, 2});
  check_close(pool_responses(tokens, Pooling::mean, "p"), {3.0, 2.0});
  check_close(pool_responses(tokens, Pooling::max, "p"), {5.0, 8.0});
  // Maps [1, 2, 2, 2]: channel 0 holds 1..4, channel 1 holds 10, 10, 10, 30; pooling choice ignored.
  Tensor maps = Tensor::from_vector({1, 2, 3, 4, 10, 10, 10, 30}, {1, 2, 2, 2});
  check_close(pool_responses(maps, Pooling::max, "p"), {2.5, 15.0});
  Tensor vectors = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  check_close(pool_responses(vectors, Pooling::max, "p"), {1, 2, 3, 4});
  check_error([] { pool_responses(zeros({1, 1, 1, 1, 1}), Pooling::mean, "mid.norm"); },
              {"mid.norm", "[1, 1, 1, 1, 1]"});
}

TEST_CASE("collect_responses appends batches detached and leaves no hook behind") {
  auto model = vireo::testing::tiny_vit(1);
  const Tensor first = vireo::testing::random_normal({2, 3, 8, 8}, 10);
  const Tensor second = vireo::testing::random_normal({3, 3, 8, 8}, 11);
  const auto points = select_points(*model, R"(blocks\.\d+\.mlp\.fc1)");
  const auto responses = collect_responses(*model, points, {first, second}, Pooling::max);
  CHECK(model->num_hooks() == 0);
  CHECK(model->is_training());  // the previous mode is restored
  const Tensor& fc1 = responses.at("blocks.0.mlp.fc1");
  REQUIRE(fc1.shape() == Shape{5, 32});
  CHECK(fc1.dtype() == DType::f64);
  CHECK_FALSE(fc1.requires_grad());
  // The same numbers as pooling the hooked output of each batch by hand, in order.
  std::vector<Tensor> outputs;
  auto hook = model->register_forward_hook("blocks.0.mlp.fc1", [&](const Tensor& out) { outputs.push_back(out); });
  model->eval();
  {
    NoGrad no_grad;
    (*model)(first);
    (*model)(second);
  }
  hook.remove();
  const Tensor expected = cat({amax(outputs[0], {1}), amax(outputs[1], {1})}, 0);
  CHECK(fc1.to_vector() == expected.to(DType::f64).to_vector());
}

TEST_CASE("collect_responses stops each forward pass after the last point") {
  auto model = std::make_shared<nn::Sequential>(std::make_shared<nn::Identity>(), std::make_shared<nn::Identity>(),
                                                std::make_shared<nn::Identity>());
  int later_calls = 0;
  auto counter = model->register_forward_hook("2", [&](const Tensor&) { ++later_calls; });
  const Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  const auto responses = collect_responses(*model, {"1", "0"}, {x, x}, Pooling::mean);
  CHECK(later_calls == 0);  // module "2" never ran
  CHECK(responses.at("0").to_vector() == std::vector<double>{1, 2, 3, 4, 1, 2, 3, 4});
  CHECK(responses.at("1").shape() == Shape{4, 2});
  CHECK(model->num_hooks() == 1);  // only the counter is left
  NoGrad no_grad;
  CHECK((*model)(x).to_vector() == x.to_vector());  // the model runs whole again
  CHECK(later_calls == 1);
  counter.remove();
}

namespace {

// Registers "late" before "early" but calls "early" first: model order is not registration order.
class ReversedRegistration : public nn::Module {
 public:
  ReversedRegistration() {
    late = register_module("late", std::make_shared<nn::Identity>());
    early = register_module("early", std::make_shared<nn::Identity>());
  }
  using nn::Module::forward;
  Tensor forward(const Tensor& x) override { return (*late)((*early)(x)); }
  std::shared_ptr<nn::Identity> late, early;
};

}  // namespace

TEST_CASE("points_in_model_order follows the forward pass and rejects points it never reaches") {
  ReversedRegistration model;
  CHECK(select_points(model, "early|late") == std::vector<std::string>{"late", "early"});
  CHECK(points_in_model_order(model, {"late", "early"}, zeros({1, 2})) == std::vector<std::string>{"early", "late"});
  model.register_module("spare", std::make_shared<nn::Identity>());  // registered, never called
  check_error([&] { points_in_model_order(model, {"early", "spare"}, zeros({1, 2})); }, {"spare", "never reached"});
}
