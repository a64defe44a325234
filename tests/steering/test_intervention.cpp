// Interventions: the per-unit affine edit by hand on tokens, vectors and maps (both spatial forms, with and
// without a support), λ = 0 bit-identical on a ViT, composition in attachment order with two
// non-commuting edits, detach restoring the model bit for bit, unit-count errors, and the safetensors file
// (round trip, a corrupt file, a foreign file).
#include "steering/intervention.h"

#include <filesystem>
#include <fstream>

#include "engine/test_safetensors_helpers.h"
#include "steering/aura.h"
#include "steering_test_models.h"

using namespace vireo;
using namespace vireo::steering;
using vireo::testing::check_close;
using vireo::testing::check_error;
using vireo::testing::identical;

namespace {

Intervention single_point(const std::string& point, std::vector<double> scale, std::vector<double> shift,
                          SpatialForm form = SpatialForm::per_position) {
  Intervention intervention;
  intervention.method = "test";
  intervention.spatial_form = form;
  const int64_t units = static_cast<int64_t>(scale.size());
  intervention.add(point, UnitMap{Tensor::from_vector(scale, {units}), Tensor::from_vector(shift, {units})});
  return intervention;
}

Tensor run(nn::Module& model, const Tensor& x) {
  NoGrad no_grad;
  return model(x);
}

}  // namespace

TEST_CASE("an attached map moves tokens the fraction lambda toward a times h plus b") {
  auto model = vireo::testing::passthrough_model();
  // Tokens [1, 2, 2]; unit 0 maps h -> 3h + 1, unit 1 maps h -> h - 4.
  const Tensor tokens = Tensor::from_vector({1, 2, -1, 6}, {1, 2, 2});
  auto attached = attach(*model, single_point("0", {3, 1}, {1, -4}), 0.5);
  // h + 0.5·((a h + b) − h) = h + 0.5·(2h + 1) on unit 0: 1 -> 2.5, -1 -> -1.5; h - 2 on unit 1.
  check_close(run(*model, tokens), {2.5, 0.0, -1.5, 4.0});
  attached.detach();
  CHECK(identical(run(*model, tokens), tokens));
}

TEST_CASE("maps are edited per position or by shifting the channel mean") {
  auto model = vireo::testing::passthrough_model();
  // [1, 2, 1, 2]: channel 0 holds 1, 3 (mean 2); channel 1 holds 0, 4 (mean 2).
  const Tensor maps = Tensor::from_vector({1, 3, 0, 4}, {1, 2, 1, 2});
  {
    auto attached = attach(*model, single_point("0", {2, 0.5}, {0, 1}), 1.0);
    check_close(run(*model, maps), {2, 6, 1, 3});  // every position: 2h, then 0.5h + 1
    attached.detach();
  }
  {
    auto attached = attach(*model, single_point("0", {2, 0.5}, {0, 1}, SpatialForm::mean_shift), 1.0);
    // Channel 0: m = 2 -> 4, shift +2; channel 1: m = 2 -> 2, shift 0.
    check_close(run(*model, maps), {3, 5, 0, 4});
    attached.detach();
  }
}

TEST_CASE("a support restricts the edit to elements strictly inside it") {
  auto model = vireo::testing::passthrough_model();
  Intervention intervention = single_point("0", {1}, {10});
  UnitMap map = intervention.at("0");
  map.support_low = Tensor::from_vector({0}, {1});
  map.support_high = Tensor::from_vector({2}, {1});
  intervention.add("0", map);
  auto attached = attach(*model, intervention, 1.0);
  check_close(run(*model, Tensor::from_vector({-1, 0, 1, 1.5, 2, 3}, {6, 1})), {-1, 0, 11, 11.5, 2, 3});
}

TEST_CASE("strength 0 leaves a ViT's outputs bit-identical") {
  auto model = vireo::testing::tiny_vit(3);
  model->eval();
  const Tensor images = vireo::testing::random_normal({4, 3, 8, 8}, 4);
  const Tensor clean = run(*model, images);
  Intervention intervention;
  intervention.method = "test";
  for (const std::string& point : select_points(*model, R"(blocks\.\d+\.mlp\.fc[12])")) {
    const int64_t units = model->find(point).named_parameters().front().second.size(0);
    intervention.add(point, UnitMap{vireo::testing::random_normal({units}, 5), vireo::testing::random_normal({units}, 6)});
  }
  auto attached = attach(*model, intervention, 0.0);
  CHECK(identical(run(*model, images), clean));
  auto strong = attach(*model, intervention, 0.3);
  CHECK_FALSE(identical(run(*model, images), clean));
  strong.detach();
  CHECK(identical(run(*model, images), clean));
}

