// The recipe reader: typed values, origins in every error, unknown keys, overrides, the resolved tree.
#include <doctest/doctest.h>

#include "gradcheck.h"
#include "training/config_tree.h"

using namespace vireo;
using namespace vireo::training;
using vireo::testing::check_error;

namespace {
ConfigTree parse(const std::string& text) { return ConfigTree::parse(text, "recipe.yaml"); }
}  // namespace

TEST_CASE("config: typed values with defaults and the resolved tree") {
  auto tree = parse("optimizer:\n  lr: 1e-4\n  epochs: 1_000\n  nesterov: true\n  betas: [0.9, 0.999]\n"
                    "  name: sgd\n  milestones: [100, 2e2]\n");
  ConfigTree resolved;
  auto optimizer = ConfigSection::root(tree, resolved).section("optimizer");
  CHECK(optimizer.get("lr", 0.1) == 1e-4);  // 1e-4 is a number, not text
  CHECK(optimizer.get("epochs", int64_t{1}) == 1000);
  CHECK(optimizer.get("nesterov", false) == true);
  CHECK(optimizer.get("momentum", 0.9) == 0.9);  // absent: the default
  CHECK(optimizer.get("betas", std::vector<double>{}) == std::vector<double>{0.9, 0.999});
  CHECK(optimizer.get("milestones", std::vector<int64_t>{}) == std::vector<int64_t>{100, 200});
  CHECK(optimizer.choice("name", "adam", {"sgd", "adam"}) == "sgd");
  const std::string yaml = resolved.to_yaml();
  CHECK(yaml.find("lr: 0.0001") != std::string::npos);
  CHECK(yaml.find("momentum: 0.9") != std::string::npos);  // defaults are written out too
  CHECK(yaml.find("epochs: 1000") != std::string::npos);
  // The resolved tree reads back to the same values.
  ConfigTree again = ConfigTree::parse(yaml, "resolved.yaml");
  ConfigTree unused;
  auto reread = ConfigSection::root(again, unused).section("optimizer");
  CHECK(reread.get("lr", 0.0) == 1e-4);
  CHECK(reread.get("betas", std::vector<double>{}) == std::vector<double>{0.9, 0.999});
}

TEST_CASE("config: a quoted number stays text and reads back quoted") {
  auto tree = parse("run:\n  name: \"007\"\n");
  ConfigTree resolved;
  CHECK(ConfigSection::root(tree, resolved).section("run").get("name", "") == "007");
  CHECK(resolved.to_yaml().find("name: \"007\"") != std::string::npos);
}

TEST_CASE("config: wrong types name the file line and key") {
  auto tree = parse("model:\n  name: resnet18\n  width: wide\n  pretrained: maybe\n  layers: [1, x]\n");
  ConfigTree resolved;
  auto model = ConfigSection::root(tree, resolved).section("model");
  check_error([&] { model.get("width", 1.0); }, {"recipe.yaml:3", "model.width", "expected a number", "'wide'"});
  check_error([&] { model.get("pretrained", false); }, {"recipe.yaml:4", "model.pretrained", "true or false"});
  check_error([&] { model.get("layers", std::vector<int64_t>{}); }, {"recipe.yaml:5", "model.layers", "'x'"});
  check_error([&] { model.choice("name", "vit", {"vit", "unet"}); }, {"recipe.yaml:2", "model.name", "vit, unet"});
  check_error([&] { model.require_number("depth"); }, {"model.depth", "required"});
  check_error([&] { model.get("name", int64_t{0}); }, {"recipe.yaml:2", "whole number"});
}

TEST_CASE("config: unknown keys are refused with a suggestion") {
  auto tree = parse("optimizer:\n  lr: 0.1\n  momentun: 0.9\n");
  ConfigTree resolved;
  auto root = ConfigSection::root(tree, resolved);
  auto optimizer = root.section("optimizer");
  optimizer.get("lr", 0.1);
  optimizer.get("momentum", 0.0);
  check_error([&] { root.check_all_used(); },
              {"recipe.yaml:3", "unknown key optimizer.momentun", "did you mean momentum"});

  auto sections = parse("optimzer:\n  lr: 0.1\n");
  ConfigTree resolved2;
  auto root2 = ConfigSection::root(sections, resolved2);
  root2.section("optimizer");
  check_error([&] { root2.check_all_used(); }, {"recipe.yaml:1", "unknown key optimzer", "did you mean optimizer"});
}