TEST_CASE("interventions compose in attachment order") {
  auto model = vireo::testing::passthrough_model();
  const Tensor x = Tensor::from_vector({1, 5}, {2, 1});
  const Intervention doubling = single_point("0", {2}, {0});  // h -> 2h
  const Intervention plus_one = single_point("0", {1}, {1});  // h -> h + 1
  {
    auto first = attach(*model, doubling, 1.0);
    auto second = attach(*model, plus_one, 1.0);
    check_close(run(*model, x), {3, 11});  // 2h + 1
    first.detach();
    check_close(run(*model, x), {2, 6});  // the other one stays
    second.detach();
  }
  {
    auto first = attach(*model, plus_one, 1.0);
    auto second = attach(*model, doubling, 1.0);
    check_close(run(*model, x), {4, 12});  // 2(h + 1)
    first.detach();
    second.detach();
  }
  CHECK(model->num_hooks() == 0);
}

TEST_CASE("detach restores a model bit for bit after several interventions") {
  auto model = vireo::testing::tiny_vit(7);
  model->eval();
  const Tensor images = vireo::testing::random_normal({3, 3, 8, 8}, 8);
  const Tensor clean = run(*model, images);
  auto fc1 = attach(*model, single_point("blocks.0.mlp.fc1", std::vector<double>(32, 0.5), std::vector<double>(32, 0.1)), 0.8);
  auto fc2 = attach(*model, single_point("blocks.1.mlp.fc2", std::vector<double>(8, 1.5), std::vector<double>(8, -0.2)), 1.0);
  CHECK(fc1.attached());
  CHECK_FALSE(identical(run(*model, images), clean));
  fc2.detach();
  fc1.detach();
  fc1.detach();  // again: a no-op
  CHECK_FALSE(fc1.attached());
  CHECK(model->num_hooks() == 0);
  CHECK(identical(run(*model, images), clean));
}

TEST_CASE("a map with the wrong unit count fails naming the point and both shapes") {
  auto model = vireo::testing::tiny_vit(0);
  auto attached = attach(*model, single_point("blocks.0.mlp.fc1", {1, 1, 1}, {0, 0, 0}), 1.0);
  check_error([&] { run(*model, zeros({1, 3, 8, 8})); }, {"blocks.0.mlp.fc1", "[1, 5, 32]", "[3]"});
  attached.detach();
  check_error([&] { attach(*model, single_point("blocks.9.mlp", {1}, {0}), 1.0); }, {"blocks.9"});
}

TEST_CASE("an intervention survives a safetensors round trip with its metadata") {
  vireo::testing::ScratchDirectory scratch;
  Intervention intervention = single_point("blocks.0.mlp.fc1", {0.5, 1, 0.25}, {0, 0.5, -1}, SpatialForm::mean_shift);
  intervention.method = "act-linear";
  intervention.settings = {{"estimation", "incremental"}, {"support", "source_range"}};
  intervention.add("blocks.1.mlp.fc2", UnitMap{Tensor::from_vector({2, 3}, {2}), Tensor::from_vector({1, 1}, {2}),
                                               Tensor::from_vector({-1, -2}, {2}), Tensor::from_vector({4, 5}, {2})});
  const std::string path = scratch.file("shirt_to_tshirt.safetensors");
  intervention.save(path);
  const Intervention loaded = Intervention::load(path);
  CHECK(loaded.method == "act-linear");
  CHECK(loaded.settings == intervention.settings);
  CHECK(loaded.spatial_form == SpatialForm::mean_shift);
  REQUIRE(loaded.points.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    const auto& [name, map] = intervention.points[i];
    CHECK(loaded.points[i].first == name);
    const UnitMap& read = loaded.points[i].second;
    CHECK(identical(read.scale, map.scale));
    CHECK(identical(read.shift, map.shift));
    CHECK(read.has_support() == map.has_support());
    if (map.has_support()) {
      CHECK(identical(read.support_low, map.support_low));
      CHECK(identical(read.support_high, map.support_high));
    }
  }
  CHECK(scratch.entries() == std::vector<std::string>{"shirt_to_tshirt.safetensors"});  // no temporary left
}

TEST_CASE("a corrupt or foreign file is refused naming its path") {
  vireo::testing::ScratchDirectory scratch;
  const std::string path = scratch.file("aura.safetensors");
  single_point("0", {0.5}, {0}).save(path);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  check_error([&] { Intervention::load(path); }, {path.c_str()});

  const std::string foreign = scratch.file("weights.safetensors");
  io::save_safetensors(foreign, {{"weight", zeros({2})}});
  check_error([&] { Intervention::load(foreign); }, {foreign.c_str(), "not a Vireo intervention"});

  const std::string incomplete = scratch.file("incomplete.safetensors");
  io::save_safetensors(incomplete, {{"0/scale", ones({2})}},
                       {{"vireo.format", "intervention"}, {"method", "aura"}, {"spatial_form", "per_position"},
                        {"points", R"(["0"])"}, {"settings", "{}"}});
  check_error([&] { Intervention::load(incomplete); }, {incomplete.c_str(), "0/shift"});
}