TEST_CASE("config: every key read passes the unknown-key check") {
  auto tree = parse("data:\n  views:\n    - {crop: 28, flip: true}\n    - {crop: 20}\n");
  ConfigTree resolved;
  auto root = ConfigSection::root(tree, resolved);
  auto views = root.section("data").section_list("views");
  REQUIRE(views.size() == 2);
  CHECK(views[0].get("crop", int64_t{0}) == 28);
  CHECK(views[0].get("flip", false));
  CHECK(views[1].get("crop", int64_t{0}) == 20);
  CHECK_NOTHROW(root.check_all_used());
  CHECK(views[1].path_of("crop") == "data.views.1.crop");
}

TEST_CASE("config: an unread key inside a list of sections is refused") {
  auto tree = parse("views:\n  - crop: 28\n    flipp: true\n");
  ConfigTree resolved;
  auto root = ConfigSection::root(tree, resolved);
  auto views = root.section_list("views");
  views[0].get("crop", int64_t{0});
  views[0].get("flip", false);
  check_error([&] { root.check_all_used(); }, {"recipe.yaml:3", "views.0.flipp", "did you mean flip"});
}

TEST_CASE("config: command line overrides replace and create values") {
  auto tree = parse("optimizer:\n  lr: 0.1\nviews:\n  - crop: 28\n");
  tree.apply_override("optimizer.lr=0.5");
  tree.apply_override("run.dir=/tmp/run");
  tree.apply_override("views.0.crop=20");
  tree.apply_override("optimizer.betas=[0.5, 0.9]");
  ConfigTree resolved;
  auto root = ConfigSection::root(tree, resolved);
  CHECK(root.section("optimizer").get("lr", 0.0) == 0.5);
  CHECK(root.section("optimizer").get("betas", std::vector<double>{}) == std::vector<double>{0.5, 0.9});
  CHECK(root.section("run").get("dir", "") == "/tmp/run");
  CHECK(root.section_list("views")[0].get("crop", int64_t{0}) == 20);
  // An overridden value that is wrong names the override, not a file line.
  tree.apply_override("optimizer.momentum=fast");
  ConfigTree resolved2;
  check_error([&] { ConfigSection::root(tree, resolved2).section("optimizer").get("momentum", 0.9); },
              {"command line (optimizer.momentum=fast)", "optimizer.momentum", "expected a number"});
}

TEST_CASE("config: malformed overrides are refused") {
  auto tree = parse("optimizer:\n  lr: 0.1\nviews:\n  - crop: 28\n");
  check_error([&] { tree.apply_override("optimizer.lr"); }, {"optimizer.lr", "key.path=value"});
  check_error([&] { tree.apply_override("optimizer..lr=1"); }, {"empty key"});
  check_error([&] { tree.apply_override("optimizer.lr.x=1"); }, {"cannot set 'x'", "recipe.yaml:2"});
  check_error([&] { tree.apply_override("views.3.crop=1"); }, {"'3' is not an index", "1 items"});
}

TEST_CASE("config: broken YAML and duplicate keys name the file and line") {
  check_error([] { parse("model:\n  name: [resnet\n"); }, {"recipe.yaml:", "not valid YAML"});
  check_error([] { parse("lr: 0.1\nlr: 0.2\n"); }, {"recipe.yaml:2", "'lr' appears twice", "recipe.yaml:1"});
  check_error([] { parse("- a\n- b\n"); }, {"recipe.yaml", "must be a map"});
  check_error([] { ConfigTree::load("/nonexistent/recipe.yaml"); }, {"/nonexistent/recipe.yaml", "cannot read"});
  CHECK_NOTHROW(parse(""));  // an empty recipe is valid: every value takes its default
}
